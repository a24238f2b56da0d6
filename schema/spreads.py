"""What a document's fragments expand to, bounded before validation.

The request guard bounds a document's text: how deep it nests (`max_json_depth`, server/guard/http.py) and how
many tokens it has (`max_tokens`). Fragments get past both. A chain of fragments each spreading the next
(`fragment F1 on Context { ...F2 }`, ...) nests as deep as it is long while the text stays flat, and a fragment
spreading the next twice, twenty levels down, stands for a million fields in a few hundred tokens. Strawberry's
depth and alias limiters and the cost estimate (server/guard/cost.py) walk fragments recursively and expanded:
a chain of 300 ran the depth limiter out of Python's stack (an internal error), and the twenty levels took 15 s
of the server's only event-loop thread before the cost limit refused them (sixteen levels, profiled: the depth
limiter 0.83 s, the cost estimate 0.81 s, the other rules 0.40 s). graphql-core guards its own rules against
deep fragments, but the limiters walk while they are built, before its guard runs.

`refusal` measures both in one pass over the fragment graph, each fragment once, without recursion, and the
pipeline (schema/pipeline.py) refuses a document over either bound before any rule runs: a chain longer than
`max_json_depth`, or more fields once expanded than `max_tokens` would allow written out. Fragments spreading
in a cycle get graphql-core's own message for it, here, for the same reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError, OperationDefinitionNode,
    SelectionSetNode,
)

from contextql.graph.errors import BadUserInputError


@dataclass(frozen=True)
class Expansion:
    """What the document's fragments expand to: the longest chain of fragments spreading one another (1: a
    fragment that spreads none), and the field selections of all its operations once expanded (at most `cap`)."""

    depth: int
    fields: int


@dataclass(frozen=True)
class Cycle:
    """Fragments spreading one another in a cycle: `names[0]` spreads itself via the others."""

    names: tuple[str, ...]


def _contents(selection_set: SelectionSetNode) -> tuple[int, Counter[str]]:
    """The fields written inside `selection_set` (at any depth, inline fragments included) and the fragments
    spread there, each with how many times."""
    fields, spreads = 0, Counter[str]()
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                spreads[selection.name.value] += 1
                continue
            if isinstance(selection, FieldNode):
                fields += 1
            if (inner := getattr(selection, "selection_set", None)) is not None:
                stack.append(inner)
    return fields, spreads


def expand(document: DocumentNode, cap: int) -> Expansion | Cycle:
    """How far the document's fragments expand (field counts capped at `cap`), or the first cycle found.
    Fragments that are not defined count for nothing (validation reports them)."""
    contents = {d.name.value: _contents(d.selection_set) for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)}
    depth: dict[str, int] = {}
    fields: dict[str, int] = {}
    for start in contents:
        if start in depth:
            continue
        path: list[tuple[str, Iterator[str]]] = [(start, iter(contents[start][1]))]
        on_path = [start]
        while path:  # depth first, without recursion: a chain may be as long as the document allows
            name, children = path[-1]
            child = next(children, None)
            if child is None:
                path.pop()
                on_path.pop()
                own, spreads = contents[name]
                depth[name] = 1 + max((depth.get(c, 0) for c in spreads), default=0)
                fields[name] = min(cap, own + sum(n * fields.get(c, 0) for c, n in spreads.items()))
            elif child in on_path:
                return Cycle(tuple(on_path[on_path.index(child):]))
            elif child in contents and child not in depth:
                on_path.append(child)
                path.append((child, iter(contents[child][1])))
    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            own, spreads = _contents(definition.selection_set)
            total = min(cap, total + own + sum(n * fields.get(c, 0) for c, n in spreads.items()))
    return Expansion(max(depth.values(), default=0), total)


def refusal(document: DocumentNode, max_depth: int, max_fields: int) -> GraphQLError | None:
    """The error for a document whose fragments nest deeper than `max_depth`, expand to more than
    `max_fields` fields or spread in a cycle; None for any other (validation then runs)."""
    found = expand(document, max_fields + 1)
    if isinstance(found, Cycle):
        start, *via = found.names
        return GraphQLError(f"Cannot spread fragment '{start}' within itself"
                            + (" via " + ", ".join(f"'{name}'" for name in via) if via else "") + ".")
    if found.depth > max_depth:
        refused = BadUserInputError(
            f"The GraphQL document's fragments spread into one another {found.depth} levels deep, more than "
            f"{max_depth}: spread fewer fragments within fragments.", limit=max_depth)
    elif found.fields > max_fields:
        refused = BadUserInputError(
            f"The GraphQL document expands through its fragments to more than {max_fields} fields: "
            "spread fragments fewer times, or split the operation.", limit=max_fields)
    else:
        return None
    return GraphQLError(refused.message, original_error=refused)
