"""The change event record."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ContextDetail:
    """`context` topic: operation `created | updated | moved | deleted | reverted`; key = the context id."""

    id: str
    from_path: str | None = None  # moved: the path before
    moved_count: int | None = None  # moved: the context and its descendants
    deleted_count: int | None = None  # deleted
    recursive: bool | None = None  # deleted


@dataclass(frozen=True, slots=True)
class RelationshipDetail:
    """`relationship` topic: operation `added | removed`; key = `sourceId|type|targetKind:targetId`.

    No paths: subscribers read them live."""

    source_id: str  # a context
    target_kind: str  # context | tool | agent
    target_id: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExecutionDetail:
    """`execution` topic: operation `started | finished`; key = the execution id."""

    id: str
    tool: str
    tool_version: str
    status: str  # running | succeeded | failed | timed_out
    context_id: str | None = None
    output_context_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class IndexDetail:
    """`index` topic (the outbox worker, after its Qdrant call returned): operation `indexed |
    removed | failed`; key = the context id; principal `contextql.index`."""

    id: str
    attempts: int = 1  # this attempt's number, from 1
    next_retry_at: int | None = None  # failed: µs since the epoch
    error: str | None = None  # failed


Detail = ContextDetail | RelationshipDetail | ExecutionDetail | IndexDetail

DETAILS: dict[str, type[Detail]] = {
    "context": ContextDetail, "relationship": RelationshipDetail, "execution": ExecutionDetail, "index": IndexDetail,
}


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One committed change, published only after the transaction that made it committed.

    `key` orders events: events with the same key are delivered in publication order.
    `principal` is who made the change; `at` its commit time (µs since the epoch).

    `detail` is the topic's own record (`DETAILS`). `path`, `kind`, `version`: for `context`
    the context after the change (`changed`: the versioned fields it touched); for `index`
    the context as the worker read it from the graph (null for `removed`, and for `failed`
    when the graph could not be read).
    """

    workspace: str
    topic: str
    operation: str
    key: str
    at: int
    principal: str
    path: str | None = None
    kind: str | None = None
    version: int | None = None
    changed: list[str] = field(default_factory=list)
    detail: Detail | None = None

    def __post_init__(self) -> None:
        expected = DETAILS.get(self.topic)
        if expected is not None and not isinstance(self.detail, expected):
            raise TypeError(f"a {self.topic} event carries a {expected.__name__}, not {type(self.detail).__name__}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ChangeEvent:
        fields = json.loads(text)
        detail = fields.pop("detail", None)
        kind = DETAILS.get(fields["topic"])
        return cls(**fields, detail=None if detail is None or kind is None else kind(**detail))
