"""How deep a document's fragments spread into one another, bounded before validation.

The request guard bounds how deep a document's text nests (`max_json_depth`, server/guard/http.py), but
fragments that spread one another (`fragment F1 on Context { ...F2 }`, `fragment F2 ...`) nest as deep as
their chain is long while the text stays flat. Validation walks them recursively (Strawberry's depth limiter,
graphql-core's cycle rule), and a chain of 300 ran out of Python's stack: an internal error, not an answer.
The pipeline (schema/pipeline.py) refuses a longer chain than the bound before any rule runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError, SelectionSetNode

from contextql.graph.errors import BadUserInputError


def _spreads(selection_set: SelectionSetNode) -> set[str]:
    """The fragments spread anywhere inside `selection_set` (at any depth of fields and inline fragments)."""
    names: set[str] = set()
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.add(selection.name.value)
            elif (inner := getattr(selection, "selection_set", None)) is not None:
                stack.append(inner)
    return names


def spread_depth(document: DocumentNode) -> int | None:
    """The longest chain of fragments spreading one another (1: a fragment that spreads none), or None
    when they spread in a cycle (validation reports that). Unknown fragments count for nothing."""
    spreads = {d.name.value: _spreads(d.selection_set) for d in document.definitions
               if isinstance(d, FragmentDefinitionNode)}
    depth: dict[str, int] = {}  # a fragment: its longest chain
    for start in spreads:
        if start in depth:
            continue
        path: list[tuple[str, Iterator[str]]] = [(start, iter(spreads[start]))]
        on_path = {start}
        while path:  # depth first, without recursion: the chain may be as long as the document allows
            name, children = path[-1]
            child = next(children, None)
            if child is None:
                path.pop()
                on_path.discard(name)
                depth[name] = 1 + max((depth.get(c, 0) for c in spreads[name]), default=0)
            elif child in on_path:
                return None
            elif child in spreads and child not in depth:
                on_path.add(child)
                path.append((child, iter(spreads[child])))
    return max(depth.values(), default=0)


def spreads_too_deep(document: DocumentNode, limit: int) -> GraphQLError | None:
    """The refusal of a document whose fragments spread one another more than `limit` deep, or None."""
    found = spread_depth(document)
    if found is None or found <= limit:
        return None
    refused = BadUserInputError(
        f"The GraphQL document's fragments spread into one another {found} levels deep, more than {limit}: "
        "spread fewer fragments within fragments.", limit=limit)
    return GraphQLError(refused.message, original_error=refused)
