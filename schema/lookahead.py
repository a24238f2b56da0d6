"""Read ahead from the selection: what an operation asks below a context, so one store call reads it.

Only the shape `children(first:, after:) { totalCount edges { node { children ... } } }` is
planned (fragments included); anything else is resolved field by field through the loaders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from contextql.resolvers.contexts import ChildrenWanted


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, (FragmentSpread, InlineFragment)):
            yield from _fields(selection.selections)


def _first(selections: Iterable[Selection], name: str) -> SelectedField | None:
    return next((f for f in _fields(selections) if f.name == name), None)


def selects(field: Selection, name: str) -> bool:
    """Whether `field` selects `name` directly (through fragments too)."""
    return _first(field.selections, name) is not None


def _int(value: object) -> int | bool | None:
    """An Int argument as given (a literal arrives as its text); False when it is not one."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return False


def children_wanted(field: Selection) -> ChildrenWanted | None:
    """What `field` (a field returning a Context) selects of its children, if anything."""
    children = _first(field.selections, "children")
    if children is None:
        return None
    first, after = _int(children.arguments.get("first")), children.arguments.get("after")
    if first is False or not (after is None or isinstance(after, str)):
        return None
    count = _first(children.selections, "totalCount") is not None
    edges = _first(children.selections, "edges")
    node = _first(edges.selections, "node") if edges is not None else None
    below = children_wanted(node) if node is not None else None
    return ChildrenWanted(first=first, after=after, count=count, below=below)
