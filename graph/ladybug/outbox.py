"""Search-index outbox on LadybugDB (table `IndexTask`, migrations/ladybug/0002_index_outbox.cypher).

`enqueue` runs inside the write transaction of the store operation that changed the contexts;
the other functions serve `GraphStore.claim_index_tasks` and friends.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..outbox import IndexTask, new_token, now_us
from .engine import Engine, Tx

TASK_FIELDS = ("context_id", "workspace", "since", "token", "enqueued_at", "not_before", "attempts", "last_error")
T_COLS = ", ".join(f"t.{f}" for f in TASK_FIELDS)

# Coalesce per context: keep the oldest `since`, take the new token, make it due now. A MERGE
# would do this in one statement but costs ~2-6 ms (a hash join per call); refreshing the
# existing tasks by primary key and then creating the missing ones costs ~0.5 ms. The
# caller's transaction is the only writer, so no task can appear in between.
Q_REFRESH = """
UNWIND range(1, $n) AS i
WITH i, $ids[i] AS k
MATCH (t:IndexTask {context_id: k})
SET t.since = CASE WHEN t.since < $since[i] THEN t.since ELSE $since[i] END,
  t.token = $token, t.not_before = $now, t.claimed_until = 0, t.attempts = 0
RETURN t.context_id
"""
# The same for one context (most writes): scalar parameters bind cheaper than one-element lists.
# Only the token and the due time change on every write; `since`, the lease and the attempts
# usually hold what they would be set to, and each column an UPDATE writes costs the engine a
# copy of its 2,048-row vector until the next checkpoint (engine.py): 5 columns grew the buffer
# pool 25.5 MB per 300 writes, 2 columns 10.5 MB. So those three are set only when they differ.
Q_REFRESH_ONE = """
MATCH (t:IndexTask {context_id: $id})
SET t.token = $token, t.not_before = $now
RETURN t.since > $since, t.claimed_until <> 0 OR t.attempts <> 0
"""
Q_REFRESH_SINCE = "MATCH (t:IndexTask {context_id: $id}) SET t.since = $since"
Q_REFRESH_LEASE = "MATCH (t:IndexTask {context_id: $id}) SET t.claimed_until = 0, t.attempts = 0"
Q_CREATE = """
UNWIND range(1, $n) AS i
CREATE (t:IndexTask {context_id: $ids[i], workspace: $ws, since: $since[i], token: $token, enqueued_at: $now,
  not_before: $now, claimed_until: 0, attempts: 0, last_error: ''})
"""

Q_DUE = f"""
MATCH (t:IndexTask)
WHERE t.not_before <= $now AND t.claimed_until <= $now AND ($ws = '' OR t.workspace = $ws)
RETURN {T_COLS} ORDER BY t.enqueued_at, t.context_id LIMIT $limit
"""

Q_LEASE = """
UNWIND $ids AS k
MATCH (t:IndexTask {context_id: k})
SET t.claimed_until = $until
"""

Q_COMPLETE = """
UNWIND range(1, $n) AS i
WITH i, $ids[i] AS k
MATCH (t:IndexTask {context_id: k})
WHERE t.token = $tokens[i]
DELETE t
RETURN count(*)
"""

Q_RETRY = """
MATCH (t:IndexTask {context_id: $id})
WHERE t.token = $token
SET t.not_before = $not_before, t.claimed_until = 0, t.attempts = t.attempts + 1, t.last_error = $error
"""


def enqueue(tx: Tx, workspace: str, items: Sequence[tuple[str, int]], batch: int = 5_000) -> None:
    """Record (context id, since) index tasks in the caller's open transaction."""
    token, now = new_token(), now_us()
    items = list(dict(items).items())
    if len(items) == 1:
        (cid, since), = items
        rows = tx.run(Q_REFRESH_ONE, {"id": cid, "since": int(since), "token": token, "now": now})
        if not rows:
            tx.run(Q_CREATE, {"n": 1, "ids": [cid], "since": [int(since)], "token": token, "now": now, "ws": workspace})
            return
        later, leased = rows[0]
        if later:
            tx.run(Q_REFRESH_SINCE, {"id": cid, "since": int(since)})
        if leased:
            tx.run(Q_REFRESH_LEASE, {"id": cid})
        return
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        params = {"n": len(chunk), "ids": [cid for cid, _ in chunk], "since": [int(s) for _, s in chunk],
                  "token": token, "now": now}
        refreshed = {row[0] for row in tx.run(Q_REFRESH, params)}
        missing = [(cid, since) for cid, since in chunk if cid not in refreshed]
        if missing:
            tx.run(Q_CREATE, {**params, "n": len(missing), "ids": [cid for cid, _ in missing],
                              "since": [int(s) for _, s in missing], "ws": workspace})


def _task(row: Sequence) -> IndexTask:
    return IndexTask(**dict(zip(TASK_FIELDS, row)))


async def claim(engine: Engine, now: int, lease_us: int, limit: int, workspace: str | None) -> list[IndexTask]:
    def work(tx: Tx) -> list[IndexTask]:
        rows = tx.run(Q_DUE, {"now": int(now), "ws": workspace or "", "limit": int(limit)})
        tasks = [_task(row) for row in rows]
        if tasks:
            tx.run(Q_LEASE, {"ids": [t.context_id for t in tasks], "until": int(now + lease_us)})
        return tasks

    if limit <= 0:
        return []
    return await engine.write(work)


async def complete(engine: Engine, tasks: Sequence[IndexTask]) -> int:
    tasks = list(tasks)
    if not tasks:
        return 0
    params = {"n": len(tasks), "ids": [t.context_id for t in tasks], "tokens": [t.token for t in tasks]}
    rows = await engine.write(lambda tx: tx.run(Q_COMPLETE, params))
    return int(rows[0][0]) if rows else 0


async def retry(engine: Engine, task: IndexTask, not_before: int, error: str) -> None:
    params = {"id": task.context_id, "token": task.token, "not_before": int(not_before), "error": error[:500]}
    await engine.write(lambda tx: tx.run(Q_RETRY, params))


async def count(engine: Engine, workspace: str | None) -> int:
    rows = await engine.read(
        "MATCH (t:IndexTask) WHERE $ws = '' OR t.workspace = $ws RETURN count(t)", {"ws": workspace or ""}
    )
    return int(rows[0][0]) if rows else 0


async def summary(engine: Engine) -> tuple[int, int | None]:
    rows = await engine.read("MATCH (t:IndexTask) RETURN count(t), min(t.enqueued_at)")
    count, oldest = rows[0] if rows else (0, None)
    return int(count), None if oldest is None else int(oldest)


async def release_claims(engine: Engine) -> int:
    """Every claimed task due again (at start-up, when no other process can hold a claim)."""
    rows = await engine.write(lambda tx: tx.run(
        "MATCH (t:IndexTask) WHERE t.claimed_until > 0 SET t.claimed_until = 0 RETURN count(t)"
    ))
    return int(rows[0][0]) if rows else 0
