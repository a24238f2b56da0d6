"""Writes to one context racing each other: merges, plain updates, compare-and-set, reverts.

Rule under test: a write without `expectedVersion` is applied to whatever version is current
when it commits, so it never answers CONFLICT and never loses another writer's change; with
`expectedVersion`, exactly one of the writers holding the same expected version wins.
"""

from __future__ import annotations

from typing import Any


from contextql.graph.records import VersionRecord
from contextql.resolvers.inheritance import merge_patch

from . import invariants
from . import race
from .race import Op

UPDATE = """
mutation($path: String!, $input: UpdateContextInput!) {
  updateContext(path: $path, input: $input) { version title data }
}"""
REVERT = """
mutation($path: String!, $to: Int!) { revertContext(path: $path, toVersion: $to) { version title data } }"""
STATE = ("kind", "title", "content", "data", "tags", "inherit")


async def _history(store, workspace: str, path: str) -> list[VersionRecord]:
    record = (await store.get_by_paths(workspace, [path]))[path]
    return (await store.versions_of(workspace, [record.id]))[record.id]


def _merge(patch: dict[str, Any], tag: Any = None) -> Op:
    return Op("merge", UPDATE, {"path": "/m", "input": {"mergeData": patch}}, tag=tag or patch)


def _lost_merges(history: list[VersionRecord], merges: dict[int, dict[str, Any]]) -> list[str]:
    """Merges whose version is not exactly "the version before, with the patch applied"."""
    return [
        f"v{n}: {history[n - 2].data} + {patch} gave {history[n - 1].data}"
        for n, patch in sorted(merges.items())
        if history[n - 1].data != merge_patch(history[n - 2].data, patch)
    ]


async def test_fifty_merges_of_distinct_keys_all_succeed(api, store, workspace):
    await api.data('mutation { createContext(input: {path: "/m", data: {base: 0}}) { version } }')
    ops = [_merge({f"k{i:02}": i}) for i in range(50)]
    result = await race.run_round(api, "50 merges", 0, ops)
    conflicts = len(result.failed("merge"))
    history = await _history(store, workspace, "/m")
    final = history[-1].data
    missing = sorted({f"k{i:02}" for i in range(50)} - set(final))
    assert conflicts == 0 and not missing and len(history) == 51, (
        f"{result.label}: {result.summary()}; {len(history)} versions; final data lacks {missing}"
    )
    merges = {o.data["updateContext"]["version"]: o.op.tag for o in result.ok("merge")}
    assert not _lost_merges(history, merges), f"{result.label}: lost updates {_lost_merges(history, merges)}"
    await invariants.check(store, workspace, api, result.label)


async def test_plain_updates_never_conflict(api, store, workspace):
    await api.data('mutation { createContext(input: {path: "/m", title: "start"}) { version } }')
    for number in range(5):
        before = len(await _history(store, workspace, "/m"))
        titles = [f"t{number}_{i}" for i in range(12)]
        ops = [Op("update", UPDATE, {"path": "/m", "input": {"title": t}}) for t in titles]
        result = await race.run_round(api, "plain updates", number, ops)
        history = await _history(store, workspace, "/m")
        written = sorted(v.title for v in history[before:])
        assert not result.failed("update") and written == sorted(titles), (
            f"{result.label}: {result.summary()}; titles written {written}"
        )
        await invariants.check(store, workspace, api, result.label)


async def test_expected_version_admits_exactly_one_writer(api, store, workspace):
    await api.data('mutation { createContext(input: {path: "/m", title: "start"}) { version } }')
    for number in range(5):
        current = len(await _history(store, workspace, "/m"))
        ops = [
            Op("update", UPDATE, {"path": "/m", "input": {"title": f"t{number}_{i}", "expectedVersion": current}},
               frozenset({"CONFLICT"}))
            for i in range(8)
        ]
        result = await race.run_round(api, "compare-and-set updates", number, ops)
        winners = result.ok("update")
        history = await _history(store, workspace, "/m")
        assert len(winners) == 1 and len(history) == current + 1, (
            f"{result.label}: {result.summary()}; {len(history) - current} versions added"
        )
        assert history[-1].title == winners[0].data["updateContext"]["title"], result.label
        await invariants.check(store, workspace, api, result.label)


async def test_reverts_racing_updates(api, store, workspace, rng):
    await api.data('mutation { createContext(input: {path: "/m", title: "one", data: {a: 1}}) { version } }')
    await api.data(UPDATE, path="/m", input={"title": "two", "data": {"a": 2}})
    await api.data(UPDATE, path="/m", input={"title": "three", "mergeData": {"b": 3}})
    for number in range(4):
        before = len(await _history(store, workspace, "/m"))
        ops = [Op("revert", REVERT, {"path": "/m", "to": rng.randint(1, 3)}) for _ in range(4)]
        ops += [_merge({f"x{number}_{i}": i}) for i in range(8)]
        rng.shuffle(ops)
        result = await race.run_round(api, "reverts racing merges", number, ops)
        history = await _history(store, workspace, "/m")
        label = f"{result.label} [{result.summary()}]"
        assert not result.failed("revert") and not result.failed("merge") and len(history) == before + 12, (
            f"{label}; {len(history) - before} versions added"
        )
        for outcome in result.ok("revert"):
            made = history[outcome.data["revertContext"]["version"] - 1]
            target = history[outcome.op.variables["to"] - 1]
            assert [getattr(made, f) for f in STATE] == [getattr(target, f) for f in STATE], (
                f"{label}: v{made.number} reverting to v{target.number} holds {made.title} {made.data}"
            )
        merges = {o.data["updateContext"]["version"]: o.op.tag for o in result.ok("merge")}
        assert not _lost_merges(history, merges), f"{label}: lost updates {_lost_merges(history, merges)}"
        await invariants.check(store, workspace, api, label)
