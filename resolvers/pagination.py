"""Relay-style windows: `first`/`after` become a keyset page with the server's caps.

A cursor names a POSITION, not an offset: the sort-key values of one row (`graph.keyset`),
tagged with the connection and the order it was issued for. The next page is read with a
seek predicate past that position, so rows inserted or deleted between two requests are
neither repeated nor skipped, and no cursor can ask an engine to walk past a huge offset.

Wire format: unpadded base64url of compact JSON `{"c": connection, "o": order, "k": [values]}`.
It is opaque to clients; everything in it is checked on the way in (shape, connection, order,
the type of every value, 64-bit integer range, string length), and anything else is
`BAD_USER_INPUT`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from contextql.graph import keyset
from contextql.graph.errors import BadUserInputError
from contextql.graph.filters import Order
from contextql.graph.keyset import Keyset
from contextql.graph.records import Page

from .limits import Limits

T = TypeVar("T")

# A cursor longer than this cannot hold a position of any supported order (values are
# bounded by `keyset.MAX_KEY_TEXT`); refusing it early bounds the decoding work.
MAX_CURSOR_LENGTH = 65_536
_INVALID = "Invalid cursor: pass a `cursor` or `endCursor` returned by this same field."


@dataclass(frozen=True, slots=True)
class Scope:
    """What a cursor belongs to: one kind of connection in one order."""

    connection: str
    keys: Keyset
    # The start of every cursor of this scope, encoded once (see `encode_cursor`).
    _head: str = field(init=False, repr=False, compare=False)
    _tail: bytes = field(init=False, repr=False, compare=False)
    # `keyset.position(row, keys)` for this scope's keys, as one C call per row (run per cursor shown).
    locate: Callable[[Any], tuple[Any, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prefix = f'{{"c":{_ENCODER.encode(self.connection)},"o":{_ENCODER.encode(self.order)},"k":'.encode()
        # Base64 encodes 3 bytes at a time, independently of what follows: the prefix's whole
        # groups are encoded here once, its last 0-2 bytes with each cursor's values.
        whole = len(prefix) - len(prefix) % 3
        object.__setattr__(self, "_head", _b64(prefix[:whole]))
        object.__setattr__(self, "_tail", prefix[whole:])
        names = [key.field for key in self.keys]
        # attrgetter of several names returns their tuple; of one name, the bare value.
        locate = (operator.attrgetter(*names) if len(names) > 1
                  else functools.partial(keyset.position, keys=self.keys))
        object.__setattr__(self, "locate", locate)

    @property
    def order(self) -> str:
        return keyset.signature(self.keys)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# What `_ENCODER` (ensure_ascii=False) writes for a str; raises TypeError for anything else.
_encode_string = json.encoder.encode_basestring
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """Unpadded base64url (`base64.urlsafe_b64encode` without its two Python calls per cursor)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


CHILDREN = Scope("children", keyset.CHILDREN)
HISTORY = Scope("history", keyset.VERSIONS)
AUDIT_LOG = Scope("auditLog", keyset.AUDIT)
TOOLS = Scope("tools", keyset.TOOLS)
EXECUTIONS = Scope("executions", keyset.EXECUTIONS)


def contexts_scope(order: Sequence[Order]) -> Scope:
    """`contexts` in one `orderBy` (then path): a cursor only fits the order it was issued in."""
    return _contexts_scope(tuple(order))


@functools.lru_cache(maxsize=256)
def _contexts_scope(order: tuple[Order, ...]) -> Scope:
    # A scope encodes its cursor prefix when made: once per order, not per request.
    return Scope("contexts", keyset.contexts(order))


def _encode_values(position: tuple[Any, ...]) -> str:
    # Positions are mostly strings (a name and an id): those are encoded with the encoder's own
    # string function, which is what `_ENCODER.encode` does for them, without its per-call set-up.
    try:
        return "[" + ",".join(map(_encode_string, position)) + "]"
    except TypeError:  # a value that is not a str (an int of a descending number, None, ...)
        return _ENCODER.encode(list(position))


def encode_cursor(scope: Scope, position: tuple[Any, ...]) -> str:
    """`{"c": connection, "o": order, "k": [values]}` as compact JSON in unpadded base64url; a page
    encodes one per edge, so the scope's part is encoded once (`Scope._head`)."""
    return scope._head + _b64(scope._tail + (_encode_values(position) + "}").encode())


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are not JSON


def decode_cursor(scope: Scope, cursor: str) -> tuple[Any, ...]:
    """The position a cursor names, checked against `scope`; `BadUserInputError` otherwise."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise BadUserInputError(_INVALID)
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise BadUserInputError(_INVALID) from None
    if not isinstance(payload, dict) or set(payload) != {"c", "o", "k"} or not isinstance(payload["k"], list):
        raise BadUserInputError(_INVALID)
    if payload["c"] != scope.connection:
        raise BadUserInputError(
            f"This cursor belongs to another connection, not to `{scope.connection}`: "
            "pass a cursor returned by this same field."
        )
    if payload["o"] != scope.order:
        raise BadUserInputError(
            "This cursor was issued for another `orderBy`: page with the order the cursor came from, "
            "or start again without `after`."
        )
    try:
        return keyset.check_position(scope.keys, payload["k"])
    except BadUserInputError:
        raise BadUserInputError(_INVALID) from None


def window(limits: Limits, scope: Scope, first: int | None, after: str | None) -> Page:
    """The page asked for: `first` rows (capped) past the position of `after`."""
    size = limits.page_size_default if first is None else first
    if size < 0:
        raise BadUserInputError("`first` must not be negative.")
    if size > limits.page_size_max:
        raise BadUserInputError(
            f"`first` may be at most {limits.page_size_max}; page with `after` for more.",
            limit=limits.page_size_max,
        )
    return Page(limit=size, after=None if after is None else decode_cursor(scope, after))


def probe(page: Page) -> Page:
    """The same window plus one row, to learn `hasNextPage` without a count."""
    return Page(limit=page.limit + 1, after=page.after)


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of results with what a connection needs to describe it: how to find an item's
    position (for its cursor) and whether pages precede or follow."""

    items: list[T]
    # An item's position (its sort-key values): asked only for the cursors a selection shows, so a
    # nested page (`edges { node { ... } }`) computes none.
    locate: Callable[[T], tuple[Any, ...]]
    scope: Scope
    has_next: bool
    has_previous: bool
    end: tuple[Any, ...] | None  # position of the last row read (shown or not): `endCursor`


def cut(
    rows: list[T], page: Page, scope: Scope, position: Callable[[T], tuple[Any, ...]] | None = None,
    *, keep: Callable[[T], bool] | None = None,
) -> Slice[T]:
    """The first `page.limit` rows of a probe read (`probe(page)`).

    `position` gives a row's key values (default: its attributes named by the keys). `keep`
    hides rows after the read (e.g. by permission): the page may then show fewer rows, but
    `endCursor` still names the last row read, so the next page never re-reads or stalls.
    """
    read = rows[: page.limit]
    locate = position or scope.locate
    items = read if keep is None else [row for row in read if keep(row)]
    return Slice(
        items=items,
        locate=locate,
        scope=scope,
        has_next=len(rows) > page.limit,
        has_previous=page.after is not None,
        end=locate(read[-1]) if read else None,
    )
