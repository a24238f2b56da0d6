"""Contract: a tree read with the plan's `fields` gives partial records holding those (and identity)
with the same values as complete ones, on every backend (`TreePlan.fields`, `codec.fetched`)."""

from __future__ import annotations

import pytest

from contextql.graph.records import ContextRecord, Page, PartialContextRecord, TreePlan, UnfetchedFieldError, is_complete
from contextql.graph.store import GraphStore

from .factories import context, snapshot

TITLE = frozenset({"title"})


def _nested(fields: frozenset[str] | None) -> TreePlan:
    return TreePlan(page=Page(11), count=True, below=TreePlan(page=Page(11)), fields=fields)


async def projection_tree(store: GraphStore, workspace: str) -> tuple[str, list[ContextRecord]]:
    root = context(workspace, "/r", content="root text", data={"a": 1})
    kids = [context(workspace, f"/r/k{i}", root, title=f"k{i}", content="x" * 300, data={"i": i}) for i in range(3)]
    grand = [context(workspace, f"/r/k0/g{i}", kids[0], title=f"g{i}") for i in range(2)]
    records = [root, *kids, *grand]
    await store.create_contexts(records, [snapshot(r) for r in records])
    return workspace, records


async def test_read_tree_returns_partial_records_of_the_plan_fields_and_the_same_values(store, workspace):
    workspace, records = await projection_tree(store, workspace)
    by_path = {r.path: r for r in records}
    full = await store.read_tree(workspace, ["/r"], _nested(None))
    lean = await store.read_tree(workspace, ["/r"], _nested(TITLE))
    assert all(is_complete(r) for r in full.contexts.values())
    assert full.counts == lean.counts and full.counts[by_path["/r"].id] == 3
    assert list(full.children) == list(lean.children)
    for parent_id, page in lean.children.items():
        assert [(r.id, r.path, r.parent_id, r.title) for r in page] == [
            (r.id, r.path, r.parent_id, r.title) for r in full.children[parent_id]]
    root = lean.contexts["/r"]
    assert isinstance(root, PartialContextRecord) and root.title == by_path["/r"].title
    with pytest.raises(UnfetchedFieldError):
        _ = root.content
    assert all(isinstance(r, PartialContextRecord) for page in lean.children.values() for r in page)
