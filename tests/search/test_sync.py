"""Graph and index stay in step: outages, stale entries, drift, reindex — on every graph backend."""

from __future__ import annotations

from contextql.graph.index import reindex, verify
from contextql.graph.outbox import now_us
from contextql.resolvers import contexts as ops
from contextql.resolvers import search as find
from contextql.resolvers.contexts import ContextChanges, NewContext

ROTATE = "To rotate API keys, create a new key, roll it out to every service, then revoke the old key."
BACKUP = "Database backups run nightly at 02:00 and are kept for thirty days in cold storage."
ONCALL = "The on-call engineer answers pages within fifteen minutes and writes an incident report."


async def create(ctx, path, content, **fields):
    [record] = await ops.create(ctx(), [NewContext(path=path, content=content, **fields)], create_parents=True)
    return record


async def paths_found(ctx, query, **kwargs):
    return [hit.context.path for hit in await find.search(ctx(), query, **kwargs)]


async def test_index_outage_never_blocks_writes_and_recovers_with_zero_drift(store, workspace, search, ctx):
    keys = await create(ctx, "/ops/keys", ROTATE, title="Key rotation")
    backups = await create(ctx, "/ops/backups", BACKUP, title="Backups")
    await search.drain()
    assert (await verify(store, search.index, workspace)).total == 0

    search.engine.down = True  # the index unreachable from here on
    oncall = await create(ctx, "/team/oncall", ONCALL, title="On-call")
    keys = await ops.update(ctx(), keys, ContextChanges(content=ROTATE + " Rotate every 90 days."), None)
    moved, _ = await ops.move(ctx(), backups, "/team/backups", None)
    await ops.delete(ctx(), (await ops.by_path(ctx(), "/ops")), recursive=True)
    # every graph write succeeded; the worker fails, keeps the tasks and backs off
    # (/team, /team/oncall, /ops/keys, /team/backups, /ops)
    assert await search.worker.run_once() == 5
    assert search.worker.failed == 5 and search.engine.failed_calls > 0
    assert await store.count_index_tasks(workspace) == 5
    peek = now_us() + 500_000  # past the (short) test backoff; leased for 1 µs after that
    tasks = {t.context_id: t for t in await store.claim_index_tasks(peek, 1, 10, workspace)}
    assert tasks[oncall.id].attempts == 1 and "ConnectionRefusedError" in tasks[oncall.id].last_error

    search.engine.down = False  # restored
    await search.drain()
    drift = await verify(store, search.index, workspace)
    assert (drift.total, drift.pending) == (0, 0), drift
    assert (await paths_found(ctx, "who answers pages when something breaks?", limit=1)) == ["/team/oncall"]
    assert "/team/backups" in await paths_found(ctx, "nightly database backups")
    assert all(not p.startswith("/ops") for p in await paths_found(ctx, "rotate API keys"))
    assert moved.path == "/team/backups" and keys.version == 2


async def test_search_never_returns_deleted_or_outdated_entries(store, workspace, search, ctx):
    keys = await create(ctx, "/k", ROTATE, title="Key rotation")
    backups = await create(ctx, "/b", BACKUP, title="Backups")
    await search.drain()
    assert (await paths_found(ctx, "rotate API keys", limit=1)) == ["/k"]
    # the graph moves on while the index lags (worker not run): stale hits are dropped
    await ops.update(ctx(), keys, ContextChanges(content="Lunch is served at noon in the canteen."), None)
    await ops.delete(ctx(), backups, recursive=False)
    assert "/k" not in await paths_found(ctx, "rotate API keys")
    assert "/b" not in await paths_found(ctx, "database backups nightly")
    await search.drain()
    assert (await paths_found(ctx, "when is lunch served?", limit=1)) == ["/k"]


async def test_hybrid_finds_an_exact_identifier_that_dense_alone_misses(store, workspace, search, ctx):
    for i, text in enumerate([
        "Error handling guide: when a database error occurs, retry with exponential backoff.",
        "Common database errors and what they mean: timeouts, deadlocks and full disks.",
        "What does an error code mean? Look it up in the error catalogue of the service.",
        "Error messages must say what happened and what the user can do about it.",
        "Database connection errors usually mean the pool is exhausted or the server is down.",
        "Logging errors: include the request id and the error code in every log line.",
    ]):
        await create(ctx, f"/errors/e{i}", text, title=f"Errors {i}")
    await create(ctx, "/kitchen/menu", "Friday menu: soup, bread and cheese. Allergen tag QX7Z-4412 applies to the bread.",
                 title="Canteen menu")
    await search.drain()
    query = "what does error QX7Z-4412 mean?"
    assert "/kitchen/menu" not in await paths_found(ctx, query, mode="dense", limit=3)
    assert (await paths_found(ctx, query, mode="keyword", limit=1)) == ["/kitchen/menu"]
    assert "/kitchen/menu" in await paths_found(ctx, query, mode="hybrid", limit=3)


