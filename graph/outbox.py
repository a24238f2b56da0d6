"""The search-index outbox: index work recorded in the same transaction as each context write.

Every store write that changes what search should return (create, update, revert, move,
delete, import, workspace removal) also upserts one `IndexTask` per affected context, in the
same graph transaction. Tasks coalesce per context: a later write replaces the token and makes
the task due again, and `since` keeps the oldest version whose history is not yet indexed.
The index worker (graph/index/sync.py) claims due tasks, refreshes the index from the graph
(the truth) and completes them; a task whose token changed meanwhile stays for another round.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

# `since` of a task that adds no version to index (moved descendants, deletions).
NO_HISTORY = 2**62


@dataclass(frozen=True, slots=True)
class IndexTask:
    """Refresh the index entries of one context (the worker reads what to write from the graph)."""

    context_id: str
    workspace: str
    since: int  # oldest version number whose history entry is missing (NO_HISTORY: none)
    token: str  # changes on every enqueue; completion only removes the task it claimed
    enqueued_at: int
    not_before: int = 0
    attempts: int = 0
    last_error: str = ""


def new_token() -> str:
    return uuid.uuid4().hex


def now_us() -> int:
    return time.time_ns() // 1_000
