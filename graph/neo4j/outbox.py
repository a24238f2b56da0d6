"""Search-index outbox on Neo4j (`:IndexTask`, migrations/neo4j/0002_index_outbox.cypher).

The write statements of cypher.py MERGE their tasks with `enqueue_clause` (same statement,
same transaction); the statements here serve `GraphStore.claim_index_tasks` and friends.
Concurrent workers may both claim a task (the lease is set after the match): harmless,
because applying a task is idempotent.
"""

from __future__ import annotations

from typing import Any

from ..outbox import NO_HISTORY, IndexTask, new_token, now_us


def enqueue_clause(node: str, since: str, var: str = "task") -> str:
    """MERGE the index task of context `node` as `var`; `since` is a Cypher expression. Needs `$task`."""
    return (
        f"MERGE ({var}:IndexTask {{context_id: {node}.id}}) "
        f"ON CREATE SET {var}.workspace = {node}.workspace, {var}.since = {since}, {var}.token = $task.token, "
        f"{var}.enqueued_at = $task.now, {var}.not_before = $task.now, {var}.claimed_until = 0, "
        f"{var}.attempts = 0, {var}.last_error = '' "
        f"ON MATCH SET {var}.since = CASE WHEN {var}.since < {since} THEN {var}.since ELSE {since} END, "
        f"{var}.token = $task.token, {var}.not_before = $task.now, {var}.claimed_until = 0, {var}.attempts = 0"
    )


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

FIELDS = ("context_id", "workspace", "since", "token", "enqueued_at", "not_before", "attempts", "last_error")


def task_record(props: dict[str, Any]) -> IndexTask:
    return IndexTask(**{name: props.get(name) for name in FIELDS})
