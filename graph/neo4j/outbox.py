"""Search-index outbox on Neo4j (`:IndexTask`, migrations/neo4j/0002_index_outbox.cypher).

Writes enqueue their tasks in their own transaction (`writes.py`, ENQUEUE); the statements
here serve `GraphStore.claim_index_tasks` and friends.
Concurrent workers may both claim a task (the lease is set after the match): harmless,
because applying a task is idempotent.
"""

from __future__ import annotations

from typing import Any

from ..outbox import NO_HISTORY, IndexTask, new_token, now_us


def task_params() -> dict[str, Any]:
    """The `$task` parameter of one write: a fresh token and the time."""
    return {"token": new_token(), "now": now_us(), "no_history": NO_HISTORY}


CLAIM = """
MATCH (t:IndexTask)
WHERE t.not_before <= $now AND t.claimed_until <= $now AND ($workspace IS NULL OR t.workspace = $workspace)
WITH t ORDER BY t.enqueued_at, t.context_id LIMIT $limit
SET t.claimed_until = $now + $lease
RETURN properties(t) AS props
"""

COMPLETE = """
UNWIND $tasks AS row
MATCH (t:IndexTask {context_id: row.context_id})
WHERE t.token = row.token
DELETE t
RETURN count(*) AS removed
"""

RETRY = """
MATCH (t:IndexTask {context_id: $id})
WHERE t.token = $token
SET t.not_before = $not_before, t.claimed_until = 0, t.attempts = t.attempts + 1, t.last_error = $error
"""

COUNT = """
MATCH (t:IndexTask)
WHERE $workspace IS NULL OR t.workspace = $workspace
RETURN count(t) AS n
"""

SUMMARY = """
MATCH (t:IndexTask)
RETURN count(t) AS n, min(t.enqueued_at) AS oldest
"""

FIELDS = ("context_id", "workspace", "since", "token", "enqueued_at", "not_before", "attempts", "last_error")


def task_record(props: dict[str, Any]) -> IndexTask:
    values: dict[str, Any] = {name: props.get(name) for name in FIELDS}
    return IndexTask(**values)
