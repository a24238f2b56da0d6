"""A bulk import (`GraphStore.import_records`, what `contextql import` runs per batch) racing API writes.

An import is all or nothing: it either adds every record it carries, or it fails with
ConflictError / NotFoundError and adds none. A create at one of its paths loses with CONFLICT.
"""

from __future__ import annotations

import asyncio
import uuid


from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.records import ContextRecord, VersionRecord

from . import invariants
from . import race
from .race import Op

CREATE = """
mutation($input: CreateContextInput!) { createContext(input: $input, createParents: true) { id path } }"""
MOVE = """
mutation($id: ID!, $to: String!) { moveContext(id: $id, to: $to) { movedCount } }"""


def _records(workspace: str, parent: ContextRecord | None, root: str, names: list[str]):
    """An exported subtree: `root`, `root/<name>` and `root/<name>/leaf`, each with one version."""
    contexts: list[ContextRecord] = []
    ids: dict[str, str] = {}
    paths = [root, *(f"{root}/{n}" for n in names), *(f"{root}/{n}/leaf" for n in names)]
    for path in paths:
        ids[path] = str(uuid.uuid4())
        up = path.rsplit("/", 1)[0]
        parent_id = ids.get(up) or (parent.id if parent and up == parent.path else None)
        contexts.append(ContextRecord(
            id=ids[path], workspace=workspace, path=path, parent_id=parent_id, kind="context",
            title=f"imported {path}", content="", data={"imported": True}, tags=[], inherit=True, version=1,
            created_at=1_700_000_000_000_000, updated_at=1_700_000_000_000_000, created_by="importer",
            updated_by="importer",
        ))
    versions = [
        VersionRecord(
            context_id=c.id, workspace=workspace, number=1, operation="create", path=c.path, kind=c.kind,
            title=c.title, content=c.content, data=c.data, tags=c.tags, inherit=c.inherit, author="importer",
            created_at=c.created_at, changed=["kind", "title", "content", "data", "tags", "inherit"],
        )
        for c in contexts
    ]
    return contexts, versions


async def _import(store, workspace, contexts, versions) -> str:
    """'ok', or the name of the domain error the import raised (anything else propagates)."""
    try:
        await store.import_records(workspace, contexts, versions, [])
    except (ConflictError, NotFoundError) as error:
        return type(error).__name__
    return "ok"


async def _all_or_nothing(store, workspace, contexts, versions, answer: str, label: str) -> None:
    found = await store.get_by_ids(workspace, [c.id for c in contexts])
    if answer != "ok":
        assert not found, f"{label}: the import failed ({answer}) but left {sorted(c.path for c in found.values())}"
        return
    assert len(found) == len(contexts), f"{label}: the import succeeded but only {len(found)}/{len(contexts)} exist"
    history = await store.versions_of(workspace, [c.id for c in contexts])
    assert all(len(history[c.id]) == 1 for c in contexts), f"{label}: imported contexts' histories differ"


async def test_import_racing_creates_is_all_or_nothing(api, store, workspace, rng):
    for number in range(5):
        root = f"/imp{number}"
        names = [f"c{i}" for i in range(6)]
        contexts, versions = _records(workspace, None, root, names)
        taken = rng.sample([c.path for c in contexts], 4)
        ops = [Op("create", CREATE, {"input": {"path": path, "title": "api"}}, frozenset({"CONFLICT"})) for path in taken]
        round_task = asyncio.create_task(race.run_round(api, "import racing creates", number, ops))
        await asyncio.sleep(rng.choice([0, 0.001, 0.003]))  # let some creates commit first in some rounds
        answer = await _import(store, workspace, contexts, versions)
        result = await round_task
        label = f"{result.label} [import {answer}; {result.summary()}]"
        await _all_or_nothing(store, workspace, contexts, versions, answer, label)
        if answer == "ok":
            assert not result.ok("create") or all(
                o.data["createContext"]["path"] not in taken for o in result.ok("create")
            ), label
        await invariants.check(store, workspace, api, label)


async def test_import_racing_a_move_of_its_parent(api, store, workspace, rng):
    base = (await api.data(CREATE, input={"path": "/base"}))["createContext"]
    for number in range(5):
        parent = (await store.get_by_ids(workspace, [base["id"]]))[base["id"]]
        contexts, versions = _records(workspace, parent, f"{parent.path}/imp{number}", ["c0", "c1"])
        target = "/base" if parent.path != "/base" else "/moved"
        ops = [Op("move", MOVE, {"id": base["id"], "to": target}, frozenset({"CONFLICT", "NOT_FOUND"}))]
        round_task = asyncio.create_task(race.run_round(api, "import racing a move of its parent", number, ops))
        await asyncio.sleep(rng.choice([0, 0.001, 0.003, 0.01]))  # let the move commit first in some rounds
        answer = await _import(store, workspace, contexts, versions)
        result = await round_task
        label = f"{result.label} [import {answer}; {result.summary()}]"
        await _all_or_nothing(store, workspace, contexts, versions, answer, label)
        await invariants.check(store, workspace, api, label)
