"""N+1 guard: one store call per level of a nested query, counted on the real store."""

from __future__ import annotations

import httpx
import pytest

from contextql.server.app import create_app

from .conftest import settings_for


class CountingStore:
    """The real store, with a tally of contract calls made through it."""

    def __init__(self, store) -> None:
        self._store, self.calls = store, []

    def __getattr__(self, name):
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        async def counted(*args, **kwargs):
            self.calls.append(name)
            return await attribute(*args, **kwargs)

        return counted


async def test_three_levels_over_fifty_contexts_make_one_call_per_level(store, workspace):
    counting = CountingStore(store)
    app = create_app(settings_for(workspace), store=counting)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        inputs = [{"path": "/root"}] + [{"path": f"/root/a{i}"} for i in range(7)] + [
            {"path": f"/root/a{i}/b{j}"} for i in range(7) for j in range(6)]
        assert len(inputs) == 50
        created = await client.post("/graphql", json={
            "query": "mutation($i: [CreateContextInput!]!) { createContexts(inputs: $i) { id } }", "variables": {"i": inputs}})
        assert "errors" not in created.json()
        counting.calls.clear()
        response = await client.post("/graphql", json={"query": """{ context(path: "/root") { path
            children(first: 50) { totalCount edges { node { path parent { path }
              children(first: 50) { totalCount edges { node { path effective { data } parent { path } } } } } } } } }"""})
    body = response.json()
    assert "errors" not in body, body
    level1 = body["data"]["context"]["children"]["edges"]
    assert len(level1) == 7 and sum(len(e["node"]["children"]["edges"]) for e in level1) == 42
    # context(path) with both levels of children pages and counts: one read (one statement on
    # Neo4j, one per level and kind on LadybugDB); parents and ancestors for `effective` are
    # already cached by path/id or fetched in one batch each.
    assert counting.calls.count("read_tree") == 1, counting.calls
    assert "list_children" not in counting.calls and "count_children" not in counting.calls, counting.calls
    assert counting.calls.count("get_by_paths") <= 2, counting.calls
    assert counting.calls.count("get_by_ids") <= 2, counting.calls
    assert len(counting.calls) <= 5, counting.calls


NESTED = """query($first: Int) { context(path: "/root") { path title
  children(first: $first) { totalCount edges { cursor node { path title
    children(first: 3) { totalCount edges { node { path title } } } } } } } }"""
BY_ID = NESTED.replace('context(path: "/root")', "context(id: $id)").replace("query($first: Int)", "query($first: Int, $id: ID)")


async def test_a_nested_read_by_path_is_one_statement_and_answers_as_field_by_field(store, workspace):
    """The lookahead reads the whole tree of `children` selections in one store call (one statement
    on Neo4j) and answers exactly what the loaders answer field by field (the same query by id)."""
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        inputs = [{"path": "/root", "title": "r"}] + [{"path": f"/root/a{i}", "title": f"a{i}"} for i in range(6)] + [
            {"path": f"/root/a{i}/b{j}"} for i in range(6) for j in range(5)]
        created = await client.post("/graphql", json={
            "query": "mutation($i: [CreateContextInput!]!) { createContexts(inputs: $i) { id } }", "variables": {"i": inputs}})
        root_id = created.json()["data"]["createContexts"][0]["id"]
        for first in (4, 10):
            before = store.queries
            by_path = (await client.post("/graphql", json={"query": NESTED, "variables": {"first": first}})).json()
            statements = store.queries - before
            by_id = (await client.post("/graphql", json={"query": BY_ID, "variables": {"first": first, "id": root_id}})).json()
            assert "errors" not in by_path, by_path
            assert by_path == by_id
            level1 = by_path["data"]["context"]["children"]
            assert level1["totalCount"] == 6 and len(level1["edges"]) == min(first, 6)
            assert all(e["node"]["children"]["totalCount"] == 5 and len(e["node"]["children"]["edges"]) == 3
                       for e in level1["edges"])
            if store.backend == "neo4j":
                assert statements == 1, statements
            # the next page, by cursor, through the same read
            cursor = level1["edges"][0]["cursor"]
            page2 = (await client.post("/graphql", json={"query": NESTED.replace("children(first: $first)",
                     f'children(first: $first, after: "{cursor}")'), "variables": {"first": 2}})).json()
            assert [e["node"]["path"] for e in page2["data"]["context"]["children"]["edges"]] == \
                [e["node"]["path"] for e in level1["edges"][1:3]]


