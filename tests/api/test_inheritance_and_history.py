"""Effective data down the tree, and versions through time."""

from __future__ import annotations

import asyncio
from datetime import datetime, UTC

from .conftest import create

EFFECTIVE = """query($path: String!) { context(path: $path) { effective { data sources { pointer path version } } } }"""


async def effective(api, path):
    return (await api.data(EFFECTIVE, path=path))["context"]["effective"]


async def test_deep_merge_overrides_nulls_and_arrays(api):
    await create(api, "/acme", data={"db": {"host": "db.acme", "port": 5432}, "owners": ["ana"], "tier": "gold"})
    await create(api, "/acme/alpha", data={"db": {"port": 6432}, "owners": ["bo"], "tier": None})
    await create(api, "/acme/alpha/notes", data={"db": {"name": "notes"}})

    view = await effective(api, "/acme/alpha/notes")
    assert view["data"] == {"db": {"host": "db.acme", "port": 6432, "name": "notes"}, "owners": ["bo"]}
    assert view["sources"] == [
        {"pointer": "/db/host", "path": "/acme", "version": 1},
        {"pointer": "/db/name", "path": "/acme/alpha/notes", "version": 1},
        {"pointer": "/db/port", "path": "/acme/alpha", "version": 1},
        {"pointer": "/owners", "path": "/acme/alpha", "version": 1},
    ]


async def test_inherit_false_starts_afresh(api):
    await create(api, "/p", data={"secret": "s", "a": 1})
    await create(api, "/p/island", data={"b": 2}, inherit=False)
    await create(api, "/p/island/child", data={"c": 3})
    assert (await effective(api, "/p/island/child"))["data"] == {"b": 2, "c": 3}


async def test_effective_follows_ancestor_changes(api):
    await create(api, "/q", data={"mode": "draft"})
    await create(api, "/q/leaf")
    await api.data('mutation { updateContext(path: "/q", input: {mergeData: {mode: "final"}}) { version } }')
    view = await effective(api, "/q/leaf")
    assert view["data"] == {"mode": "final"} and view["sources"][0] == {"pointer": "/mode", "path": "/q", "version": 2}


async def test_as_of_and_diff(api):
    await create(api, "/t", title="first", content="line one\nline two\n", data={"a": 1, "b": [1]})
    await asyncio.sleep(0.01)
    between = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.01)
    await api.data(
        'mutation { updateContext(path: "/t", input: {title: "second", content: "line one\\nline 2\\n", data: {a: 2, c: true}}) { version } }'
    )
    result = await api.data(
        """query($at: DateTime!, $before: DateTime!) { context(path: "/t") {
             asOf(time: $at) { number title data }
             before: asOf(time: $before) { number }
             diff(from: 1) { fromVersion toVersion changed dataPatch contentDiff } } }""",
        at=between, before="2000-01-01T00:00:00Z",
    )
    context = result["context"]
    assert context["asOf"] == {"number": 1, "title": "first", "data": {"a": 1, "b": [1]}}
    assert context["before"] is None
    diff = context["diff"]
    assert diff["fromVersion"] == 1 and diff["toVersion"] == 2
    assert diff["changed"] == ["title", "content", "data"]
    assert sorted(diff["dataPatch"], key=lambda op: op["path"]) == [
        {"op": "replace", "path": "/a", "value": 2},
        {"op": "remove", "path": "/b"},
        {"op": "add", "path": "/c", "value": True},
    ]
    assert "-line two" in diff["contentDiff"] and "+line 2" in diff["contentDiff"]
    error = await api.error('{ context(path: "/t") { diff(from: 5) { changed } } }')
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_history_pages_newest_first(api):
    await create(api, "/h")
    for i in range(2, 8):
        await api.data(f'mutation {{ updateContext(path: "/h", input: {{title: "t{i}"}}) {{ version }} }}')
    query = """query($after: String) { context(path: "/h") { history(first: 3, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { number title author { id } } } } } }"""
    first = (await api.data(query))["context"]["history"]
    assert first["totalCount"] == 7 and first["pageInfo"]["hasNextPage"]
    assert [e["node"]["number"] for e in first["edges"]] == [7, 6, 5]
    assert first["edges"][0]["node"]["author"] == {"id": "anonymous"}
    second = (await api.data(query, after=first["pageInfo"]["endCursor"]))["context"]["history"]
    assert [e["node"]["number"] for e in second["edges"]] == [4, 3, 2]
    bad = await api.error(query, after="not-a-cursor")
    assert bad["extensions"]["code"] == "BAD_USER_INPUT"
