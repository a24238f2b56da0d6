"""Operation and status enums: one naming style (SCREAMING_SNAKE_CASE) across history, subscriptions,
executions and the audit log.

The graph and the event bus keep the lower-case words they always stored (`update` in a version,
`updated` in an event, `failed` in an execution): renaming them would need a migration of every store
and of events in flight on Redis. Each enum's *value* is the stored word and its *name* is what
GraphQL shows, so Strawberry maps between them at the schema boundary; the one place where two stored
vocabularies meet (a version's `update` and an event's `updated`) is mapped in `VERSION_OPERATIONS`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import strawberry


@strawberry.enum(description="What happened to a context: in its history and in `contextChanged` events.")
class ContextOperation(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    MOVED = "moved"
    DELETED = "deleted"
    REVERTED = "reverted"


# A version records its operation as `create | update | move | revert` (graph/records.py); a deleted
# context has no history left to read, so DELETED never appears in one.
VERSION_OPERATIONS: dict[str, ContextOperation] = {
    "create": ContextOperation.CREATED,
    "update": ContextOperation.UPDATED,
    "move": ContextOperation.MOVED,
    "revert": ContextOperation.REVERTED,
}


@strawberry.enum(description="What happened to a relationship.")
class RelationshipOperation(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"


@strawberry.enum(description="What the search index did with a context.")
class IndexOperation(enum.Enum):
    INDEXED = "indexed"
    REMOVED = "removed"
    FAILED = "failed"


@strawberry.enum(description="A `toolExecutions` event: the run started or finished.")
class ExecutionOperation(enum.Enum):
    STARTED = "started"
    FINISHED = "finished"


@strawberry.enum(description="Where a tool execution is: RUNNING, then SUCCEEDED, FAILED or TIMED_OUT.")
class ExecutionStatus(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@strawberry.enum(description="How an audited operation ended: OK, FAILED (with its error code) or DENIED.")
class AuditOutcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    DENIED = "denied"


def stored(values: Sequence[enum.Enum] | None) -> list[str] | None:
    """The stored words of a list of enum arguments (None: no filter)."""
    return None if values is None else [v.value for v in values]
