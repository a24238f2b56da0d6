"""Contract: an update writes only the fields that changed from the head it replaces
(`codec.updated_props`, `WriteTx.set_state(record, previous)`), and reads back exactly the new state.

Generated: any subset of the updatable fields changes, from any earlier state, on every backend."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from contextql.graph import codec
from contextql.graph.records import Page

from .factories import changed, context, snapshot

VALUES = {
    "kind": st.sampled_from(["doc", "runbook", "note"]),
    "title": st.text(max_size=20),
    "content": st.text(max_size=200),
    "data": st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    "tags": st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3),
    "inherit": st.booleans(),
}
CHANGES = st.lists(st.fixed_dictionaries({}, optional=VALUES), min_size=1, max_size=4)


def test_only_what_changed_is_written():
    rec = context("w", "/a", title="A", data={"k": 1})
    new, _ = changed(rec, title="B")
    assert set(codec.updated_props(new, rec)) == {"title", "version", "updated_at", "updated_by"}
    assert set(codec.updated_props(new)) == set(codec.UPDATABLE)  # no head: everything, as before
    same_data = new.replace(data={"k": 1})
    assert "data" not in codec.updated_props(same_data, rec)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=CHANGES)
async def test_a_sequence_of_partial_updates_reads_back_exactly(store, workspace, steps):
    rec = context(workspace, f"/p{abs(hash(str(steps))) % 10**9}", title="T", content="c", data={"x": [1]},
                  tags=["a"])
    await store.create_contexts([rec], [snapshot(rec)])
    for change in steps:
        new, version = changed(rec, **change)
        await store.update_context(new, rec.version, version)
        read = (await store.get_by_paths(workspace, [rec.path]))[rec.path]
        assert read == new
        rec = new
    versions = await store.list_versions(workspace, rec.id, Page(50))
    assert max(v.number for v in versions) == rec.version == len(steps) + 1
