"""Listing, filtering, ordering, paging, tree navigation and Relay `node`."""

from __future__ import annotations

from contextql.graph.records import Page

from .conftest import create

LIST = """query($where: ContextWhere, $orderBy: [ContextOrderBy!], $first: Int, $after: String) {
  contexts(where: $where, orderBy: $orderBy, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { path } } } }"""


async def paths(api, **variables):
    result = (await api.data(LIST, **variables))["contexts"]
    return [e["node"]["path"] for e in result["edges"]], result


async def seed(api):
    await create(api, "/kb", kind="folder")
    await create(api, "/kb/python", kind="topic", title="Python", tags=["lang", "backend"])
    await create(api, "/kb/rust", kind="topic", title="Rust", tags=["lang", "systems"])
    await create(api, "/kb/rust/async", kind="note", title="Async Rust", tags=["async"])
    await create(api, "/kb/zig", kind="topic", title="Zig", tags=["lang"])


async def test_where_operators(api):
    await seed(api)
    assert (await paths(api, where={"kind": {"eq": "topic"}}))[0] == ["/kb/python", "/kb/rust", "/kb/zig"]
    assert (await paths(api, where={"path": {"startsWith": "/kb/rust"}}))[0] == ["/kb/rust", "/kb/rust/async"]
    assert (await paths(api, where={"title": {"contains": "Rust"}}))[0] == ["/kb/rust", "/kb/rust/async"]
    assert (await paths(api, where={"kind": {"in": ["folder", "note"]}}))[0] == ["/kb", "/kb/rust/async"]
    assert (await paths(api, where={"tags": {"includes": "systems"}}))[0] == ["/kb/rust"]
    assert (await paths(api, where={"tags": {"includesAll": ["lang", "backend"]}}))[0] == ["/kb/python"]
    assert (await paths(api, where={"tags": {"includesAny": ["async", "backend"]}}))[0] == ["/kb/python", "/kb/rust/async"]
    assert (await paths(api, where={"depth": {"gte": 3}}))[0] == ["/kb/rust/async"]
    either = {"OR": [{"name": {"eq": "zig"}}, {"name": {"endsWith": "sync"}}]}
    assert (await paths(api, where=either))[0] == ["/kb/rust/async", "/kb/zig"]
    assert (await paths(api, where={"kind": {"eq": "topic"}, "NOT": {"tags": {"includes": "systems"}}}))[0] == [
        "/kb/python", "/kb/zig"]
    both = {"AND": [{"kind": {"eq": "topic"}}, {"title": {"startsWith": "R"}}]}
    assert (await paths(api, where=both))[0] == ["/kb/rust"]


async def test_a_where_holds_at_most_a_hundred_comparisons(api):
    """Engines plan many ORs in more than linear time: 20,000 overflowed LadybugDB's stack (the embedded
    server crashed), 1,000 took Neo4j past its timeout. 100 comparisons answer; more are refused at once,
    however they nest, on every path that reads a `where`; a long list of values fits in one `in`."""
    await seed(api)
    names = ["python", "zig"] + [f"none{i}" for i in range(98)]
    hundred = {"OR": [{"name": {"eq": name}} for name in names]}
    assert (await paths(api, where=hundred))[0] == ["/kb/python", "/kb/zig"]
    nested = {"kind": {"eq": "topic"}, "AND": [hundred]}  # 101 however it nests
    many = {"OR": [{"name": {"eq": f"n{i}"}} for i in range(20_000)]}
    for where in (nested, many, {"NOT": {"OR": [hundred, {"name": {"eq": "x"}}]}}):
        for query in (LIST, "query($where: ContextWhere) { contexts(where: $where) { edges { node { path } } } }",
                      "query($where: ContextWhere) { contexts(where: $where) { totalCount } }"):
            error = await api.error(query, where=where)
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": 100}, error
            assert "comparisons, more than 100" in error["message"]
    values = ["python", "zig"] + [f"none{i}" for i in range(20_000)]
    assert (await paths(api, where={"name": {"in": values}}))[0] == ["/kb/python", "/kb/zig"]


