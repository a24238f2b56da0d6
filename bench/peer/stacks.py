"""Aggregate py-spy collapsed stacks (`py-spy record --format raw`) by what the server was doing.

    python -m bench.peer.stacks bench/.work/.../profile/children_page.txt [more.txt ...] [--top 15]

A line of the input is `root;...;leaf COUNT`, each frame `function (path/to/module.py:line)`, py-spy
printing paths relative to sys.path (`strawberry/schema/execute.py`, `asyncio/base_events.py`, or
the project's `schema/types.py`). Three views:

- exclusive: each sample goes to one group, the leaf-most frame that belongs to a known library or
  to the project; standard-library frames count for their nearest such caller (a `dict` copy in
  graph/ is graph/'s cost), except json (serialisation) and asyncio (the event loop), which are
  groups of their own. The shares add up to 100 %.
- inclusive: share of samples with a marker anywhere on the stack (parse, validate, execute,
  dataloaders, driver...), so "time under" each phase; these overlap. (Strawberry extensions are
  left out here: an extension's on_execute wraps the whole execution, so "under" says nothing.)
- hot spots: leaf functions by self samples (with the project/library caller that led there) and
  project functions by inclusive samples.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
PROJECT = ("server", "schema", "resolvers", "graph", "models")
# The frames every sample has below the event loop (process start, uvicorn's asyncio.run): never a
# group of their own, so the loop's own work (uvloop is C: its time shows on `Runner.run`) is the
# event loop's, not uvicorn's or server/'s.
BOOTSTRAP = ("<frozen runpy>", "server/__main__.py", "server/cli.py", "server/serving.py", "uvicorn/_compat.py",
             "uvicorn/server.py", "uvicorn/main.py")
STDLIB = set(sys.stdlib_module_names) | {"<frozen importlib._bootstrap>", "<frozen abc>"}


@dataclass(frozen=True, slots=True)
class Frame:
    func: str
    file: str

    @property
    def top(self) -> str:
        return self.file.split("/", 1)[0].removesuffix(".py")

    @property
    def stdlib(self) -> bool:
        return self.top in STDLIB or self.file.startswith("<")

    @property
    def bootstrap(self) -> bool:
        return self.file.startswith(BOOTSTRAP)

    @property
    def name(self) -> str:
        return f"{self.file}:{self.func}"


def parse_frame(text: str) -> Frame:
    m = FRAME.match(text.strip())
    return Frame(m["func"], m["file"]) if m else Frame(text.strip(), "?")


def read(paths: Iterable[Path]) -> Counter[tuple[Frame, ...]]:
    stacks: Counter[tuple[Frame, ...]] = Counter()
    for path in paths:
        for line in Path(path).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(parse_frame(f) for f in stack.split(";"))] += int(count)
    return stacks


def _in(*prefixes: str) -> Callable[[Frame], bool]:
    return lambda f: f.file.startswith(prefixes)


# Exclusive groups, tried on each frame from the leaf up; the first frame matching any wins.
GROUPS: list[tuple[str, Callable[[Frame], bool]]] = [
    ("Neo4j Python driver (incl. Bolt packing, socket I/O)", _in("neo4j/")),
    ("JSON encode/decode (json)", _in("json/")),
    ("GraphQL parse (graphql-core language)", _in("graphql/language/")),
    ("GraphQL validate (graphql-core validation)", _in("graphql/validation/")),
    ("Strawberry extensions + ContextQL guard", _in("strawberry/extensions/", "schema/guard.py", "server/guard/")),
    ("dataloaders (aiodataloader, resolvers/loaders.py)", _in("aiodataloader", "strawberry/dataloader", "resolvers/loaders.py")),
    ("ContextQL graph store (graph/)", _in("graph/")),
    ("ContextQL domain (resolvers/)", _in("resolvers/")),
    ("ContextQL schema types and field resolvers (schema/)", _in("schema/")),
    ("GraphQL execution (graphql-core execution, types, utilities)", _in("graphql/")),
    ("Strawberry (execute, field/type machinery, HTTP view)", _in("strawberry/")),
    ("ContextQL server (server/: middleware, auth, app)", _in("server/")),
    ("Starlette", _in("starlette/")),
    ("uvicorn + httptools (HTTP protocol)", _in("uvicorn/", "httptools/", "h11/")),
    ("pydantic", _in("pydantic/", "pydantic_core/")),
    ("other libraries", lambda f: not f.stdlib),
]
FALLBACK: list[tuple[str, Callable[[Frame], bool]]] = [
    ("asyncio / uvloop event loop", _in("asyncio/", "uvloop/", "selectors.py")),
]

# Inclusive markers: a sample counts for each marker found anywhere on its stack.
MARKERS: list[tuple[str, Callable[[Frame], bool]]] = [
    ("HTTP request handling (Starlette app and middleware)", _in("starlette/")),
    ("Strawberry HTTP view (request to response)", _in("strawberry/http/")),
    ("GraphQL parse", lambda f: f.file.startswith("graphql/language/parser") or f.func == "parse_document"),
    ("GraphQL validate", _in("graphql/validation/")),
    ("GraphQL execute (graphql-core execution)", _in("graphql/execution/")),
    ("ContextQL schema (schema/)", _in("schema/")),
    ("ContextQL domain (resolvers/, incl. loaders)", _in("resolvers/")),
    ("dataloader batch functions (and the store calls they make)", _in("resolvers/loaders.py")),
    ("ContextQL graph store (graph/)", _in("graph/")),
    ("Neo4j Python driver", _in("neo4j/")),
    ("JSON encode/decode", _in("json/")),
    ("asyncio / uvloop event loop (self, from the exclusive view)", lambda f: False),
]


@dataclass
class Breakdown:
    total: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    markers: Counter[str] = field(default_factory=Counter)
    self_spots: Counter[str] = field(default_factory=Counter)
    project_inclusive: Counter[str] = field(default_factory=Counter)
    library_inclusive: Counter[str] = field(default_factory=Counter)


def _group(stack: tuple[Frame, ...]) -> str:
    for rules in (GROUPS, FALLBACK):
        for frame in reversed(stack):
            for name, match in rules:
                if not frame.bootstrap and match(frame):
                    return name
    return "other (standard library, interpreter)"


def _self_name(stack: tuple[Frame, ...]) -> str:
    leaf = stack[-1]
    if not leaf.stdlib:
        return leaf.name
    caller = next((f for f in reversed(stack) if not f.stdlib), None)
    if caller is not None and caller.bootstrap:
        return f"{leaf.name} (event loop)"
    return f"{leaf.name} ← {caller.name}" if caller else leaf.name


def breakdown(stacks: Counter[tuple[Frame, ...]]) -> Breakdown:
    b = Breakdown()
    for stack, count in stacks.items():
        b.total += count
        b.groups[_group(stack)] += count
        for name, match in MARKERS:
            if any(match(f) for f in stack):
                b.markers[name] += count
        b.self_spots[_self_name(stack)] += count
        for name in {f.name for f in stack if f.top in PROJECT and not f.bootstrap}:
            b.project_inclusive[name] += count
        for name in {f.name for f in stack if not f.stdlib and f.top not in PROJECT and not f.bootstrap}:
            b.library_inclusive[name] += count
    b.markers["asyncio / uvloop event loop (self, from the exclusive view)"] = b.groups["asyncio / uvloop event loop"]
    return b


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f} %" if total else "–"


def markdown(b: Breakdown, top: int = 15) -> str:
    lines = [f"{b.total:,} samples.", "", "Exclusive (adds up to 100 %):", "", "| group | share |", "|---|---:|"]
    lines += [f"| {k} | {_pct(v, b.total)} |" for k, v in b.groups.most_common()]
    lines += ["", "Inclusive (time under; overlapping):", "", "| under | share |", "|---|---:|"]
    lines += [f"| {k} | {_pct(b.markers[k], b.total)} |" for k, _ in MARKERS]
    lines += ["", f"Top {top} self (leaf function; for a standard-library leaf, ← the caller that led there):", "",
              "| function | self |", "|---|---:|"]
    lines += [f"| `{k}` | {_pct(v, b.total)} |" for k, v in b.self_spots.most_common(top)]
    lines += ["", f"Top {top} project functions, inclusive:", "", "| function | inclusive |", "|---|---:|"]
    lines += [f"| `{k}` | {_pct(v, b.total)} |" for k, v in b.project_inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peer.stacks", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="py-spy --format raw output")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    print(markdown(breakdown(read(args.files)), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
