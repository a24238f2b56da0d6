"""Export and import of a workspace: an exact round trip, ids and history preserved."""

from __future__ import annotations

import asyncio

import pytest

from contextql.graph.errors import BadUserInputError, ConflictError
from contextql.graph.transfer import BATCH, export_workspace, import_workspace

from .conftest import create


async def test_round_trip_is_exact(api, store, workspace):
    await api.data('mutation { registerContextType(name: "note", schema: {type: "object"}) { violatingCount } }')
    await create(api, "/x/y/z", parents=True, kind="note", data={"deep": {"v": [1, "ü"]}}, tags=["a"])
    await api.data('mutation { updateContext(path: "/x", input: {content: "changed"}) { version } }')
    await api.data('mutation { moveContext(path: "/x/y", to: "/x/w") { movedCount } }')

    exported = [line async for line in export_workspace(store, workspace)]
    assert exported[0]["type"] == "header" and exported[0]["counts"]["context"] == 3
    with pytest.raises(BadUserInputError, match=r"already has .*3 context\(s\)"):
        await import_workspace(store, exported, workspace)

    assert (await store.delete_workspace(workspace))["contexts"] == 3
    assert (await import_workspace(store, exported, workspace)).imported == 3
    again = [line async for line in export_workspace(store, workspace)]
    assert again[1:] == exported[1:]  # the header differs only by its time
    history = await api.data('{ context(path: "/x/w/z") { version history { totalCount } } }')
    assert history["context"] == {"version": 1, "history": {"totalCount": 1}}


async def test_ids_stay_unique_across_workspaces(api, store, workspace):
    await create(api, "/only-once")
    exported = [line async for line in export_workspace(store, workspace)]
    with pytest.raises(ConflictError, match=f"delete '{workspace}' first"):
        await import_workspace(store, exported, workspace + "-copy")
    with pytest.raises(ConflictError):  # resuming does not take another workspace's records
        await import_workspace(store, exported, workspace + "-copy", resume=True)
    assert await store.count_contexts(workspace + "-copy", None) == 0


async def test_an_interrupted_import_resumes_and_skips_what_is_there(api, store, workspace, monkeypatch):
    """A crash after the first batch committed: a rerun with `resume` finishes it, counting what it skipped."""
    await api.data('mutation { registerContextType(name: "note", schema: {type: "object"}) { violatingCount } }')
    paths = [f"/r/c{i:04d}" for i in range(BATCH + 20)]
    await create(api, "/r")
    for start in range(0, len(paths), 100):
        chunk = ", ".join(f'{{path: "{p}", kind: "note"}}' for p in paths[start:start + 100])
        await api.data(f"mutation {{ createContexts(inputs: [{chunk}]) {{ id }} }}")
    await api.data('mutation { updateContext(path: "/r/c0001", input: {title: "v2"}) { version } }')
    exported = [line async for line in export_workspace(store, workspace)]
    await store.delete_workspace(workspace)

    real = store.restore
    calls = 0

    async def crash_on_second_batch(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # the process dies between two batches
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "restore", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        await import_workspace(store, exported, workspace)
    monkeypatch.setattr(store, "restore", real)
    first = await store.count_contexts(workspace, None)  # what the first batch committed
    assert 0 < first < len(paths) + 1

    with pytest.raises(BadUserInputError, match="--resume"):
        await import_workspace(store, exported, workspace)
    result = await import_workspace(store, exported, workspace, resume=True)
    assert (result.imported, result.skipped) == (len(paths) + 1 - first, first)
    assert [line async for line in export_workspace(store, workspace)][1:] == exported[1:]
    again = await import_workspace(store, exported, workspace, resume=True)
    assert (again.imported, again.skipped) == (0, len(paths) + 1)


async def test_an_export_of_the_embedded_store_is_one_instant(api, store, workspace):
    """LadybugDB's writes wait for the export (one writing process), so it holds no write made
    meanwhile; on Neo4j writes go on, and the header says the export is no point in time."""
    await create(api, "/before")
    lines = export_workspace(store, workspace)
    header = await anext(lines)
    assert header["pointInTime"] is (store.backend == "ladybug")
    if not header["pointInTime"]:
        await lines.aclose()
        return
    write = asyncio.create_task(create(api, "/during"))
    await asyncio.sleep(0.5)  # ample time for the write, had it not waited
    assert not write.done()
    rest = [line async for line in lines]
    assert [line["path"] for line in rest if line["type"] == "context"] == ["/before"]
    assert (await write)["path"] == "/during"
    after = [line async for line in export_workspace(store, workspace)]
    assert [line["path"] for line in after if line["type"] == "context"] == ["/before", "/during"]


async def test_a_version_1_export_still_imports(api, store, workspace):
    """Version 1 wrote contexts, versions and context types only, with `workspace` on every line and no end line."""
    await create(api, "/old/file", parents=True, data={"v": 1})
    current = [line async for line in export_workspace(store, workspace)]
    v1 = [{"type": "header", "format": "contextql-export", "formatVersion": 1, "workspace": workspace, "contexts": 2},
          *({**line, "workspace": workspace} for line in current if line["type"] in ("contextType", "context", "version"))]
    await store.delete_workspace(workspace)
    assert (await import_workspace(store, v1)).imported == 2
    assert [line async for line in export_workspace(store, workspace)][1:] == [
        line for line in current[1:-1] if line["type"] in ("contextType", "context", "version")
    ] + [{"type": "end", "counts": {"context": 2, "version": 2}}]
