"""The five operations of the peer benchmark, written once for ContextQL and once for the peer.

Each scenario draws a target (seeded per worker) and turns it into one request per server. The two
requests ask for the same thing over the same graph; `normalize` reduces either server's answer to
the same plain structure, which `bench.peer.run` compares before timing anything.

ContextQL serves one workspace (`CONTEXTQL_WORKSPACE=bench`); the peer has no workspaces, so each of
its root selections filters on `workspace: {eq: "bench"}`, which is what a user of @neo4j/graphql
would write for the same scoping.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.scenarios import CHILDREN as CQL_CHILDREN
from bench.scenarios import CHILDREN_PAGE
from bench.scenarios import CONTEXT_BY_PATH as CQL_BY_PATH
from bench.tree import WORKSPACE, Tree

NESTED_FIRST = 10
LIST_FIRST = 20
WS = f'workspace: {{eq: "{WORKSPACE}"}}'

# -- ContextQL ---------------------------------------------------------------------------------------

CQL_NESTED = """
query Nested($path: String!) {
  context(path: $path) {
    path title
    children(first: %(n)d) { edges { node {
      path title
      children(first: %(n)d) { edges { node { path title } } }
    } } }
  }
}""" % {"n": NESTED_FIRST}

CQL_LIST = """
query Filtered($prefix: String!, $kind: String!) {
  contexts(where: {path: {startsWith: $prefix}, kind: {eq: $kind}}, first: %d) {
    totalCount
    edges { node { path title kind } }
  }
}""" % LIST_FIRST

CQL_UPDATE = """
mutation Retitle($path: String!, $title: String!) {
  updateContext(path: $path, input: {title: $title}) { path title }
}"""

# -- the peer (@neo4j/graphql 7) ---------------------------------------------------------------------

PEER_BY_PATH = """
query ContextByPath($path: String!) {
  contexts(where: {%s, path: {eq: $path}}) { id path name depth kind title content data tags version updatedAt }
}""" % WS

PEER_CHILDREN = """
query ChildrenPage($path: String!, $after: String) {
  contexts(where: {%s, path: {eq: $path}}) {
    id path
    childrenConnection(first: %d, after: $after, sort: [{node: {name: ASC}}]) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id path name kind title version updatedAt } }
    }
  }
}""" % (WS, CHILDREN_PAGE)

PEER_NESTED = """
query Nested($path: String!) {
  contexts(where: {%(ws)s, path: {eq: $path}}) {
    path title
    children(limit: %(n)d, sort: [{name: ASC}]) {
      path title
      children(limit: %(n)d, sort: [{name: ASC}]) { path title }
    }
  }
}""" % {"ws": WS, "n": NESTED_FIRST}

PEER_LIST = """
query Filtered($prefix: String!, $kind: String!) {
  contextsConnection(where: {%s, path: {startsWith: $prefix}, kind: {eq: $kind}}, first: %d, sort: [{path: ASC}]) {
    totalCount
    edges { node { path title kind } }
  }
}""" % (WS, LIST_FIRST)

PEER_UPDATE = """
mutation Retitle($path: String!, $title: String!) {
  updateContexts(where: {%s, path: {eq: $path}}, update: {title: {set: $title}}) { contexts { path title } }
}""" % WS


def peer_cursor(offset: int) -> str:
    """@neo4j/graphql's connection cursor (graphql-relay's offsetToCursor)."""
    return base64.b64encode(f"arrayconnection:{offset}".encode()).decode()


# -- targets -----------------------------------------------------------------------------------------


def extra_targets(tree: Tree, *, sample: int = 500, seed: int = 7) -> dict[str, Any]:
    """Targets of the scenarios the main benchmark does not have (the tree is rebuilt from its seed)."""
    rng = random.Random(f"{tree.seed}:{seed}:peer")
    nodes = tree.nodes
    # Nested: contexts at depth 1-3 with grandchildren, so all three levels are there.
    has_children = {n.parent for n in nodes if n.parent is not None}
    grand = {nodes[i].parent for i in has_children if nodes[i].parent is not None}
    nested = [n.path for n in nodes if n.index in grand and n.depth <= 3]
    # Filtered list: a depth-2 subtree and a kind found at least LIST_FIRST times in it.
    counts: Counter[tuple[str, str]] = Counter()
    from bench.tree import node_fields

    ancestor_at_2: dict[int, int] = {}
    for n in nodes:  # parents come before children
        if n.depth == 2:
            ancestor_at_2[n.index] = n.index
        elif n.depth > 2 and n.parent in ancestor_at_2:
            ancestor_at_2[n.index] = ancestor_at_2[n.parent]
            counts[(nodes[ancestor_at_2[n.index]].path + "/", node_fields(tree, n)["kind"])] += 1
    filtered = [{"prefix": p, "kind": k, "matches": c} for (p, k), c in sorted(counts.items()) if c >= LIST_FIRST]
    return {
        "nested": rng.sample(nested, min(sample, len(nested))),
        "filtered_list": rng.sample(filtered, min(sample, len(filtered))),
    }


# -- scenarios ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    query: str
    variables: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    pick: Callable[[random.Random, dict[str, Any]], dict[str, Any]]
    contextql: Callable[[dict[str, Any]], Request]
    peer: Callable[[dict[str, Any]], Request]
    # (server, response data) -> the same plain structure for both servers
    normalize: Callable[[str, dict[str, Any]], Any]
    # The target list `pick` draws from: its length is the scenario's working set (see run._settle).
    drawn_from: str
    mutation: bool = False


_titles = itertools.count()


def _pick_path(key: str) -> Callable[[random.Random, dict[str, Any]], dict[str, Any]]:
    return lambda rng, targets: {"path": rng.choice(targets[key])}


def _pick_children(rng: random.Random, targets: dict[str, Any]) -> dict[str, Any]:
    # The first page of a random parent: ContextQL's cursors are positions (a child's name and id),
    # which the target list does not carry, so later pages could not be asked of both servers alike.
    parent = rng.choice(targets["children_page"])
    return {"path": parent["path"], "page": 0}


def _pick_list(rng: random.Random, targets: dict[str, Any]) -> dict[str, Any]:
    chosen = rng.choice(targets["filtered_list"])
    return {"prefix": chosen["prefix"], "kind": chosen["kind"]}


def _pick_update(rng: random.Random, targets: dict[str, Any]) -> dict[str, Any]:
    # Always a new title, so ContextQL really writes a version (an unchanged title is a no-op there).
    return {"path": rng.choice(targets["context_by_path"]), "title": f"Retitled {rng.getrandbits(40):x}-{next(_titles)}"}


def _micros(value: Any) -> int:
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return round(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)
    return int(value)


def _one(server: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """The root context: ContextQL's `context`, or the single element of the peer's `contexts`."""
    if server == "contextql":
        return data.get("context")
    found = data.get("contexts") or []
    return found[0] if len(found) == 1 else None


def _norm_by_path(server: str, data: dict[str, Any]) -> Any:
    c = _one(server, data)
    if c is None:
        return None
    payload = json.loads(c["data"]) if isinstance(c["data"], str) else c["data"]
    return {"id": c["id"], "path": c["path"], "name": c["name"], "depth": c["depth"], "kind": c["kind"],
            "title": c["title"], "content": c["content"], "data": payload, "tags": sorted(c["tags"]),
            "version": c["version"], "updatedAt": _micros(c["updatedAt"])}


def _norm_children(server: str, data: dict[str, Any]) -> Any:
    c = _one(server, data)
    if c is None:
        return None
    page = c["children"] if server == "contextql" else c["childrenConnection"]
    return {"path": c["path"], "totalCount": page["totalCount"], "hasNextPage": page["pageInfo"]["hasNextPage"],
            "nodes": [(e["node"]["path"], e["node"]["title"], e["node"]["version"], _micros(e["node"]["updatedAt"]))
                      for e in page["edges"]]}


def _norm_nested(server: str, data: dict[str, Any]) -> Any:
    def kids(node: dict[str, Any]) -> list[dict[str, Any]]:
        if server == "contextql":
            return [e["node"] for e in node["children"]["edges"]]
        return node["children"]

    def walk(node: dict[str, Any]) -> Any:
        return [node["path"], node["title"], [walk(k) for k in kids(node)] if "children" in node else None]

    c = _one(server, data)
    return None if c is None else walk(c)


def _norm_list(server: str, data: dict[str, Any]) -> Any:
    conn = data["contexts"] if server == "contextql" else data["contextsConnection"]
    return {"totalCount": conn["totalCount"],
            "nodes": [(e["node"]["path"], e["node"]["title"], e["node"]["kind"]) for e in conn["edges"]]}


def _norm_update(server: str, data: dict[str, Any]) -> Any:
    if server == "contextql":
        c = data.get("updateContext")
    else:
        found = (data.get("updateContexts") or {}).get("contexts") or []
        c = found[0] if len(found) == 1 else None
    return None if c is None else {"path": c["path"], "title": c["title"]}


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("context_by_path", "one context by path", _pick_path("context_by_path"),
             lambda t: Request(CQL_BY_PATH, {"path": t["path"]}),
             lambda t: Request(PEER_BY_PATH, {"path": t["path"]}), _norm_by_path, "context_by_path"),
    Scenario("children_page", f"children page of {CHILDREN_PAGE} with totalCount", _pick_children,
             lambda t: Request(CQL_CHILDREN, {"path": t["path"],
                                              "after": None}),
             lambda t: Request(PEER_CHILDREN, {"path": t["path"],
                                               "after": peer_cursor(t["page"] * CHILDREN_PAGE - 1) if t["page"] else None}),
             _norm_children, "children_page"),
    Scenario("nested", f"nested: a context, {NESTED_FIRST} children, {NESTED_FIRST} of theirs",
             _pick_path("nested"),
             lambda t: Request(CQL_NESTED, {"path": t["path"]}),
             lambda t: Request(PEER_NESTED, {"path": t["path"]}), _norm_nested, "nested"),
    Scenario("filtered_list", f"path prefix AND kind, first {LIST_FIRST}, totalCount", _pick_list,
             lambda t: Request(CQL_LIST, dict(t)), lambda t: Request(PEER_LIST, dict(t)), _norm_list, "filtered_list"),
    Scenario("update_title", "mutation: change one title", _pick_update,
             lambda t: Request(CQL_UPDATE, dict(t)), lambda t: Request(PEER_UPDATE, dict(t)), _norm_update,
             "context_by_path", mutation=True),
)}


def check(scenario: Scenario, server: str, body: dict[str, Any], target: dict[str, Any]) -> str | None:
    """None when the response is a full answer (checked on every timed request); else what is wrong."""
    if not isinstance(body, dict):
        return "not a JSON object"
    if body.get("errors"):
        return "errors: " + "; ".join(str(e.get("message")) for e in body["errors"][:2])
    data = body.get("data")
    if not data:
        return "no data"
    value = scenario.normalize(server, data)
    if value is None:
        return "nothing found"
    if scenario.name == "children_page" and not value["nodes"]:
        return "empty children page"
    if scenario.name == "filtered_list" and not value["nodes"]:
        return "empty list"
    if scenario.mutation and value["title"] != target["title"]:
        return "title not changed"
    return None
