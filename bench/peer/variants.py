"""The servers a peer run can measure (`--servers`), and the CPU of a server with its worker processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.load import cpu_seconds


@dataclass(frozen=True)
class Variant:
    name: str
    backend: str  # "neo4j", "ladybug" (embedded, its own copy of the tree) or "peer"
    workers: int = 1

    @property
    def kind(self) -> str:
        """Whose GraphQL it speaks: "contextql" or "peer" (bench/peer/scenarios.py)."""
        return "peer" if self.backend == "peer" else "contextql"

    @property
    def on_neo4j(self) -> bool:
        """Reads and writes the Neo4j the peer uses (the embedded variant has its own copy)."""
        return self.backend != "ladybug"

    @property
    def counts_statements(self) -> bool:
        # GET /debug/stats answers one worker's counter, whichever worker took the connection.
        return self.workers == 1


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("contextql", "neo4j"),
    Variant("peer", "peer"),
    Variant("contextql-ladybug", "ladybug"),
    Variant("contextql-w2", "neo4j", workers=2),
)}


def parse_servers(text: str) -> list[str]:
    """`--servers`: "all" or a comma-separated selection, in VARIANTS order; the peer is always one of them
    (every answer is checked against the peer's before timing)."""
    chosen = list(VARIANTS) if text == "all" else [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown server(s) {unknown}; known: {', '.join(VARIANTS)}")
    if "peer" not in chosen or len(set(chosen)) < 2:
        raise SystemExit("--servers needs the peer and at least one ContextQL variant (answers are checked "
                         "against the peer's)")
    return [name for name in VARIANTS if name in chosen]


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def tree_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and all its living descendants (uvicorn's workers are children of its
    supervisor, whose own stat counts a child only once it has ended and been waited for)."""
    own = cpu_seconds(pid)
    if own is None:
        return None
    children, total = _children(), own
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        total += cpu_seconds(child) or 0.0
        todo += children.get(child, [])
    return total