async def test_time_filters_and_ordering(api):
    await seed(api)
    everything, _ = await paths(api, orderBy=[{"field": "CREATED_AT", "direction": "DESC"}])
    assert everything[0] == "/kb/zig" and everything[-1] == "/kb"
    zig = await api.data('{ context(path: "/kb/zig") { createdAt } }')
    later, _ = await paths(api, where={"createdAt": {"gte": zig["context"]["createdAt"]}})
    assert later == ["/kb/zig"]
    by_title, _ = await paths(api, where={"kind": {"eq": "topic"}}, orderBy=[{"field": "TITLE", "direction": "DESC"}])
    assert by_title == ["/kb/zig", "/kb/rust", "/kb/python"]


async def test_pagination_total_count_and_page_cap(api):
    await create(api, "/many")
    await api.data(
        "mutation($inputs: [CreateContextInput!]!) { createContexts(inputs: $inputs) { id } }",
        inputs=[{"path": f"/many/n{i:02d}"} for i in range(25)],
    )
    where = {"path": {"startsWith": "/many/"}}
    first, result = await paths(api, where=where, first=10)
    assert first == [f"/many/n{i:02d}" for i in range(10)]
    assert result["totalCount"] == 25 and result["pageInfo"]["hasNextPage"] and not result["pageInfo"]["hasPreviousPage"]
    rest, result = await paths(api, where=where, first=20, after=result["pageInfo"]["endCursor"])
    assert rest == [f"/many/n{i:02d}" for i in range(10, 25)] and not result["pageInfo"]["hasNextPage"]
    default_page, _ = await paths(api, where=where)
    assert len(default_page) == 20
    too_big = await api.error(LIST, first=101)
    assert too_big["extensions"]["code"] == "BAD_USER_INPUT" and too_big["extensions"]["limit"] == 100


async def test_tree_navigation(api):
    await seed(api)
    result = await api.data("""{ context(path: "/kb/rust/async") {
        parent { path } ancestors { path }
        root: parent { parent { children(first: 2) { totalCount edges { node { name } } pageInfo { hasNextPage } } } } } }""")
    node = result["context"]
    assert node["parent"] == {"path": "/kb/rust"}
    assert node["ancestors"] == [{"path": "/kb"}, {"path": "/kb/rust"}]
    children = node["root"]["parent"]["children"]
    assert children["totalCount"] == 3 and [e["node"]["name"] for e in children["edges"]] == ["python", "rust"]
    assert children["pageInfo"]["hasNextPage"]
    tree = await api.data('{ context(path: "/kb") { all: descendants { path } top: descendants(maxDepth: 1) { path } } }')
    assert [d["path"] for d in tree["context"]["all"]] == ["/kb/python", "/kb/rust", "/kb/rust/async", "/kb/zig"]
    assert [d["path"] for d in tree["context"]["top"]] == ["/kb/python", "/kb/rust", "/kb/zig"]


async def test_node_resolves_contexts_and_versions(api):
    created = await create(api, "/n", title="t")
    found = await api.data(
        """query($id: ID!, $v: ID!) { a: node(id: $id) { id ... on Context { path } }
             b: node(id: $v) { ... on ContextVersion { number path } } c: node(id: "nope") { id } }""",
        id=created["id"], v=f"{created['id']}:1",
    )
    assert found == {"a": {"id": created["id"], "path": "/n"}, "b": {"number": 1, "path": "/n"}, "c": None}
    by_id = await api.data("query($id: ID!) { context(id: $id) { path } }", id=created["id"])
    assert by_id["context"] == {"path": "/n"}


async def test_workspaces_are_isolated(api, store, workspace):
    from .conftest import settings_for
    import httpx
    from contextql.server.app import create_app

    mine = await create(api, "/shared-name", title="mine")
    other_app = create_app(settings_for(workspace + "-other"), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://test") as client:
        body = (await client.post("/graphql", json={"query": """query($id: ID!) {
            byPath: context(path: "/shared-name") { id } byNode: node(id: $id) { id }
            all: contexts { totalCount } }""", "variables": {"id": mine["id"]}})).json()
    assert body["data"] == {"byPath": None, "byNode": None, "all": {"totalCount": 0}}
    assert await store.find_contexts(workspace + "-other", None, [], Page(10)) == []
