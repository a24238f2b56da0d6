"""Read ahead from the selection: what an operation asks below a context, so one store call reads it.

Only the shape `children(first:, after:) { totalCount edges { node { children ... } } }` is
planned (fragments included); anything else is resolved field by field through the loaders.

`context_fields` says which record attributes a selection reads (as @neo4j/graphql projects only
the selected properties), so a read can leave out `content` and `data` when nobody shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode
from graphql.language import BREAK, Node, SelectionSetNode, Visitor, visit
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from contextql.resolvers.contexts import ChildrenWanted

from .memo import MISSING, NodeMemo

# What each field of `Context` (schema/types.py) reads of its record, besides `ALWAYS_FETCHED`
# (id, workspace, path, parent_id: identity, cursors, loader keys). A field not named here (effective,
# history, diff, the graph fields... and any field added later) reads the whole record.
CONTEXT_FIELD_READS: dict[str, frozenset[str]] = {
    "__typename": frozenset(),
    "id": frozenset(), "workspace": frozenset(), "path": frozenset(), "name": frozenset(), "depth": frozenset(),
    "parent": frozenset(), "ancestors": frozenset(), "descendants": frozenset(),
    "kind": frozenset({"kind"}), "title": frozenset({"title"}), "content": frozenset({"content"}),
    "data": frozenset({"data"}), "tags": frozenset({"tags"}), "inherit": frozenset({"inherit"}),
    "version": frozenset({"version"}),
    "createdAt": frozenset({"created_at"}), "updatedAt": frozenset({"updated_at"}),
    "createdBy": frozenset({"created_by"}), "updatedBy": frozenset({"updated_by"}),
}
# The fields of a `Connection[Context]` and its edges that read no record (a cursor reads the
# keyset's attributes, which every projected read fetches).
_CONNECTION_FIELDS = frozenset({"__typename", "totalCount", "pageInfo", "cursor"})


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


def names_children(info: GraphQLResolveInfo) -> bool:
    """Whether the field's selection names `children` at its first level (through fragments), read from
    the document. `children_wanted` is None otherwise, so a context read without children (the point
    read) can skip `Info.selected_fields`, which converts the whole selection on every request (~80 of
    the point read's ~2,400 Python calls; bench/results/profile-2026-12-03-host.md)."""
    return any(_names(node.selection_set, "children", info.fragments) for node in info.field_nodes)


def _names(selection_set: SelectionSetNode | None, name: str, fragments: dict[str, FragmentDefinitionNode]) -> bool:
    # Validation has refused fragment cycles, so the recursion ends.
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _names(selection.selection_set, name, fragments):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and _names(fragment.selection_set, name, fragments):
                return True
    return False


def tree_wanted(field: Selection) -> ChildrenWanted | None:
    """`children_wanted` of a root `context` field, with the attributes its whole selection reads."""
    wanted = children_wanted(field)
    return None if wanted is None else replace(wanted, fields=context_fields(field))


def context_fields(field: Selection) -> frozenset[str] | None:
    """The record attributes that `field` (returning a Context) reads, at any depth of its
    `children`, or None for the whole record.

    One set for every level: a request's pages of children are keyed by the projection of their
    parent (resolvers.contexts.children_key), so the projection must say what every level below
    reads. Fragments count whatever their type condition, and @include/@skip are not evaluated:
    both can only add attributes."""
    found: set[str] = set()
    return frozenset(found) if _context_reads(field.selections, found) else None


def connection_fields(field: Selection) -> frozenset[str] | None:
    """`context_fields` for a field returning a `Connection[Context]`."""
    found: set[str] = set()
    return frozenset(found) if _connection_reads(field.selections, found) else None


def _context_reads(selections: Iterable[Selection], found: set[str]) -> bool:
    """Adds what a Context's selection reads to `found`; False when that is the whole record."""
    for selected in _fields(selections):
        if selected.name == "children":
            if not _connection_reads(selected.selections, found):
                return False
            continue
        reads = CONTEXT_FIELD_READS.get(selected.name)
        if reads is None:
            return False
        found |= reads
    return True


def _connection_reads(selections: Iterable[Selection], found: set[str]) -> bool:
    for selected in _fields(selections):
        if selected.name == "edges":
            for inner in _fields(selected.selections):
                if inner.name == "node":
                    if not _context_reads(inner.selections, found):
                        return False
                elif inner.name not in _CONNECTION_FIELDS:
                    return False
        elif selected.name not in _CONNECTION_FIELDS:
            return False
    return True


T = TypeVar("T")

# Read plans by (operation, field node, planner): `Info.selected_fields` converts the field's whole
# selection on every request, and the plan is the same for every request of the document.
MEMO_SIZE = 512
_memo = NodeMemo(MEMO_SIZE)
_PER_REQUEST = object()  # a selection holding a variable: planned on every request


def remembered(info: Info, planner: Callable[[Info], T]) -> T:
    """`planner(info)` (which reads the field's selection, not the field's own arguments), computed
    once per operation and field while that selection holds no variable (in an argument or a
    directive, its fragments included): then nothing a request sends can change the plan."""
    raw = info._raw_info
    nodes = (raw.operation, raw.field_nodes[0])
    found = _memo.get(nodes, planner)
    if found is not MISSING and found is not _PER_REQUEST:
        return found
    result = planner(info)
    if found is MISSING:
        _memo.put(nodes, _PER_REQUEST if _holds_variable(nodes[1], raw.fragments) else result, planner)
    return result


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False
        self.spreads: list[str] = []

    def enter_variable(self, *_: Any) -> Any:
        self.found = True
        return BREAK

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.spreads.append(node.name.value)


def _holds_variable(node: FieldNode, fragments: dict[str, FragmentDefinitionNode]) -> bool:
    """Whether the selection of `node` (not its own arguments) holds a variable."""
    seen: set[str] = set()
    pending: list[Node] = [node.selection_set] if node.selection_set is not None else []
    while pending:
        visitor = _Variables()
        visit(pending.pop(), visitor)
        if visitor.found:
            return True
        for name in visitor.spreads:
            if name not in seen and name in fragments:
                seen.add(name)
                pending.append(fragments[name])
    return False


def context_read(info: Info) -> ChildrenWanted | None:
    """For the root `context(path:)` field: what it selects below the context, if it names `children`."""
    return tree_wanted(info.selected_fields[0]) if names_children(info._raw_info) else None


def list_read(info: Info) -> tuple[bool, frozenset[str] | None]:
    """For a root field returning a `Connection[Context]`: whether it selects `totalCount`, and then
    the record attributes its selection reads (`connection_fields`)."""
    field = info.selected_fields[0]
    return (True, connection_fields(field)) if selects(field, "totalCount") else (False, None)
