"""Sort keys of the paged reads: what a keyset page seeks past, named once for every layer.

A paged read returns rows in a total order given by a tuple of stored fields (the last
one unique within the read, so no two rows share a position). A page starts strictly
after the position of the last row of the previous page (`Page.after`): rows inserted or
deleted between two requests can neither repeat nor push other rows out of view, which
an offset cannot promise.

The stores compile these keys into ORDER BY and a seek predicate
(`graph.cypher_filters.seek_clause`); the API turns a row's position into an opaque
cursor and back (`resolvers.pagination`), checking every value against `kind` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BadUserInputError
from .filters import Order

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Longest string a position may hold: longer than any stored path, name, title or id.
MAX_KEY_TEXT = 4096

# Context fields stored as integers (the others that can be sorted on are strings).
_INT_CONTEXT_FIELDS = frozenset({"depth", "created_at", "updated_at", "version"})


@dataclass(frozen=True, slots=True)
class Key:
    """One sort key: a stored field, the type of its values and its direction."""

    field: str
    kind: type  # int or str
    descending: bool = False


Keyset = tuple[Key, ...]

CHILDREN: Keyset = (Key("name", str), Key("id", str))
VERSIONS: Keyset = (Key("number", int, descending=True),)
AUDIT: Keyset = (Key("at", int, descending=True), Key("id", str, descending=True))
TOOLS: Keyset = (Key("name", str),)
EXECUTIONS: Keyset = (Key("started_at", int, descending=True), Key("id", str))


def contexts(order: Sequence[Order], tiebreak: str = "path") -> Keyset:
    """Keys of `find_contexts`: `order` (first mention of a field wins), then `tiebreak` ascending.

    The path is unique per workspace, so it makes every position unique.
    """
    keys: list[Key] = []
    seen: set[str] = set()
    for item in (*order, Order(tiebreak)):
        if item.field not in seen:
            seen.add(item.field)
            keys.append(Key(item.field, int if item.field in _INT_CONTEXT_FIELDS else str, item.descending))
    return tuple(keys)


def signature(keys: Keyset) -> str:
    """A short stable name of an order, e.g. `title-,path` (`-` marks descending)."""
    return ",".join(k.field + ("-" if k.descending else "") for k in keys)


def position(row: Any, keys: Keyset) -> tuple[Any, ...]:
    """The key values of a record (read as attributes)."""
    return tuple(getattr(row, k.field) for k in keys)


def check_position(keys: Keyset, values: Sequence[Any]) -> tuple[Any, ...]:
    """`values` as a position in `keys`, or `BadUserInputError`.

    Integers must fit a signed 64-bit integer (what both engines store) and strings must be
    valid Unicode of bounded length, so that no value can fail inside an engine.
    """
    if not isinstance(values, (list, tuple)) or len(values) != len(keys):
        raise BadUserInputError(f"A position in this order has {len(keys)} values.")
    for key, value in zip(keys, values):
        if key.kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or not INT64_MIN <= value <= INT64_MAX:
                raise BadUserInputError(f"Position value of {key.field!r} must be a 64-bit integer.")
        else:
            if not isinstance(value, str) or len(value) > MAX_KEY_TEXT:
                raise BadUserInputError(
                    f"Position value of {key.field!r} must be a string of at most {MAX_KEY_TEXT} characters."
                )
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadUserInputError(f"Position value of {key.field!r} is not valid Unicode.") from None
    return tuple(values)
