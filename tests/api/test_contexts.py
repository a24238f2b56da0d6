"""Creating, reading, updating, moving, deleting and reverting contexts through GraphQL."""

from __future__ import annotations

from .conftest import CREATE, create, get

UPDATE = """
mutation($path: String!, $input: UpdateContextInput!) {
  updateContext(path: $path, input: $input) { path title content data tags version kind }
}"""
MOVE = """
mutation($path: String!, $to: String!, $expected: Int) {
  moveContext(path: $path, to: $to, expectedVersion: $expected) { movedCount context { id path version parent { path } } }
}"""
DELETE = """
mutation($path: String!, $recursive: Boolean = false) { deleteContext(path: $path, recursive: $recursive) { path deletedCount } }"""


async def test_create_and_read_back_with_normalised_path(api):
    root = await create(api, "//acme//", title="Acme", data={"region": "eu"}, tags=["org", "org", "eu"])
    assert root["path"] == "/acme" and root["name"] == "acme" and root["depth"] == 1
    assert root["version"] == 1 and root["kind"] == "context" and root["tags"] == ["org", "eu"]
    assert await get(api, "/acme/") == {
        "id": root["id"], "path": "/acme", "title": "Acme", "content": "", "data": {"region": "eu"},
        "tags": ["org", "eu"], "version": 1, "kind": "context", "inherit": True,
    }
    assert await get(api, "/nothing-here") is None


async def test_create_requires_parent_unless_create_parents(api):
    error = await api.error(CREATE, input={"path": "/a/b/c"})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "/a" in error["message"] and "createParents" in error["message"]
    assert await get(api, "/a") is None and await get(api, "/a/b/c") is None

    leaf = await create(api, "/a/b/c", parents=True, title="leaf")
    assert leaf["depth"] == 3
    assert (await get(api, "/a/b"))["version"] == 1


async def test_bad_paths_are_refused_with_the_rule(api):
    for bad in ["", "/", "/a/../b", "/a/./b", "/has space", "/" + "x" * 200, "/.hidden"]:
        error = await api.error(CREATE, input={"path": bad})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (bad, error)
    body = await api.run("{ contexts { totalCount } }")
    assert body["data"]["contexts"]["totalCount"] == 0


async def test_duplicate_path_is_a_conflict_and_keeps_the_original(api):
    await create(api, "/dup", title="first")
    error = await api.error(CREATE, input={"path": "/dup", "title": "second"})
    assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["paths"] == ["/dup"]
    assert (await get(api, "/dup"))["title"] == "first"


