"""Neo4j only: versions are found by their key, not through a link from their context (migration 0010)."""

from __future__ import annotations

import uuid

from contextql.graph.records import Page
from contextql.migrations import migrate

from tests.contract.factories import changed, create_one

LINKS = "MATCH (:Context {workspace: $ws})-[link:HAS_VERSION]->() RETURN count(link)"
VERSIONS = "MATCH (v:Version {workspace: $ws}) WHERE v.context_id IS NOT NULL AND v.number IS NOT NULL RETURN count(v)"


def _retitle(title: str):
    return lambda head: changed(head, title=title)


async def _count(store, query: str, ws: str) -> int:
    return (await store._write(query, ws=ws))[0][0]


async def test_revisions_write_no_links_and_deletes_still_take_every_version(neo4j_store):
    ws = f"vl-{uuid.uuid4().hex[:8]}"
    rec = await create_one(neo4j_store, ws, "/doc", title="v1")
    for n in range(2, 5):
        await neo4j_store.revise_context(ws, rec.id, _retitle(f"v{n}"))
    assert await neo4j_store.count_versions(ws, rec.id) == 4
    assert await _count(neo4j_store, LINKS, ws) == 0

    await neo4j_store.delete_context(ws, rec.id, recursive=False)
    assert await _count(neo4j_store, VERSIONS, ws) == 0


async def test_migration_0010_unlinks_the_versions_of_an_older_store(neo4j_store):
    """A store written before 0010 linked every version to its context: the migration removes the
    links (in batches, outside a transaction) and leaves every version readable."""
    ws = f"vl-{uuid.uuid4().hex[:8]}"
    records = [await create_one(neo4j_store, ws, f"/c{i}", title="v1") for i in range(3)]
    for rec in records:
        await neo4j_store.revise_context(ws, rec.id, _retitle("v2"))
    await neo4j_store._write("MATCH (c:Context {workspace: $ws}), (v:Version {workspace: $ws, context_id: c.id}) "
                             "CREATE (c)-[:HAS_VERSION]->(v)", ws=ws)
    await neo4j_store._write("MATCH (m:Migration {id: '0010_unlinked_versions'}) DELETE m")
    assert await _count(neo4j_store, LINKS, ws) == 6

    assert await migrate(neo4j_store) == ["0010_unlinked_versions"]
    assert await _count(neo4j_store, LINKS, ws) == 0
    for rec in records:
        assert sorted(v.number for v in await neo4j_store.list_versions(ws, rec.id, Page(limit=10))) == [1, 2]
    assert (await neo4j_store.applied_migrations())[-1] == "0010_unlinked_versions"
