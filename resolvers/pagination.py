"""Relay-style windows: `first`/`after` become an offset page with the server's caps."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Generic, TypeVar

from graph.errors import BadUserInputError
from graph.records import Page

from .limits import Limits

T = TypeVar("T")
_PREFIX = "offset:"


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_PREFIX) and int(text[len(_PREFIX):]) >= 0:
            return int(text[len(_PREFIX):])
    except (ValueError, UnicodeDecodeError):
        pass
    raise BadUserInputError("Invalid cursor: pass an `endCursor` returned by this API.")


def window(limits: Limits, first: int | None, after: str | None) -> Page:
    """The page asked for; asks the store for one extra row to know whether more follow."""
    size = limits.page_size_default if first is None else first
    if size < 0:
        raise BadUserInputError("`first` must not be negative.")
    if size > limits.page_size_max:
        raise BadUserInputError(
            f"`first` may be at most {limits.page_size_max}; page with `after` for more.",
            limit=limits.page_size_max,
        )
    offset = 0 if after is None else decode_cursor(after) + 1
    return Page(limit=size, offset=offset)


def probe(page: Page) -> Page:
    """The same window plus one row, to learn `hasNextPage` without a count."""
    return Page(limit=page.limit + 1, offset=page.offset)


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of results with what a connection needs to describe it."""

    items: list[T]
    offset: int
    has_next: bool


def cut(rows: list[T], page: Page) -> Slice[T]:
    return Slice(rows[: page.limit], page.offset, len(rows) > page.limit)
