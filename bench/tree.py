"""The benchmark tree: a deterministic (seeded) shape and the records that fill it.

Shape, for `contexts=N`, `depth=D` (8) and `fanout=F` (10):

- Level sizes grow F-fold from F top-level contexts until the rest of the budget,
  split evenly over the remaining levels, is smaller: for N=50,000 that is
  10 / 100 / 1,000 / 9,778 / 9,778 / 9,778 / 9,778 / 9,778 (sum 50,000), so
  depth-8 leaves are plentiful.
- A level's contexts are shared among randomly chosen parents of the level above,
  each getting about F children (1 + a binomial share, mean F).
- A few "wide" parents at depths 2-4 get `WIDE_CHILDREN` (150) children each, so a
  children page of 50 is really 50 rows (and pages 2 and 3 exist). They are
  counted in the level budget.

Every context has a title, ~300 bytes of content, three tags and nested JSON data
whose keys partly override their ancestors' (so an effective view merges real
data from all 8 levels). Ids are UUIDs drawn from the seeded generator, and
timestamps are fixed, so the same seed gives the same records byte for byte.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from contextql.graph.records import ContextRecord, VersionRecord

WORKSPACE = "bench"
AUTHOR = "bench"
WIDE_CHILDREN = 150
BASE_TIME_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z

KINDS = ("organization", "team", "project", "service", "environment", "component", "module", "item")
PREFIXES = ("org", "team", "proj", "svc", "env", "comp", "mod", "item")
VERSIONED_FIELDS = ["kind", "title", "content", "data", "tags", "inherit"]
WORDS = (
    "graph context version agent policy schema owner region deploy budget latency quota review "
    "incident runbook metric alert token cache index replica shard backup restore audit secret "
    "feature rollout canary service tenant contract limit window retry timeout queue stream"
).split()


@dataclass(frozen=True, slots=True)
class Node:
    index: int  # creation order (breadth-first: parents before children)
    id: str
    path: str
    depth: int
    parent: int | None  # index of the parent node
    children: int = 0


@dataclass
class Tree:
    contexts: int
    depth: int
    fanout: int
    seed: int
    nodes: list[Node] = field(default_factory=list)
    level_sizes: list[int] = field(default_factory=list)
    wide: list[int] = field(default_factory=list)  # node indexes of the wide parents

    def at_depth(self, depth: int) -> list[Node]:
        return [n for n in self.nodes if n.depth == depth]


def level_sizes(contexts: int, depth: int, fanout: int) -> list[int]:
    sizes: list[int] = []
    remaining = contexts
    for level in range(1, depth + 1):
        left = depth - level + 1
        size = min(fanout**level, remaining // left) if level < depth else remaining
        if level > 1:
            size = min(size, sizes[-1] * max(fanout * 20, WIDE_CHILDREN))
        size = max(size, 1)
        sizes.append(size)
        remaining -= size
        if remaining <= 0:
            break
    return sizes


def build_tree(contexts: int = 50_000, depth: int = 8, fanout: int = 10, seed: int = 20250101) -> Tree:
    """The shape of the tree (ids, paths, parents), parents before children."""
    if contexts < depth * 2:
        raise ValueError(f"need at least {depth * 2} contexts for a depth-{depth} tree")
    rng = random.Random(seed)
    sizes = level_sizes(contexts, depth, fanout)
    tree = Tree(contexts=contexts, depth=depth, fanout=fanout, seed=seed, level_sizes=sizes)
    wide_per_level = max(1, round(contexts / 50_000 * 7))

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    # Level 1: top-level contexts.
    previous: list[int] = []
    for i in range(sizes[0]):
        tree.nodes.append(Node(len(tree.nodes), new_id(), f"/{PREFIXES[0]}-{i:02d}", 1, None))
        previous.append(len(tree.nodes) - 1)

    child_counts: dict[int, int] = {}
    for level in range(2, len(sizes) + 1):
        budget = sizes[level - 1]
        counts: dict[int, int] = {}
        candidates = list(previous)
        rng.shuffle(candidates)
        # Wide parents (depth 2..4 parents): WIDE_CHILDREN each, at most half the budget.
        if 2 <= level - 1 <= 4:
            for _ in range(wide_per_level):
                if not candidates or sizes[level - 1] - budget + WIDE_CHILDREN > sizes[level - 1] // 2:
                    break
                parent = candidates.pop()
                counts[parent] = WIDE_CHILDREN
                tree.wide.append(parent)
                budget -= WIDE_CHILDREN
        # The rest: about `fanout` children for each of ceil(budget / fanout) parents.
        if budget > 0:
            wanted = min(max(1, math.ceil(budget / fanout)), len(candidates)) or 1
            parents = candidates[:wanted] if candidates else [previous[0]]
            shares = [1] * len(parents)
            for pick in rng.choices(range(len(parents)), k=budget - len(parents)):
                shares[pick] += 1
            for parent, share in zip(parents, shares):
                counts[parent] = counts.get(parent, 0) + share
        current: list[int] = []
        prefix = PREFIXES[min(level, len(PREFIXES)) - 1]
        for parent in sorted(counts):  # parents in creation order: children stay breadth-first
            width = max(2, len(str(counts[parent] - 1)))
            for i in range(counts[parent]):
                node = Node(len(tree.nodes), new_id(), f"{tree.nodes[parent].path}/{prefix}-{i:0{width}d}", level, parent)
                tree.nodes.append(node)
                current.append(node.index)
        child_counts.update(counts)
        previous = current
    tree.nodes = [
        Node(n.index, n.id, n.path, n.depth, n.parent, child_counts.get(n.index, 0)) for n in tree.nodes
    ]
    return tree


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def node_fields(tree: Tree, node: Node) -> dict[str, Any]:
    """Title, content, data, tags and kind of one node (deterministic per node)."""
    rng = random.Random(f"{tree.seed}:{node.index}")
    kind = KINDS[min(node.depth, len(KINDS)) - 1]
    name = node.path.rsplit("/", 1)[-1]
    data = {
        kind: {"name": name, "owner": f"owner-{rng.randrange(500)}", "weight": rng.randrange(1000)},
        "settings": {
            "retries": node.depth,
            "timeout_ms": 100 * node.depth + rng.randrange(100),
            f"{kind}_enabled": rng.random() < 0.8,
        },
        "labels": {f"l{node.depth}": _text(rng, 2)},
        "region": rng.choice(["eu-west", "us-east", "ap-south"]),
    }
    return {
        "kind": kind,
        "title": f"{kind.capitalize()} {name}",
        "content": f"{kind} {name}: " + _text(rng, 40),
        "data": data,
        "tags": sorted({kind, f"depth-{node.depth}", rng.choice(WORDS)}),
    }


def records(tree: Tree, workspace: str = WORKSPACE, start: int = 0, stop: int | None = None
            ) -> tuple[list[ContextRecord], list[VersionRecord]]:
    """ContextRecords and their first versions for nodes[start:stop], as the create resolver builds them."""
    contexts: list[ContextRecord] = []
    versions: list[VersionRecord] = []
    for node in tree.nodes[start:stop]:
        f = node_fields(tree, node)
        at = BASE_TIME_US + node.index * 1_000
        record = ContextRecord(
            id=node.id, workspace=workspace, path=node.path,
            parent_id=None if node.parent is None else tree.nodes[node.parent].id,
            kind=f["kind"], title=f["title"], content=f["content"], data=f["data"], tags=f["tags"],
            inherit=True, version=1, created_at=at, updated_at=at, created_by=AUTHOR, updated_by=AUTHOR,
        )
        contexts.append(record)
        versions.append(VersionRecord(
            context_id=record.id, workspace=workspace, number=1, operation="create", path=record.path,
            kind=record.kind, title=record.title, content=record.content, data=record.data, tags=record.tags,
            inherit=record.inherit, author=AUTHOR, created_at=at, changed=list(VERSIONED_FIELDS),
        ))
    return contexts, versions


def targets(tree: Tree, *, sample: int = 2_000, history_contexts: int = 50, seed: int | None = None) -> dict[str, Any]:
    """What each scenario asks for, chosen with the seed (the load driver samples from these)."""
    rng = random.Random(f"{tree.seed if seed is None else seed}:targets")
    nodes = tree.nodes
    by_path = rng.sample([n.path for n in nodes], min(sample, len(nodes)))
    deepest = max(n.depth for n in nodes)
    leaves = [n.path for n in nodes if n.depth == deepest]
    effective = rng.sample(leaves, min(sample, len(leaves)))
    wide = [nodes[i] for i in tree.wide] or sorted(nodes, key=lambda n: -n.children)[:5]
    # Keyset cursors name a position, so a page is reached from a child's (name, id): a sample
    # of each wide parent's children stands in for "some page further down".
    kids: dict[int, list[Node]] = {n.index: [] for n in wide}
    for node in nodes:
        if node.parent in kids:
            kids[node.parent].append(node)
    def positions(parent: Node) -> list[list[str]]:
        # Not after the last child: that page is rightly empty, and a scenario measures full pages.
        keys = sorted([c.path.rsplit("/", 1)[-1], c.id] for c in kids[parent.index])[:-1]
        return rng.sample(keys, min(20, len(keys)))

    children = [{"path": n.path, "children": n.children, "positions": positions(n)} for n in wide]
    # History: spread over depths 2..deepest (never the wide parents: they are in another scenario).
    pool = [n for n in nodes if n.depth >= 2 and n.index not in set(tree.wide)]
    history = [n.path for n in rng.sample(pool, min(history_contexts, len(pool)))]
    return {
        "context_by_path": by_path,
        "children_page": children,
        "effective_leaf": effective,
        "effective_depth": deepest,
        "history_page": history,
    }
