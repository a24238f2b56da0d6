"""LadybugDB tree reads: more than one level of children is read as one state (a snapshot read)."""

from __future__ import annotations

import asyncio
import itertools
import threading

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


def commit_meanwhile(engine) -> None:
    """A write transaction (of nothing) committed now, on another thread, as a concurrent client's would be."""
    done = threading.Thread(target=engine._write_sync, args=(lambda tx: tx.run("RETURN 1"),))
    done.start()
    done.join()


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
    assert [q.split()[0] for q in ran] == ["UNWIND", "MATCH", "MATCH"]  # no commit met: no transaction
    assert "p.id IN $pids" in ran[2]  # `_SIBLINGS`
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


async def test_a_snapshot_read_that_meets_a_commit_runs_again_in_a_transaction(lady, workspace, monkeypatch):
    """/p/m moves to /q between the statements of the first attempt: that attempt is dropped (its
    levels are of two states), and the read runs again in one read-only transaction."""
    tree = await create_tree(lady, workspace, ["/p", "/q", "/p/m", "/p/m/a", "/p/n", "/p/n/b"])
    engine = lady._engine
    run_on, moved, seen = engine.run_on, [], []

    def moving(conn, query, params=None):
        if conn is not engine._writer:
            seen.append(query)
        if "p.id IN $pids" in query and not moved:  # the first attempt's last level: /p/m moves first
            record = tree["/p/m"]
            moved.append(threading.Thread(target=asyncio.run, args=(_move(lady, workspace, record, "/q/m"),)))
            moved[0].start()
            moved[0].join()
        return run_on(conn, query, params)

    monkeypatch.setattr(engine, "run_on", moving)
    retries = lady.read_counts["snapshot_retries"]
    read = await lady.read_tree(workspace, ["/p"], NESTED)
    assert [c.path for c in read.children[tree["/p"].id]] == ["/p/n"]
    assert [c.path for c in read.children[tree["/p/n"].id]] == ["/p/n/b"]
    assert lady.read_counts["snapshot_retries"] == retries + 1
    assert [q.split()[0] for q in seen] == ["UNWIND", "MATCH", "MATCH", "BEGIN", "UNWIND", "MATCH", "MATCH", "COMMIT"]


async def _move(lady, workspace, record, target) -> None:
    await lady.move_context(workspace, record.id, record.version, target, move_version(record, target))


async def test_a_snapshot_read_that_failed_on_rows_of_two_states_runs_again(lady, workspace):
    """An error of the first attempt that met a commit may come from its rows of two states: the read
    runs again in a transaction; the same error without a commit is the read's own."""
    engine = lady._engine
    attempts: list[None] = []

    def work(run):
        rows = run("RETURN 1", None)
        if not attempts:
            attempts.append(commit_meanwhile(engine))
            raise KeyError("a parent the first level did not have")
        return rows

    assert await engine.read_with(work, snapshot=True) == [[1]] and len(attempts) == 1

    def failing(run):
        raise KeyError("the read's own error")

    with pytest.raises(KeyError):
        await engine.read_with(failing, snapshot=True)
