"""Plain records exchanged between the domain layer and the graph stores."""

from __future__ import annotations

import dataclasses
import json
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
    are), and the same again below each child on that page."""

    page: Page | None = None
    count: bool = False
    below: TreePlan | None = None


@dataclass(slots=True)
class TreeRead:
    """What a `TreePlan` read: the named contexts by path, each parent's page of children (the
    plan's window of that level) and each counted parent's number of children."""

    contexts: dict[str, ContextRecord] = field(default_factory=dict)
    children: dict[str, list[ContextRecord]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