async def test_bulk_create_is_all_or_nothing(api):
    created = await api.data(
        "mutation($inputs: [CreateContextInput!]!) { createContexts(inputs: $inputs, createParents: true) { path } }",
        inputs=[{"path": f"/bulk/item-{i}", "data": {"i": i}} for i in range(30)],
    )
    assert [c["path"] for c in created["createContexts"]] == sorted(f"/bulk/item-{i}" for i in range(30))
    error = await api.error(
        "mutation($inputs: [CreateContextInput!]!) { createContexts(inputs: $inputs) { path } }",
        inputs=[{"path": "/bulk/new-one"}, {"path": "/bulk/item-3"}],
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert await get(api, "/bulk/new-one") is None


async def test_partial_update_versions_and_optimistic_concurrency(api):
    await create(api, "/doc", title="v1", content="hello", data={"a": 1, "keep": True}, tags=["x"])
    updated = (await api.data(UPDATE, path="/doc", input={"title": "v2", "expectedVersion": 1}))["updateContext"]
    assert updated == {"path": "/doc", "title": "v2", "content": "hello", "data": {"a": 1, "keep": True},
                       "tags": ["x"], "version": 2, "kind": "context"}

    stale = await api.error(UPDATE, path="/doc", input={"title": "lost", "expectedVersion": 1})
    assert stale["extensions"]["code"] == "CONFLICT" and stale["extensions"]["currentVersion"] == 2
    assert (await get(api, "/doc"))["title"] == "v2"

    merged = (await api.data(UPDATE, path="/doc", input={"mergeData": {"a": None, "b": {"c": 2}}}))["updateContext"]
    assert merged["data"] == {"keep": True, "b": {"c": 2}} and merged["version"] == 3

    same = (await api.data(UPDATE, path="/doc", input={"title": "v2"}))["updateContext"]
    assert same["version"] == 3, "an update that changes nothing adds no version"

    not_object = await api.error(UPDATE, path="/doc", input={"data": [1, 2]})
    assert not_object["extensions"]["code"] == "BAD_USER_INPUT"
    missing = await api.error(UPDATE, path="/nope", input={"title": "x"})
    assert missing["extensions"]["code"] == "NOT_FOUND"


async def test_move_rewrites_the_subtree_and_keeps_ids(api):
    await create(api, "/org/team/alpha/notes", parents=True)
    await create(api, "/org/archive")
    alpha = await get(api, "/org/team/alpha")
    moved = (await api.data(MOVE, path="/org/team/alpha", to="/org/archive/alpha-2023"))["moveContext"]
    assert moved["movedCount"] == 2
    assert moved["context"]["id"] == alpha["id"] and moved["context"]["path"] == "/org/archive/alpha-2023"
    assert moved["context"]["parent"]["path"] == "/org/archive" and moved["context"]["version"] == 2
    assert await get(api, "/org/team/alpha/notes") is None
    assert (await get(api, "/org/archive/alpha-2023/notes"))["version"] == 1

    cycle = await api.error(MOVE, path="/org", to="/org/archive/inside")
    assert cycle["extensions"]["code"] == "CONFLICT"
    taken = await api.error(MOVE, path="/org/archive/alpha-2023", to="/org/team")
    assert taken["extensions"]["code"] == "CONFLICT"
    no_parent = await api.error(MOVE, path="/org/team", to="/missing/team")
    assert no_parent["extensions"]["code"] == "NOT_FOUND"
    stale = await api.error(MOVE, path="/org/team", to="/org/team-b", expected=7)
    assert stale["extensions"]["code"] == "CONFLICT"
    assert (await get(api, "/org/team")) is not None and (await get(api, "/org/archive/alpha-2023/notes")) is not None


async def test_delete_refuses_children_unless_recursive(api):
    await create(api, "/d/one/two", parents=True)
    refused = await api.error(DELETE, path="/d")
    assert refused["extensions"]["code"] == "CONFLICT" and "recursive" in refused["message"]
    assert await get(api, "/d/one/two") is not None
    done = (await api.data(DELETE, path="/d", recursive=True))["deleteContext"]
    assert done == {"path": "/d", "deletedCount": 3}
    assert await get(api, "/d") is None and await get(api, "/d/one/two") is None
    gone = await api.error(DELETE, path="/d")
    assert gone["extensions"]["code"] == "NOT_FOUND"


async def test_revert_adds_a_version_equal_to_the_old_one(api):
    await create(api, "/r", title="one", data={"k": 1})
    await api.data(UPDATE, path="/r", input={"title": "two", "data": {"k": 2}, "tags": ["t"]})
    reverted = await api.data(
        "mutation { revertContext(path: \"/r\", toVersion: 1) { title data tags version } }"
    )
    assert reverted["revertContext"] == {"title": "one", "data": {"k": 1}, "tags": [], "version": 3}
    history = await api.data('{ context(path: "/r") { history { totalCount edges { node { number operation } } } } }')
    ops = [e["node"] for e in history["context"]["history"]["edges"]]
    assert history["context"]["history"]["totalCount"] == 3
    assert ops == [{"number": 3, "operation": "REVERTED"}, {"number": 2, "operation": "UPDATED"}, {"number": 1, "operation": "CREATED"}]
    missing = await api.error('mutation { revertContext(path: "/r", toVersion: 9) { version } }')
    assert missing["extensions"]["code"] == "NOT_FOUND"


async def test_oversized_and_malformed_input_is_refused(api):
    big = await api.error(CREATE, input={"path": "/big", "content": "x" * 1_100_000})
    assert big["extensions"]["code"] == "BAD_USER_INPUT" and "limit" in big["extensions"]
    bad_kind = await api.error(CREATE, input={"path": "/k", "kind": "no spaces allowed"})
    assert bad_kind["extensions"]["code"] == "BAD_USER_INPUT"
    bad_data = await api.error(CREATE, input={"path": "/k", "data": "text"})
    assert bad_data["extensions"]["code"] == "BAD_USER_INPUT"
    assert await get(api, "/big") is None and await get(api, "/k") is None