async def test_the_probe_row_of_a_nested_page_answers_in_full_elsewhere_in_the_document(store, workspace):
    """A page of `first` reads one row more to learn `hasNextPage` and reads nothing below that row
    (`TreePlan.shown`); the same context asked for by another field of the document still has its children."""
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        inputs = [{"path": "/root"}] + [{"path": f"/root/a{i}"} for i in range(3)] + [
            {"path": f"/root/a{i}/b{j}"} for i in range(3) for j in range(4)]
        await client.post("/graphql", json={
            "query": "mutation($i: [CreateContextInput!]!) { createContexts(inputs: $i) { id } }", "variables": {"i": inputs}})
        below = "children(first: 3) { totalCount pageInfo { hasNextPage } edges { node { path } } }"
        answer = (await client.post("/graphql", json={"query": f"""{{
          root: context(path: "/root") {{ children(first: 2) {{ pageInfo {{ hasNextPage }} edges {{ node {{ path {below} }} }} }} }}
          probe: context(path: "/root/a2") {{ path {below} }} }}"""})).json()
    assert "errors" not in answer, answer
    page = answer["data"]["root"]["children"]
    assert page["pageInfo"]["hasNextPage"] is True and [e["node"]["path"] for e in page["edges"]] == ["/root/a0", "/root/a1"]
    expected = {"totalCount": 4, "pageInfo": {"hasNextPage": True}, "edges": [{"node": {"path": f"/root/a2/b{j}"}} for j in range(3)]}
    assert answer["data"]["probe"] == {"path": "/root/a2", "children": expected}
    assert all(e["node"]["children"]["totalCount"] == 4 for e in page["edges"])


THROUGH_FRAGMENTS = {
    "named fragment": """query($first: Int) { context(path: "/root") { ...Top } }
      fragment Top on Context { path title
        children(first: $first) { totalCount edges { cursor node { path title
          children(first: 3) { totalCount edges { node { path title } } } } } } }""",
    "inline fragment": """query($first: Int) { context(path: "/root") { path title ... on Context {
      children(first: $first) { totalCount edges { cursor node { path title
        children(first: 3) { totalCount edges { node { path title } } } } } } } } }""",
}


@pytest.mark.parametrize("form", sorted(THROUGH_FRAGMENTS))
async def test_children_reached_through_a_fragment_are_read_ahead_too(store, workspace, form):
    """The look-ahead skips converting the selection when the root field names no `children` at its first
    level (schema/lookahead.py `names_children`); `children` inside a fragment still counts."""
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        inputs = [{"path": "/root", "title": "r"}] + [{"path": f"/root/a{i}"} for i in range(3)] + [
            {"path": f"/root/a{i}/b{j}"} for i in range(3) for j in range(4)]
        await client.post("/graphql", json={
            "query": "mutation($i: [CreateContextInput!]!) { createContexts(inputs: $i) { id } }", "variables": {"i": inputs}})
        direct = (await client.post("/graphql", json={"query": NESTED, "variables": {"first": 2}})).json()
        before = store.queries
        through = (await client.post("/graphql", json={"query": THROUGH_FRAGMENTS[form], "variables": {"first": 2}})).json()
        statements = store.queries - before
        point = (await client.post("/graphql", json={"query": '{ context(path: "/root/a1") { ... on Context { path } } }'})).json()
    assert "errors" not in through, through
    assert through == direct
    assert len(through["data"]["context"]["children"]["edges"]) == 2
    assert point == {"data": {"context": {"path": "/root/a1"}}}
    if store.backend == "neo4j":
        assert statements == 1, statements


async def test_a_filtered_page_with_its_total_is_one_read(store, workspace):
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        inputs = [{"path": "/f"}] + [{"path": f"/f/n{i}", "kind": "note" if i % 2 else "task"} for i in range(9)]
        await client.post("/graphql", json={
            "query": "mutation($i: [CreateContextInput!]!) { createContexts(inputs: $i) { id } }", "variables": {"i": inputs}})
        query = """{ contexts(where: {path: {startsWith: "/f/"}, kind: {eq: "note"}}, first: 2) {
            totalCount edges { node { path } } pageInfo { hasNextPage } } }"""
        before = store.queries
        body = (await client.post("/graphql", json={"query": query})).json()
        statements = store.queries - before
    assert body["data"]["contexts"]["totalCount"] == 4
    assert [e["node"]["path"] for e in body["data"]["contexts"]["edges"]] == ["/f/n1", "/f/n3"]
    assert body["data"]["contexts"]["pageInfo"]["hasNextPage"] is True
    if store.backend == "neo4j":
        assert statements == 1, statements