async def test_filters_history_and_chunks(store, workspace, search, ctx):
    long_text = " ".join(["Filler paragraph about office plants and watering schedules."] * 40)
    await create(ctx, "/a/guide", long_text + " The vault unseal procedure needs three of five key holders.",
                 title="Guide", kind="runbook", tags=["security"])
    await create(ctx, "/b/note", "Vault unseal: three key holders must be present.", title="Note")
    note = (await ops.by_path(ctx(), "/b/note"))
    await search.drain()
    hits = await find.search(ctx(), "how is the vault unsealed?", limit=5)
    found = [h.context.path for h in hits]
    assert found[:2] in (["/a/guide", "/b/note"], ["/b/note", "/a/guide"]) and len(set(found)) == len(found)
    guide_hit = next(h for h in hits if h.context.path == "/a/guide")
    assert "unseal" in guide_hit.snippet and len(guide_hit.snippet) <= 1_000  # the best chunk, not the whole text
    assert await paths_found(ctx, "vault unseal", where=find.Where(path_prefix="/a"), limit=1) == ["/a/guide"]
    assert await paths_found(ctx, "vault unseal", where=find.Where(kinds=["runbook"]), limit=1) == ["/a/guide"]
    assert await paths_found(ctx, "vault unseal", where=find.Where(tags=["security"]), limit=1) == ["/a/guide"]
    assert await paths_found(ctx, "vault unseal", where=find.Where(path_prefix="/c")) == []

    await ops.update(ctx(), note, ContextChanges(content="Nothing to see here any more."), None)
    await search.drain()
    assert "/b/note" not in await paths_found(ctx, "vault unseal key holders", mode="keyword")
    old = [h for h in await find.search(ctx(), "vault unseal key holders", include_history=True, mode="keyword") if h.context.path == "/b/note"]
    assert [h.version.number for h in old] == [1]

    similar = await find.similar_to(ctx(), (await ops.by_path(ctx(), "/a/guide")).id)
    assert "/a/guide" not in [h.context.path for h in similar]


async def test_verify_reports_drift_and_reindex_repairs_it(store, workspace, search, ctx):
    a = await create(ctx, "/a", ROTATE)
    b = await create(ctx, "/b", BACKUP)
    await search.drain()
    await search.index.remove(workspace, [a.id])  # missing
    await ops.update(ctx(), b, ContextChanges(title="Renamed"), None)  # stale (task left pending)
    drift = await verify(store, search.index, workspace)
    assert (drift.missing, drift.stale, drift.pending) == ([a.id], [b.id], 1)
    await ops.delete(ctx(), b, recursive=False)
    await store.complete_index_tasks(await store.claim_index_tasks(2**62, 1, 10, workspace))  # lose the task
    drift = await verify(store, search.index, workspace)
    assert (drift.missing, drift.orphaned, drift.pending) == ([a.id], [b.id], 0)
    assert await reindex(store, search.index, workspace) == 1
    assert (await verify(store, search.index, workspace)).total == 0


async def test_the_worker_embeds_a_whole_batch_in_one_model_call(store, workspace, search, ctx):
    await ops.create(ctx(), [NewContext(path=f"/batch/n{i}", content=f"Note number {i} about {ROTATE}")
                             for i in range(40)], create_parents=True)
    before = search.index.embeddings.model_calls
    # 41 tasks (with /batch): current state and first version of each, the same text, embedded once
    assert await search.worker.run_once() == 41
    assert search.index.embeddings.model_calls == before + 1
    assert (await verify(store, search.index, workspace)).total == 0
    found = await find.search(ctx(), "note number 7", mode="keyword", include_history=True, limit=50)
    assert {h.context.path for h in found} >= {"/batch/n7"}


async def test_stale_best_hits_give_way_to_the_next_live_ones(store, workspace, search, ctx):
    """The graph is read for the best `limit` hits first; stale ones among them are replaced from further down."""
    first = await create(ctx, "/r/one", ROTATE, title="Key rotation")
    second = await create(ctx, "/r/two", ROTATE + " Keys are rotated every quarter.", title="Key rotation, quarterly")
    await create(ctx, "/r/three", "Rotate the API keys of every service, then revoke the old ones.", title="Rotation")
    await search.drain()
    ranked = await paths_found(ctx, "rotate API keys", mode="keyword", limit=3)
    assert sorted(ranked) == ["/r/one", "/r/three", "/r/two"]
    # the index lags behind the graph (worker not run): the two best hits are now stale
    best = {"/r/one": first, "/r/two": second, "/r/three": None}
    for path in ranked[:2]:
        record = best[path] or await ops.by_path(ctx(), path)
        await ops.delete(ctx(), record, recursive=False)
    assert await paths_found(ctx, "rotate API keys", mode="keyword", limit=1) == [ranked[2]]
    assert await paths_found(ctx, "rotate API keys", mode="keyword", limit=2) == [ranked[2]]
