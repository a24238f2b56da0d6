"""Tree and history invariants of one workspace, read back from the store and through the API.

`check(store, workspace, api)` loads every context and every version with the store's public
reads (nothing cached, no resolver in between) and raises `InvariantError` listing every
broken rule, so a failing race shows the whole wrong state at once, not only its first symptom.

Rules (what any sequence of successful writes must leave behind):
- tree: a root has `parent_id` None and depth 1; any other context's parent exists in the same
  workspace and `path == parent.path + "/" + name`; paths are unique and `get_by_paths` finds
  each context at its path; children listed / counted by the store agree with `parent_id`.
- history: version numbers are exactly 1..n and the context's `version` is n; the latest
  version holds the context's kind, title, content, data, tags and inherit. Its path is the
  context's path unless an ancestor was moved: moving a context rewrites its descendants'
  paths without adding versions to them (resolvers/contexts.py `move`, store contract
  `move_context`). Commit order and version timestamps may differ under concurrency, so
  "some ancestor has a move version" is the exact test that holds. No operation other than a
  move of the context itself changes its name, so the last path segment always matches.
- API: `contexts { parent { id } children { totalCount edges { node { id } } } }` agrees.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from contextql.graph.filters import Order
from contextql.graph.records import ContextRecord, Page, VersionRecord
from contextql.graph.store import GraphStore

PAGE = 500
CHILDREN_PAGE = 100  # the API's largest page
STATE_FIELDS = ("kind", "title", "content", "data", "tags", "inherit")


class InvariantError(AssertionError):
    pass


async def load(store: GraphStore, workspace: str) -> tuple[list[ContextRecord], dict[str, list[VersionRecord]]]:
    """Every context (by path) and every version (oldest first) of a workspace, from the store."""
    contexts: list[ContextRecord] = []
    while True:
        after = (contexts[-1].path,) if contexts else None
        page = await store.find_contexts(workspace, None, [Order("path")], Page(PAGE, after))
        contexts.extend(page)
        if len(page) < PAGE:
            break
    versions = await store.versions_of(workspace, [c.id for c in contexts]) if contexts else {}
    return contexts, versions


async def violations(store: GraphStore, workspace: str, api: Any | None = None) -> list[str]:
    contexts, versions = await load(store, workspace)
    problems: list[str] = []
    by_id = {c.id: c for c in contexts}
    if len(by_id) != len(contexts):
        problems.append(f"ids listed more than once: {_repeated(c.id for c in contexts)}")

    repeated_paths = _repeated(c.path for c in contexts)
    if repeated_paths:
        problems.append(f"paths held by more than one context: {repeated_paths}")

    children_of: dict[str, set[str]] = defaultdict(set)
    for c in contexts:
        problems.extend(_tree_problems(c, by_id, workspace))
        if c.parent_id is not None:
            children_of[c.parent_id].add(c.id)
        problems.extend(_history_problems(c, versions.get(c.id, []), _moved_ancestor(c, by_id, versions)))

    # Lookups by path (the index a create or move checks) find the context at its path.
    found = await store.get_by_paths(workspace, [c.path for c in contexts]) if contexts else {}
    for c in contexts:
        at = found.get(c.path)
        if at is None or at.id != c.id:
            problems.append(f"{c.path} ({c.id}): get_by_paths finds {at.id if at else None}")

    # The stored children (CHILD_OF links on both engines) agree with parent_id.
    ids = list(by_id)
    if ids:
        listed = await store.list_children(workspace, ids, Page(10_000))
        counted = await store.count_children(workspace, ids)
        for cid in ids:
            want = children_of.get(cid, set())
            got = {k.id for k in listed.get(cid, [])}
            if got != want or counted.get(cid) != len(want):
                problems.append(
                    f"{by_id[cid].path}: children by parent_id {_paths(want, by_id)}, "
                    f"list_children {_paths(got, by_id)}, count_children {counted.get(cid)}"
                )
    if api is not None:
        problems.extend(await _api_problems(api, by_id, children_of))
    return problems


async def check(store: GraphStore, workspace: str, api: Any | None = None, label: str = "") -> list[ContextRecord]:
    """Raise `InvariantError` naming every broken rule; returns the contexts when all hold."""
    problems = await violations(store, workspace, api)
    if problems:
        shown = "\n  ".join(problems[:40])
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise InvariantError(f"{label}: {len(problems)} invariant(s) broken in {workspace}:\n  {shown}{more}")
    return (await load(store, workspace))[0]


def _tree_problems(c: ContextRecord, by_id: dict[str, ContextRecord], workspace: str) -> list[str]:
    out = []
    if c.workspace != workspace:
        out.append(f"{c.path} ({c.id}) belongs to workspace {c.workspace!r}")
    if c.parent_id is None:
        if c.depth != 1:
            out.append(f"{c.path} ({c.id}) has no parent but depth {c.depth}")
        return out
    parent = by_id.get(c.parent_id)
    if parent is None:
        out.append(f"{c.path} ({c.id}) is an orphan: its parent {c.parent_id} does not exist")
    elif c.path != f"{parent.path}/{c.name}":
        out.append(f"{c.path} ({c.id}) has parent {parent.path} ({parent.id}): its path should be {parent.path}/{c.name}")
    return out


def _history_problems(c: ContextRecord, history: list[VersionRecord], moved_ancestor: bool) -> list[str]:
    numbers = [v.number for v in history]
    if numbers != list(range(1, len(numbers) + 1)):
        return [f"{c.path} ({c.id}) has versions {numbers}, not 1..{len(numbers)}"]
    if c.version != len(numbers):
        return [f"{c.path} ({c.id}) says version {c.version} but has {len(numbers)} versions"]
    latest = history[-1]
    out = []
    differ = [f for f in STATE_FIELDS if getattr(latest, f) != getattr(c, f)]
    if differ:
        out.append(
            f"{c.path} ({c.id}) v{c.version} ({latest.operation}) differs from its state in "
            + ", ".join(f"{f}: version {getattr(latest, f)!r} vs context {getattr(c, f)!r}" for f in differ)
        )
    if latest.path != c.path and not moved_ancestor:
        out.append(f"{c.path} ({c.id}): its latest version ({latest.operation}) says path {latest.path}, "
                   "yet no ancestor of it was ever moved")
    if latest.path.rsplit("/", 1)[-1] != c.name:
        out.append(f"{c.path} ({c.id}): its latest version ({latest.operation}) names it {latest.path}")
    return out


CONTEXTS = (
    "query($after: String) { contexts(first: 100, after: $after, orderBy: [{field: PATH}]) {"
    " edges { node { id path parent { id path }"
    f" children(first: {CHILDREN_PAGE}) {{ totalCount edges {{ node {{ id }} }} }} }} }}"
    " pageInfo { hasNextPage endCursor } } }"
)


async def _api_problems(api: Any, by_id: dict[str, ContextRecord], children_of: dict[str, set[str]]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    after = None
    while True:
        body = await api.run(CONTEXTS, after=after)
        if body.get("errors"):
            return [f"API: listing contexts failed: {body['errors']}"]
        conn = body["data"]["contexts"]
        for edge in conn["edges"]:
            node = edge["node"]
            seen.add(node["id"])
            record = by_id.get(node["id"])
            if record is None:
                out.append(f"API lists {node['path']} ({node['id']}) that the store does not")
                continue
            parent = node["parent"]
            if (parent and parent["id"]) != record.parent_id:
                out.append(f"API: {node['path']}.parent is {parent}, store parent_id {record.parent_id}")
            want = children_of.get(record.id, set())
            kids = node["children"]
            got = {e["node"]["id"] for e in kids["edges"]}
            # One page of children is listed: beyond it, only the count and membership can be compared.
            complete = got == want if len(want) <= CHILDREN_PAGE else got <= want and len(got) == CHILDREN_PAGE
            if not complete or kids["totalCount"] != len(want):
                out.append(
                    f"API: {node['path']}.children {_paths(got, by_id)} (totalCount {kids['totalCount']}), "
                    f"store {_paths(want, by_id)}"
                )
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    missing = set(by_id) - seen
    if missing:
        out.append(f"API does not list {_paths(missing, by_id)}")
    return out


def _moved_ancestor(c: ContextRecord, by_id: dict[str, ContextRecord], versions: dict[str, list[VersionRecord]]) -> bool:
    """Whether any ancestor (following parent_id, cycles cut) has a move in its history."""
    seen = {c.id}
    node = by_id.get(c.parent_id) if c.parent_id else None
    while node is not None and node.id not in seen:
        if any(v.operation == "move" for v in versions.get(node.id, [])):
            return True
        seen.add(node.id)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return False


def _repeated(values) -> list[Any]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _paths(ids: set[str], by_id: dict[str, ContextRecord]) -> list[str]:
    return sorted(by_id[i].path if i in by_id else f"<{i}>" for i in ids)
