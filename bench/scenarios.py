"""The four measured GraphQL operations and how each request picks its variables.

Each request draws its target at random (seeded per worker) from the manifest's
targets, so the engine cannot answer every request from one hot row.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contextql.resolvers.pagination import CHILDREN as CHILDREN_CURSOR, encode_cursor

CHILDREN_PAGE = 50
HISTORY_PAGE = 20


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    query: str
    pick: Callable[[random.Random, dict[str, Any]], dict[str, Any]]


CONTEXT_BY_PATH = """
query ContextByPath($path: String!) {
  context(path: $path) { id path name depth kind title content data tags version updatedAt }
}"""

CHILDREN = """
query ChildrenPage($path: String!, $after: String) {
  context(path: $path) {
    id path
    children(first: %d, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id path name kind title version updatedAt } }
    }
  }
}""" % CHILDREN_PAGE

EFFECTIVE = """
query EffectiveLeaf($path: String!) {
  context(path: $path) {
    id path depth
    effective { data sources { pointer path contextId version } }
  }
}"""

HISTORY = """
query HistoryPage($path: String!) {
  context(path: $path) {
    id path version
    history(first: %d) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id number operation changed title data author { id } createdAt } }
    }
  }
}""" % HISTORY_PAGE


def _by_path(rng: random.Random, targets: dict[str, Any]) -> dict[str, Any]:
    return {"path": rng.choice(targets["context_by_path"])}


def _children(rng: random.Random, targets: dict[str, Any]) -> dict[str, Any]:
    parent = rng.choice(targets["children_page"])
    # The first page, or the page after a sampled child (cursors are positions, not offsets).
    positions = [None] + parent.get("positions", [])
    position = rng.choice(positions)
    return {"path": parent["path"], "after": None if position is None else encode_cursor(CHILDREN_CURSOR, tuple(position))}


def _effective(rng: random.Random, targets: dict[str, Any]) -> dict[str, Any]:
    return {"path": rng.choice(targets["effective_leaf"])}


def _history(rng: random.Random, targets: dict[str, Any]) -> dict[str, Any]:
    return {"path": rng.choice(targets["history_page"])}


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("context_by_path", "context by path", CONTEXT_BY_PATH, _by_path),
        Scenario("children_page", f"children page of {CHILDREN_PAGE}", CHILDREN, _children),
        Scenario("effective_leaf", "effective view of a depth-8 leaf", EFFECTIVE, _effective),
        Scenario("history_page", f"history page ({HISTORY_PAGE} versions)", HISTORY, _history),
    )
}


def check(name: str, body: dict[str, Any]) -> str | None:
    """None when the response is a full, correct answer for the scenario; else what is wrong."""
    if body.get("errors"):
        return "errors: " + "; ".join(str(e.get("message")) for e in body["errors"][:2])
    node = (body.get("data") or {}).get("context")
    if node is None:
        return "context is null"
    if name == "children_page" and not node["children"]["edges"]:
        return "empty children page"
    if name == "effective_leaf" and not node["effective"]["sources"]:
        return "no effective sources"
    if name == "history_page" and len(node["history"]["edges"]) < min(HISTORY_PAGE, node["version"]):
        return "short history page"
    return None
