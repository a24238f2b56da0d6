"""LadybugDB tree reads: more than one level of children is read in one read-only transaction."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from contextql.graph.records import Page, TreePlan
from contextql.graph.store import GraphStore
from tests.contract.factories import create_tree, move_version
from tests.ladybug.test_memory import _opened

_workspaces = itertools.count()
NESTED = TreePlan(page=Page(10), below=TreePlan(page=Page(10)))


@pytest.fixture
async def lady(tmp_path):
    # A budget no read here passes: a read that overran would run (and be seen) twice.
    opened = await _opened(str(tmp_path / "graph.lbug"), readers=2, inline_read_ms=60_000)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def workspace() -> str:
    return f"t{next(_workspaces)}"


def _statements(lady, monkeypatch) -> list[str]:
    """The statement texts the store's engine runs from now on."""
    seen: list[str] = []
    run_on = lady._engine.run_on

    def spy(conn, query, params=None):
        seen.append(query)
        return run_on(conn, query, params)

    monkeypatch.setattr(lady._engine, "run_on", spy)
    return seen


async def test_the_children_of_one_parents_children_are_read_from_it(lady, workspace, monkeypatch):
    await create_tree(lady, workspace, ["/r", "/r/a", "/r/b", "/r/a/x", "/r/a/y", "/r/b/z", "/s"])
    seen = _statements(lady, monkeypatch)
    read = await lady.read_tree(workspace, ["/r"], NESTED)
    ran, seen[:] = list(seen), []
    assert read == await GraphStore.read_tree(lady, workspace, ["/r"], NESTED)
    assert [q.split()[0] for q in ran] == ["BEGIN", "UNWIND", "MATCH", "MATCH", "COMMIT"]
    assert "p.id IN $pids" in ran[3]  # `_SIBLINGS`
    seen.clear()
    two = await lady.read_tree(workspace, ["/r", "/s"], NESTED)  # two parents: their children by UNWIND
    ran = list(seen)
    assert two == await GraphStore.read_tree(lady, workspace, ["/r", "/s"], NESTED)
    assert "p.id IN $pids" not in "".join(ran)


async def test_a_parent_with_many_children_besides_the_page_is_not_read_through(lady, workspace, monkeypatch):
    names = [f"/r/c{n:02d}" for n in range(12)]
    await create_tree(lady, workspace, ["/r", *names, "/r/c00/x"])
    plan = TreePlan(page=Page(2), below=TreePlan(page=Page(10), count=True))
    seen = _statements(lady, monkeypatch)
    read = await lady.read_tree(workspace, ["/r"], plan)
    ran = list(seen)
    assert read == await GraphStore.read_tree(lady, workspace, ["/r"], plan)
    assert "UNWIND $pids" in "".join(ran)  # `_PARENTS`  # 12 children > SIBLINGS_SPREAD x 2


async def test_a_nested_read_racing_moves_is_one_state(lady, workspace):
    """While /p/m (with a child) moves between /p and /q, every nested read of /p shows /p/m
    either not at all or with its child: never a state that did not exist."""
    tree = await create_tree(lady, workspace, ["/p", "/q", "/p/m", "/p/m/a", "/p/n", "/p/n/b"])
    writing = True

    async def mover() -> None:
        nonlocal writing
        record = tree["/p/m"]
        try:
            for number in range(30):
                target = ("/q/m", "/p/m")[number % 2]
                await lady.move_context(workspace, record.id, record.version, target, move_version(record, target))
                record = (await lady.get_by_ids(workspace, [record.id]))[record.id]
        finally:
            writing = False

    async def reader() -> int:
        reads = 0
        while writing:
            read = await lady.read_tree(workspace, ["/p"], NESTED)
            for child in read.children[tree["/p"].id]:
                assert [c.path for c in read.children[child.id]] == [child.path + ("/a" if child.name == "m" else "/b")]
            reads += 1
            await asyncio.sleep(0)
        return reads

    results = await asyncio.gather(mover(), reader(), reader())
    assert sum(results[1:]) > 0
