"""Plain records exchanged between the domain layer and the graph stores."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast


@dataclass(frozen=True, slots=True)
class ContextRecord:
    """The current state of one context.

    Timestamps are integer microseconds since the Unix epoch (UTC) so that both
    engines compare and order them identically.
    """

    id: str
    workspace: str
    path: str
    parent_id: str | None
    kind: str
    title: str
    content: str
    data: dict[str, Any]
    tags: list[str]
    inherit: bool
    version: int
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def depth(self) -> int:
        return self.path.count("/")

    def replace(self, **changes: Any) -> ContextRecord:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """An immutable snapshot of a context, written by every successful change."""

    context_id: str
    workspace: str
    number: int
    operation: str  # create | update | move | revert | import
    path: str
    kind: str
    title: str
    content: str
    data: dict[str, Any]
    tags: list[str]
    inherit: bool
    author: str
    created_at: int
    changed: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.context_id}:{self.number}"


class _StoredJSON(str):
    """A stored JSON document not decoded yet (see `stored_json`)."""

    __slots__ = ()


def stored_json(text: str) -> dict[str, Any]:
    """`data` as stored, decoded the first time the record's `data` is read.

    Most reads never look at `data` (a children page, a nested tree, a filtered list select paths
    and titles), yet decoding it was the largest share of a children page's CPU
    (bench/results/profile-2026-12-01-run3.md). The record still behaves as if it held the dict:
    `data`, equality, repr, `replace` and pickling all see the decoded value."""
    return cast(dict[str, Any], _StoredJSON(text))


class _DecodedOnRead:
    """Replaces the slot of a record's `data` field: hands out the dict, decoding a `stored_json`
    placeholder once (and keeping the result, so every read sees the same dict)."""

    __slots__ = ("slot",)

    def __init__(self, slot: Any) -> None:
        self.slot = slot

    def __get__(self, record: Any, owner: type | None = None) -> Any:
        if record is None:
            return self
        value = self.slot.__get__(record, owner)
        if type(value) is _StoredJSON:
            value = json.loads(value)
            self.slot.__set__(record, value)
        return value

    def __set__(self, record: Any, value: Any) -> None:
        # Only the dataclass's __init__ gets here (via object.__setattr__); the records stay frozen.
        self.slot.__set__(record, value)


for _record_type in (ContextRecord, VersionRecord):
    _record_type.data = _DecodedOnRead(_record_type.__dict__["data"])  # type: ignore[misc,assignment]


CONTEXT_FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(ContextRecord))
# What every projected read fetches whatever the selection: identity and place in the tree (loader
# keys, cursors of the children keyset (name, id), guards, `parent`), a few bytes each.
ALWAYS_FETCHED: frozenset[str] = frozenset({"id", "workspace", "path", "parent_id"})


class UnfetchedFieldError(RuntimeError):
    """A partial record was asked for an attribute its read did not fetch: a bug in the look-ahead
    (schema/lookahead.py) or a partial record used where a complete one is needed. Not an
    AttributeError, so that `getattr(record, name, default)` cannot quietly return the default."""


class PartialContextRecord(ContextRecord):
    """A context with only the attributes one read fetched (a projection of the selection, as
    @neo4j/graphql reads only what a query selects): `content` and `data` are most of a stored
    context, and most reads never show them.

    The attributes not fetched are unset slots, so reading one raises `UnfetchedFieldError`; so do
    equality, hashing, `replace` and `context_props` (they read every field), which keeps a partial
    record out of write paths. It is never primed into the request's loaders by id or path
    (`resolvers.loaders.Loaders.prime` skips it): those hand out complete records."""

    __slots__ = ("fetched",)
    fetched: frozenset[str]

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup failed, i.e. for an unset slot (or a name that does not exist).
        if name in CONTEXT_FIELDS:
            raise UnfetchedFieldError(
                f"{name!r} was not fetched for context {object.__getattribute__(self, 'id')!r} "
                f"(fetched: {', '.join(sorted(self.fetched))})")
        raise AttributeError(name)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self.fetched))
        return f"PartialContextRecord({shown})"


_CONTEXT_SLOTS = {name: ContextRecord.__dict__[name] for name in CONTEXT_FIELDS}
_set_fetched = PartialContextRecord.__dict__["fetched"].__set__


def partial_context_record(values: Mapping[str, Any], fetched: frozenset[str]) -> PartialContextRecord:
    """A record holding `values` (already decoded, keyed by attribute; a missing one is None, as a
    missing property in a Cypher map projection) for the attributes `fetched`."""
    return partial_record_maker(fetched)(values)


@functools.lru_cache(maxsize=256)
def partial_record_maker(fetched: frozenset[str]) -> Callable[[Mapping[str, Any]], PartialContextRecord]:
    """`partial_context_record` for one projection. A read builds dozens of records of one
    projection: its slots are looked up once, not per record."""
    setters = tuple((name, _CONTEXT_SLOTS[name].__set__) for name in sorted(fetched))
    new = object.__new__

    def make(values: Mapping[str, Any]) -> PartialContextRecord:
        record = new(PartialContextRecord)
        for name, set_slot in setters:
            set_slot(record, values.get(name))
        _set_fetched(record, fetched)
        return record

    return make


def is_complete(record: ContextRecord) -> bool:
    return type(record) is not PartialContextRecord


def fetched_fields(record: ContextRecord) -> frozenset[str] | None:
    """The attributes a record holds: None when it is complete."""
    return record.fetched if type(record) is PartialContextRecord else None


@dataclass(frozen=True, slots=True)
class ContextTypeRecord:
    """A named JSON Schema that contexts of that kind must satisfy."""

    workspace: str
    name: str
    schema: dict[str, Any]
    version: int
    created_at: int
    updated_at: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class Page:
    """Keyset window over an ordered result: at most `limit` rows, strictly after the position
    `after` (the sort-key values of a row, see `graph.keyset`), or from the start when None.

    There is no offset: a page never skips rows, so no engine is asked to walk past
    millions of rows, and inserts or deletes between two pages move nothing.
    """

    limit: int
    after: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class TreePlan:
    """What one read fetches below each context it names: a page of children (and how many there
    are), and the same again below each of the first `shown` children of that page."""

    page: Page | None = None
    count: bool = False
    below: TreePlan | None = None
    # How many rows of each page get the level `below` read (None: all). The rows past it are there
    # only to learn that more follow (`hasNextPage`: a page of `first` reads `first + 1` rows), and
    # nothing shows their children: in a nested 10 x 10 read, the 11th child's page of 11 was 11 of
    # the 133 contexts read.
    shown: int | None = None
    # The record attributes (of `ContextRecord`) read of every context this plan returns, at every
    # level; None: all of them. A backend may return complete records anyway; one that projects
    # (both do) returns `PartialContextRecord`s holding at least these and `ALWAYS_FETCHED`.
    fields: frozenset[str] | None = None

    def parents_below(self, pages: Iterable[list[ContextRecord]]) -> list[str]:
        """The ids of the rows of `pages` (this level's) whose own children the level below reads."""
        return [child.id for page in pages for child in page[:self.shown]]


@dataclass(slots=True)
class TreeRead:
    """What a `TreePlan` read: the named contexts by path, each parent's page of children (the
    plan's window of that level; every parent whose page was read has one, possibly empty) and
    each counted parent's number of children."""

    contexts: dict[str, ContextRecord] = field(default_factory=dict)
    children: dict[str, list[ContextRecord]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
