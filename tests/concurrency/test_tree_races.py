"""Tree writes racing each other: creates vs moves and renames, creates vs recursive deletes,
sibling subtrees moved into each other. After every round the workspace must satisfy every
invariant of `invariants.py`; a losing operation may only answer CONFLICT or NOT_FOUND."""

from __future__ import annotations


from contextql.graph.filters import subtree
from contextql.graph.records import Page

from . import invariants
from . import race
from .race import Op

LOSES = frozenset({"CONFLICT", "NOT_FOUND"})

CREATE = """
mutation($input: CreateContextInput!, $parents: Boolean!) {
  createContext(input: $input, createParents: $parents) { id path }
}"""
CREATE_MANY = """
mutation($inputs: [CreateContextInput!]!) {
  createContexts(inputs: $inputs, createParents: true) { id path }
}"""
MOVE = """
mutation($id: ID!, $to: String!) { moveContext(id: $id, to: $to) { movedCount context { id path } } }"""
DELETE = """
mutation($path: String!) { deleteContext(path: $path, recursive: true) { deletedCount } }"""


async def _make(api, store, workspace: str, *paths: str) -> dict[str, str]:
    """Create `paths` (parents too) before a round; returns path -> id of them and their ancestors."""
    await api.data(CREATE_MANY, inputs=[{"path": p} for p in paths])
    wanted = {"/".join(p.split("/")[:n]) for p in paths for n in range(2, p.count("/") + 2)}
    return {path: c.id for path, c in (await store.get_by_paths(workspace, sorted(wanted))).items()}


def _create(path: str, parents: bool) -> Op:
    return Op("create", CREATE, {"input": {"path": path}, "parents": parents}, LOSES, tag=path)


def _move(context_id: str, to: str) -> Op:
    return Op("move", MOVE, {"id": context_id, "to": to}, LOSES)


async def test_creates_racing_moves_and_renames(api, store, workspace, rng):
    ids = await _make(api, store, workspace, "/a/b")
    a, b = ids["/a"], ids["/a/b"]
    for number in range(8):
        # Creates aim at where /a/b is now; one move of /a (to /z or back) and one rename of b race them.
        now = await store.get_by_ids(workspace, [a, b])
        top, mid = now[a].path, now[b].path
        ops = [_create(f"{mid}/c{number}_{i}", parents=rng.random() < 0.2) for i in range(20)]
        ops.append(_move(a, "/z" if top == "/a" else "/a"))
        ops.append(_move(b, rng.choice([f"{top}/b", f"{top}/bb"])))
        rng.shuffle(ops)
        result = await race.run_round(api, "creates racing moves", number, ops)
        await invariants.check(store, workspace, api, f"{result.label} [{result.summary()}]")
        created = {o.data["createContext"]["id"]: o.op.tag for o in result.ok("create")}
        found = await store.get_by_ids(workspace, list(created))
        lost = sorted(path for cid, path in created.items() if cid not in found)
        renamed = sorted(f"{path} -> {found[cid].path}" for cid, path in created.items()
                         if cid in found and found[cid].name != path.rsplit("/", 1)[-1])
        assert not lost and not renamed, f"{result.label}: created contexts lost {lost}, renamed {renamed}"
    # Recursive deletes of the roots must leave nothing behind (no context with a stale path survives).
    for root in ("/a", "/z"):
        if await store.get_by_paths(workspace, [root]):
            await api.data(DELETE, path=root)
    left = await store.find_contexts(workspace, None, [], Page(10_000))
    assert not left, f"after deleting every root recursively, left {[c.path for c in left]}"


async def test_creates_racing_recursive_delete(api, store, workspace, rng):
    for number in range(6):
        root = f"/d{number}"
        await _make(api, store, workspace, *(f"{root}/x/y{j}" for j in range(4)))
        ops = [
            _create(f"{root}/x/y{rng.randrange(4)}/k{i}", parents=rng.random() < 0.5) for i in range(16)
        ]
        ops += [
            Op("create many", CREATE_MANY,
               {"inputs": [{"path": f"{root}/x/y{rng.randrange(5)}/m{i}_{n}/leaf"} for n in range(3)]}, LOSES)
            for i in range(4)
        ]
        ops.append(Op("delete", DELETE, {"path": rng.choice([root, f"{root}/x"])}, frozenset({"NOT_FOUND"})))
        rng.shuffle(ops)
        result = await race.run_round(api, "creates racing a recursive delete", number, ops)
        label = f"{result.label} [{result.summary()}]"
        await invariants.check(store, workspace, api, label)
        # A recursive delete of what is left must take the whole subtree with it.
        if await store.get_by_paths(workspace, [root]):
            await api.data(DELETE, path=root)
        left = await store.find_contexts(workspace, subtree(root, include_self=True), [], Page(10_000))
        assert not left, f"{label}: after deleting {root} recursively, left {[c.path for c in left]}"
        await invariants.check(store, workspace, api, label + " after the clean-up delete")
    assert await store.count_contexts(workspace, None) == 0, "contexts left outside every deleted subtree"


async def test_overlapping_recursive_deletes(api, store, workspace, rng):
    for number in range(5):
        root = f"/o{number}"
        await _make(api, store, workspace, *(f"{root}/x/y{j}/leaf" for j in range(4)))
        targets = [root, f"{root}/x", f"{root}/x/y0", f"{root}/x/y1", f"{root}/x/y2/leaf"]
        ops = [Op("delete", DELETE, {"path": path}, frozenset({"NOT_FOUND"})) for path in targets]
        rng.shuffle(ops)
        result = await race.run_round(api, "overlapping recursive deletes", number, ops)
        label = f"{result.label} [{result.summary()}]"
        await invariants.check(store, workspace, api, label)
        assert await store.count_contexts(workspace, None) == 0, f"{label}: contexts survived"


async def test_sibling_moves_never_make_cycles(api, store, workspace, rng):
    for number in range(6):
        root = f"/s{number}"
        ids = await _make(api, store, workspace, *(f"{root}/p{i}/leaf" for i in range(6)))
        siblings = [ids[f"{root}/p{i}"] for i in range(6)]
        pairs = [(0, 1), (1, 0), (2, 3), (3, 4), (4, 2)]  # swaps and a three-cycle, plus random ones
        pairs += [tuple(rng.sample(range(6), 2)) for _ in range(10)]
        ops = [_move(siblings[i], f"{root}/p{j}/p{i}") for i, j in pairs]
        rng.shuffle(ops)
        result = await race.run_round(api, "sibling moves", number, ops)
        label = f"{result.label} [{result.summary()}]"
        contexts = await invariants.check(store, workspace, api, label)
        by_id = {c.id: c for c in contexts}
        for sibling in siblings:
            chain, node = [], by_id[sibling]
            while node.parent_id is not None and len(chain) <= len(by_id):
                chain.append(node.path)
                node = by_id.get(node.parent_id) or node.replace(parent_id=None)
            assert len(chain) <= len(by_id), f"{label}: cycle through {chain[:8]}"
            assert node.path == root, f"{label}: {by_id[sibling].path} is not below {root}"

