"""Neo4j only: a context's head read optimistically, guarded at the write (graph/neo4j/writes.py).

A revision reads its head without a lock; the composed write statement locks the head and goes
on only if it is still as read. These tests make a writer lose that race on purpose, between
its read and its write, and check that nothing of the stale revision lands: the work runs again
over the new head, with a locking read.
"""

from __future__ import annotations

import uuid

from contextql.graph import tree
from contextql.graph.records import ContextRecord, Page, VersionRecord
from contextql.graph.writes import WriteEffects

from tests.contract.factories import changed, create_one, move_version
from tests.contract.test_transactions import _audit


def _workspace() -> str:
    return f"opt-{uuid.uuid4().hex[:8]}"


async def test_a_revision_that_lost_the_race_runs_again_over_the_new_head(neo4j_store):
    store, workspace = neo4j_store, _workspace()
    rec = await create_one(store, workspace, "/doc", title="start")
    seen: list[int] = []

    async def work(tx):
        head = (await tx.at_paths(workspace, ["/doc"], lock=True))["/doc"]
        seen.append(head.version)
        if len(seen) == 1:  # another writer commits between our read and our write
            theirs, version = changed(head, title="theirs")
            await store.update_context(theirs, head.version, version)
        return await _title(tx, workspace, head, "ours")

    lost, statements = store.races_lost, store.queries
    written = await store.write(work)
    # read + guarded write, the other writer's read + write, then the locking read + write
    assert store.queries - statements == 6

    assert seen == [1, 2] and store.races_lost == lost + 1
    assert written.version == 3 and written.title == "ours"
    history = (await store.versions_of(workspace, [rec.id]))[rec.id]
    assert [(v.number, v.title) for v in history] == [(1, "start"), (2, "theirs"), (3, "ours")]


async def test_a_lost_race_of_tree_revise_leaves_nothing_of_the_stale_attempt(neo4j_store):
    """The rule as the resolvers run it: its writes are buffered until the commit, so the other
    writer commits after the whole rule ran; the stale attempt's version and audit entry go."""
    store, workspace = neo4j_store, _workspace()
    rec = await create_one(store, workspace, "/doc", title="start")
    heads: list[ContextRecord] = []

    def retitle(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
        heads.append(head)
        return changed(head, title="ours")

    async def racing(tx):
        result = await tree.revise(tx, workspace, None, retitle, WriteEffects(audit=[_audit(workspace)]), path="/doc")
        if len(heads) == 1:
            theirs, version = changed(heads[0], title="theirs")
            await store.update_context(theirs, heads[0].version, version)
        return result

    updated, version = await store.write(racing)

    assert [h.version for h in heads] == [1, 2]
    assert version is not None and (updated.version, updated.title) == (3, "ours")
    history = (await store.versions_of(workspace, [rec.id]))[rec.id]
    assert [(v.number, v.title) for v in history] == [(1, "start"), (2, "theirs"), (3, "ours")]
    assert len(await store.list_audit(workspace, Page(100))) == 1


async def test_a_deleted_head_is_not_found_after_the_race(neo4j_store):
    store, workspace = neo4j_store, _workspace()
    await create_one(store, workspace, "/doc", title="start")
    calls = 0

    async def work(tx):
        nonlocal calls
        calls += 1
        head = (await tx.heads(workspace, [rec_id], lock=True)).get(rec_id)
        if head is None:
            return None
        if calls == 1:
            await store.delete_context(workspace, head.id, False)
        return await _title(tx, workspace, head, "ours")

    rec_id = (await store.get_by_paths(workspace, ["/doc"]))["/doc"].id
    assert await store.write(work) is None and calls == 2
    assert await store.get_by_paths(workspace, ["/doc"]) == {}


async def test_a_move_of_an_ancestor_between_read_and_write_is_a_lost_race(neo4j_store):
    """A descendant's path changes without a new version: the guard compares the whole state."""
    store, workspace = neo4j_store, _workspace()
    top = await create_one(store, workspace, "/a")
    await create_one(store, workspace, "/b")
    child = await create_one(store, workspace, "/a/c", top)
    paths: list[str] = []

    async def work(tx):
        head = (await tx.heads(workspace, [child.id], lock=True))[child.id]
        paths.append(head.path)
        if len(paths) == 1:
            await store.move_context(workspace, top.id, None, "/b/a", move_version(top, "/b/a"))
        return await _title(tx, workspace, head, "ours")

    written = await store.write(work)
    assert paths == ["/a/c", "/b/a/c"] and written.path == "/b/a/c"
    history = (await store.versions_of(workspace, [child.id]))[child.id]
    assert [(v.number, v.path, v.title) for v in history][-1] == (2, "/b/a/c", "ours")


async def _title(tx, workspace: str, head: ContextRecord, title: str) -> ContextRecord:
    new, version = changed(head, title=title)
    await tx.set_state(new)
    await tx.insert_versions([version])
    await tx.enqueue_index(workspace, [(new.id, version.number)])
    return new
