"""The change event record."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One committed change, published only after the transaction that made it committed.

    `key` orders events: events with the same key are delivered in publication order.
    `principal` is who made the change; `at` its commit time (µs since the epoch).

    Topics and what their publishers fill in (subscriptions in `schema/subscription.py`
    read exactly these):

    - `context`: operation `created | updated | moved | deleted | reverted`; key = the
      context id; `path`, `kind`, `version`, `changed` (the versioned fields that
      changed); detail `id`, and `fromPath`, `movedCount` (moved), `deletedCount`,
      `recursive` (deleted).
    - `relationship` (resolvers/relationships.py): operation `added | removed`; key =
      `sourceId|type|targetKind:targetId`; detail `sourceId` (a context), `targetKind`
      (`context | tool | agent`), `targetId`, `type`. No paths: subscribers read them live.
    - `execution` (resolvers/executions.py): operation `started | finished`; key = the
      execution id; detail `id`, `tool`, `toolVersion`, `status` (`running | succeeded |
      failed | timed_out`), `contextId`, `outputContextId` (either may be null).
    - `index` (graph/index/sync.py, the outbox worker, after its Qdrant call returned):
      operation `indexed | removed | failed`; key = the context id; principal
      `contextql.index`; `path`, `kind`, `version` = the context as the worker read it
      from the graph (`indexed`: the version now in the index; null for `removed`, and
      for `failed` when the graph could not be read); detail `id`, `attempts` (this
      attempt's number, from 1), and for `failed` `nextRetryAt` (µs since the epoch)
      and `error`.
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
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "ChangeEvent":
        return cls(**json.loads(text))
