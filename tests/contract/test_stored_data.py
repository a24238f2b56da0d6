"""Contract: a record read from a store decodes its `data` only when read, and is otherwise the same record.

`graph/records.py` `stored_json`: the stores hand out `data` as stored text, decoded on the first read
of `record.data`. Whatever a caller does with the record must see the decoded document.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle

from contextql.graph import codec
from contextql.graph.records import Page

from .factories import context, snapshot

DOCUMENT = {"big": 123456789012345678901234567890, "float": 0.1, "text": "é ☃ \u2028", "nested": {"a": [1, None, True]}}


async def _stored(store, workspace):
    rec = context(workspace, "/doc", data=DOCUMENT, title="Doc")
    await store.create_contexts([rec], [snapshot(rec)])
    return rec


async def test_read_back_equal_before_and_after_data_is_read(store, workspace):
    rec = await _stored(store, workspace)
    read = (await store.get_by_paths(workspace, ["/doc"]))["/doc"]
    assert read == rec  # equality reads (and decodes) data
    again = (await store.get_by_paths(workspace, ["/doc"]))["/doc"]
    assert again.data == DOCUMENT
    assert again.data is again.data  # decoded once, kept
    assert type(again.data) is dict


async def test_undecoded_record_copies_replaces_pickles_and_encodes(store, workspace):
    await _stored(store, workspace)

    async def fresh():
        return (await store.get_by_paths(workspace, ["/doc"]))["/doc"]

    assert (await fresh()).replace(title="New").data == DOCUMENT
    assert type((await fresh()).replace(title="New").data) is dict
    assert pickle.loads(pickle.dumps(await fresh())).data == DOCUMENT
    assert copy.deepcopy(await fresh()).data == DOCUMENT
    assert dataclasses.asdict(await fresh())["data"] == DOCUMENT
    assert "'big': 123456789012345678901234567890" in repr(await fresh())
    assert codec.context_props(await fresh())["data"] == codec.dump_json(DOCUMENT)


async def test_versions_decode_data_on_read(store, workspace):
    rec = await _stored(store, workspace)
    [version] = await store.list_versions(workspace, rec.id, Page(10))
    assert version == snapshot(rec)
    assert version.data == DOCUMENT and type(version.data) is dict


async def test_empty_data_reads_as_a_new_dict(store, workspace):
    rec = context(workspace, "/empty")
    await store.create_contexts([rec], [snapshot(rec)])
    first = (await store.get_by_paths(workspace, ["/empty"]))["/empty"]
    second = (await store.get_by_paths(workspace, ["/empty"]))["/empty"]
    assert first.data == {} and first.data is not second.data
