"""Contract: every context write records its search-index work in the same transaction (the outbox)."""

from __future__ import annotations

import pytest

from contextql.graph.errors import ConflictError
from contextql.graph.outbox import NO_HISTORY, now_us

from .factories import changed, context, create_one, create_tree, move_version, snapshot

LEASE = 60_000_000


async def claim_all(store, workspace, now=None):
    return {t.context_id: t for t in await store.claim_index_tasks(now or now_us(), LEASE, 1000, workspace)}


async def test_create_records_a_task_per_context_with_whole_history(store, workspace):
    tree = await create_tree(store, workspace, ["/a", "/a/b"])
    tasks = await claim_all(store, workspace)
    assert set(tasks) == {tree["/a"].id, tree["/a/b"].id}
    assert all(t.since == 1 and t.workspace == workspace and t.attempts == 0 for t in tasks.values())
    assert await store.count_index_tasks(workspace) == 2


async def test_claim_leases_and_complete_removes(store, workspace):
    rec = await create_one(store, workspace, "/c")
    now = now_us()
    [task] = await store.claim_index_tasks(now, LEASE, 10, workspace)
    assert task.context_id == rec.id
    assert await store.claim_index_tasks(now, LEASE, 10, workspace) == []  # leased
    assert len(await store.claim_index_tasks(now + LEASE + 1, LEASE, 10, workspace)) == 1  # lease expired
    assert await store.complete_index_tasks([task]) == 1
    assert await store.count_index_tasks(workspace) == 0


async def test_tasks_coalesce_per_context_and_keep_oldest_history(store, workspace):
    rec = await create_one(store, workspace, "/c")
    [first] = await store.claim_index_tasks(now_us(), LEASE, 10, workspace)
    new, version = changed(rec, title="v2")
    await store.update_context(new, rec.version, version)
    # the write re-enqueued the claimed task: due again, new token, since kept at 1
    [again] = await store.claim_index_tasks(now_us(), LEASE, 10, workspace)
    assert again.context_id == rec.id and again.token != first.token and again.since == 1
    assert await store.complete_index_tasks([first]) == 0  # stale token: the newer write stays pending
    assert await store.count_index_tasks(workspace) == 1
    assert await store.complete_index_tasks([again]) == 1
    newer, version3 = changed(new, title="v3")
    await store.update_context(newer, new.version, version3)
    [third] = await store.claim_index_tasks(now_us(), LEASE, 10, workspace)
    assert third.since == 3


async def test_retry_backs_off_and_counts_attempts(store, workspace):
    await create_one(store, workspace, "/r")
    now = now_us()
    [task] = await store.claim_index_tasks(now, LEASE, 10, workspace)
    await store.retry_index_task(task, now + 5_000_000, "index down")
    assert await store.claim_index_tasks(now + 1, LEASE, 10, workspace) == []
    [again] = await store.claim_index_tasks(now + 5_000_001, LEASE, 10, workspace)
    assert again.attempts == 1 and again.last_error == "index down" and again.token == task.token


async def test_move_enqueues_the_whole_subtree(store, workspace):
    tree = await create_tree(store, workspace, ["/m", "/m/x", "/m/x/y", "/n"])
    await store.complete_index_tasks(list((await claim_all(store, workspace)).values()))
    x = tree["/m/x"]
    await store.move_context(workspace, x.id, x.version, "/n/x", move_version(x, "/n/x"))
    tasks = await claim_all(store, workspace)
    assert set(tasks) == {x.id, tree["/m/x/y"].id}
    assert tasks[x.id].since == 2 and tasks[tree["/m/x/y"].id].since == NO_HISTORY


async def test_delete_enqueues_every_removed_context(store, workspace):
    tree = await create_tree(store, workspace, ["/d", "/d/e", "/f"])
    await store.complete_index_tasks(list((await claim_all(store, workspace)).values()))
    await store.delete_context(workspace, tree["/d"].id, recursive=True)
    assert set(await claim_all(store, workspace)) == {tree["/d"].id, tree["/d/e"].id}


async def test_failed_write_records_no_task(store, workspace):
    rec = await create_one(store, workspace, "/s")
    await store.complete_index_tasks(list((await claim_all(store, workspace)).values()))
    stale, version = changed(rec.replace(version=5), title="x")
    with pytest.raises(ConflictError):
        await store.update_context(stale, 5, version)
    with pytest.raises(ConflictError):
        await store.create_contexts([context(workspace, "/s")], [])
    assert await store.count_index_tasks(workspace) == 0


async def test_import_and_workspace_removal_enqueue(store, workspace):
    rec = context(workspace, "/i")
    await store.import_records(workspace, [rec], [snapshot(rec)], [])
    tasks = await claim_all(store, workspace)
    assert set(tasks) == {rec.id} and tasks[rec.id].since == 1
    await store.complete_index_tasks(list(tasks.values()))
    await store.delete_workspace(workspace)
    assert set(await claim_all(store, workspace)) == {rec.id}


async def test_claim_is_scoped_to_the_workspace(store, workspace):
    await create_one(store, workspace, "/w")
    other = workspace + "-other"
    await create_one(store, other, "/w")
    assert [t.workspace for t in await store.claim_index_tasks(now_us(), LEASE, 10, other)] == [other]


async def test_a_single_process_store_takes_over_claims_at_start(store, workspace):
    """After a kill -9, the embedded store's next process releases the dead one's claims at once;
    a shared store (Neo4j) leaves them to expire, since another live process may hold them."""
    await create_tree(store, workspace, ["/k"])
    claimed = await store.claim_index_tasks(now_us(), LEASE, 10, workspace)
    assert len(claimed) == 1
    released = await store.release_index_claims()
    again = await store.claim_index_tasks(now_us(), LEASE, 10, workspace)
    if store.single_process:
        assert released >= 1 and [t.context_id for t in again] == [claimed[0].context_id]
    else:
        assert released == 0 and again == []


async def test_a_write_makes_a_retried_task_due_now_and_an_older_since_wins(store, workspace):
    """The refresh of a pending task writes the lease, attempts and `since` only when they differ
    (LadybugDB: fewer column copies); the outcome must be the same as writing them every time."""
    tree = await create_tree(store, workspace, ["/m", "/m/x"])
    m, x = tree["/m"], tree["/m/x"]
    now = now_us()
    tasks = await claim_all(store, workspace, now)
    await store.retry_index_task(tasks[x.id], now + 60_000_000, "index down")
    await store.complete_index_tasks([tasks[m.id]])
    # moving /m re-enqueues /m/x with no history to index: due now, attempts reset, the older since (1) kept
    await store.move_context(workspace, m.id, m.version, "/n", move_version(m, "/n"))
    pending = (await claim_all(store, workspace))[x.id]
    assert (pending.attempts, pending.since) == (0, 1)
    await store.complete_index_tasks(list((await claim_all(store, workspace, now_us() + LEASE + 1)).values()))
    # a task with no history (a second move), then an update: the update's since (its version) wins
    n = (await store.get_by_paths(workspace, ["/n"]))["/n"]
    await store.move_context(workspace, n.id, n.version, "/o", move_version(n, "/o"))
    x = (await store.get_by_paths(workspace, ["/o/x"]))["/o/x"]
    assert (await claim_all(store, workspace, now_us() + 2 * LEASE))[x.id].since == NO_HISTORY
    new, version = changed(x, title="x2")
    await store.update_context(new, x.version, version)
    assert (await claim_all(store, workspace, now_us() + 2 * LEASE))[x.id].since == new.version
