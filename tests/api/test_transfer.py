"""Export and import of a workspace: an exact round trip, ids and history preserved."""

from __future__ import annotations

import pytest

from graph.errors import BadUserInputError, ConflictError
from graph.transfer import export_workspace, import_workspace

from .conftest import create


async def test_round_trip_is_exact(api, store, workspace):
    await api.data('mutation { registerContextType(name: "note", schema: {type: "object"}) { violatingCount } }')
    await create(api, "/x/y/z", parents=True, kind="note", data={"deep": {"v": [1, "ü"]}}, tags=["a"])
    await api.data('mutation { updateContext(path: "/x", input: {content: "changed"}) { version } }')
    await api.data('mutation { moveContext(path: "/x/y", to: "/x/w") { movedCount } }')

    exported = [line async for line in export_workspace(store, workspace)]
    assert exported[0]["type"] == "header" and exported[0]["contexts"] == 3
    with pytest.raises(BadUserInputError, match="already has 3 contexts"):
        await import_workspace(store, exported, workspace)

    assert await store.delete_workspace(workspace) == 3
    assert await import_workspace(store, exported, workspace) == 3
    again = [line async for line in export_workspace(store, workspace)]
    assert again == exported
    history = await api.data('{ context(path: "/x/w/z") { version history { totalCount } } }')
    assert history["context"] == {"version": 1, "history": {"totalCount": 1}}


async def test_ids_stay_unique_across_workspaces(api, store, workspace):
    await create(api, "/only-once")
    exported = [line async for line in export_workspace(store, workspace)]
    with pytest.raises(ConflictError):
        await import_workspace(store, exported, workspace + "-copy")
    assert await store.count_contexts(workspace + "-copy", None) == 0
