"""Projection push-down on Neo4j: the statements return only the selected properties, and the partial
records they give cannot be misused (reading what was not fetched fails loudly)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from contextql.graph import codec
from contextql.graph.codec import context_props, fetched
from contextql.graph.filters import Order, subtree
from contextql.graph.neo4j import tree_read
from contextql.graph.records import (ALWAYS_FETCHED, CONTEXT_FIELDS, ContextRecord, Page, PartialContextRecord,
                                     TreePlan, UnfetchedFieldError, fetched_fields, is_complete)
from contextql.resolvers.loaders import Loaders
from tests.contract.factories import context
from tests.contract.test_projected_reads import projection_tree

TITLE = frozenset({"title"})


def _nested(fields: frozenset[str] | None) -> TreePlan:
    return TreePlan(page=Page(11), count=True, below=TreePlan(page=Page(11)), fields=fields)


# -- the statements ---------------------------------------------------------------------------------


def test_fetched_adds_identity_and_gives_none_for_everything():
    assert fetched(None) is None
    assert fetched(TITLE) == ALWAYS_FETCHED | TITLE
    assert fetched(CONTEXT_FIELDS) is None
    assert fetched(CONTEXT_FIELDS - ALWAYS_FETCHED) is None
    with pytest.raises(ValueError, match="name"):
        fetched(frozenset({"name"}))  # a derived property, not a record attribute


def test_projection_is_a_sorted_map_projection_or_every_property():
    assert tree_read.projection("c1", None) == "properties(c1)"
    assert tree_read.projection("c1", frozenset({"title", "id", "path"})) == "c1 {.id, .path, .title}"


def test_a_projected_tree_statement_names_only_the_fields_at_every_level():
    query, _ = tree_read.statement(_nested(TITLE))
    assert "properties(" not in query
    projected = "{.id, .parent_id, .path, .title, .workspace}"
    assert f"c0 {projected} AS props" in query
    assert f"props: c1 {projected}" in query and f"props: c2 {projected}" in query
    # the same selection gives the same text (Neo4j caches plans by text)
    assert tree_read.statement(_nested(frozenset({"title"})))[0] == query


def test_an_unprojected_tree_statement_returns_every_property_as_before():
    query, _ = tree_read.statement(_nested(None))
    assert "properties(c0) AS props" in query
    assert "props: properties(c1)" in query and "props: properties(c2)" in query
    assert "{." not in query


def test_a_tree_statement_reads_nothing_below_the_rows_past_shown():
    """`TreePlan.shown`: the page is walked by position, a row past `shown` is its props alone, and the
    block below it matches nothing (the probe row of `hasNextPage` costs one row, not a subtree)."""
    plan = TreePlan(page=Page(11), count=True, shown=10, fields=TITLE,
                    below=TreePlan(page=Page(11), count=True, shown=10, below=TreePlan(page=Page(11), shown=10)))
    query, params = tree_read.statement(plan)
    assert params["shown1"] == params["shown2"] == 10 and "shown3" not in params  # nothing below level 3
    assert "UNWIND range(0, size(rows1) - 1) AS i1" in query
    assert "WITH rows1[i1] AS c1, i1 < $shown1 AS full1" in query
    assert "CALL (c1, full1) {\n  WITH c1 WHERE full1\n  MATCH (c2:Context" in query
    assert "CALL (c2, full2) {\n  WITH c2 WHERE full2\n  MATCH (c3:Context" in query
    props = "props: c1 {.id, .parent_id, .path, .title, .workspace}"
    assert f"collect(CASE WHEN full1 THEN {{{props}, kids: kids2, n: COUNT {{ (c1)<-[:CHILD_OF]-() }}}} " \
           f"ELSE {{{props}}} END) AS kids1" in query
    # every row shown (or no `shown`): the statement as without it
    for whole in (replace(plan, shown=11, below=replace(plan.below, shown=None)), replace(plan, shown=None)):
        assert "full1" not in tree_read.statement(whole)[0]


def test_with_order_keys_adds_the_attributes_of_the_sort_keys():
    assert codec.with_order_keys(None, [Order("title")]) is None
    assert codec.with_order_keys(TITLE, []) == TITLE | {"path"}
    assert codec.with_order_keys(frozenset(), [Order("updated_at", descending=True), Order("depth")]) == {
        "updated_at", "path"}


# -- partial records ----------------------------------------------------------------------------------


def _partial(fields: frozenset[str] = TITLE) -> PartialContextRecord:
    full = context("ws", "/a/b", title="T", content="long text", data={"k": [1, 2]}, tags=["x"])
    props = context_props(full)
    record = codec.context_record_of(props, fetched(fields))
    assert isinstance(record, PartialContextRecord)
    return record


def test_a_partial_record_holds_what_was_fetched_and_derives_name_and_depth():
    record = _partial(frozenset({"title", "data", "tags"}))
    assert (record.path, record.name, record.depth, record.title) == ("/a/b", "b", 2, "T")
    assert record.data == {"k": [1, 2]} and record.tags == ["x"]
    assert fetched_fields(record) == ALWAYS_FETCHED | {"title", "data", "tags"}
    assert not is_complete(record) and isinstance(record, ContextRecord)
    assert "title='T'" in repr(record) and "content" not in repr(record)


@pytest.mark.parametrize("name", sorted(CONTEXT_FIELDS - ALWAYS_FETCHED - TITLE))
def test_reading_an_attribute_that_was_not_fetched_fails_loudly(name):
    record = _partial()
    with pytest.raises(UnfetchedFieldError, match=name):
        getattr(record, name)
    with pytest.raises(UnfetchedFieldError):
        getattr(record, name, "a default")  # never a quiet default


def test_a_partial_record_cannot_be_compared_copied_with_changes_or_written():
    record = _partial()
    with pytest.raises(UnfetchedFieldError):
        record.replace(title="new")  # what every write path does first
    with pytest.raises(UnfetchedFieldError):
        context_props(record)  # what every store write stores
    with pytest.raises(UnfetchedFieldError):
        _ = record == _partial()
    assert not hasattr(record, "no_such_attribute")  # other names stay ordinary AttributeErrors


def test_a_partial_record_is_never_primed_into_the_loaders_by_id_or_path():
    record = _partial()
    loaders = Loaders(store=None, workspace="ws")  # type: ignore[arg-type]
    loaders.prime(record)
    assert record.id not in loaders.by_id._remembered and record.path not in loaders.by_path._remembered
    complete = context("ws", "/a/c")
    loaders.prime(complete)
    assert loaders.by_id._remembered[complete.id] is complete


# -- against Neo4j ------------------------------------------------------------------------------------


async def test_find_and_count_projects_with_the_sort_keys(neo4j_store):
    workspace, _ = await projection_tree(neo4j_store, f"proj-{uuid.uuid4().hex[:8]}")
    where, order = subtree("/r", include_self=False), [Order("title", descending=True)]
    full, total = await neo4j_store.find_and_count_contexts(workspace, where, order, Page(10))
    lean, lean_total = await neo4j_store.find_and_count_contexts(workspace, where, order, Page(10), fields=frozenset())
    assert total == lean_total == 5
    assert [(r.id, r.path, r.title) for r in lean] == [(r.id, r.path, r.title) for r in full]
    assert all(fetched_fields(r) == ALWAYS_FETCHED | {"title"} for r in lean)
    everything, _ = await neo4j_store.find_and_count_contexts(workspace, where, order, Page(10), fields=CONTEXT_FIELDS)
    assert everything == full and all(is_complete(r) for r in everything)
