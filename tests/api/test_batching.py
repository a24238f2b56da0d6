"""N+1 guard: one store call per level of a nested query, counted on the real store."""

from __future__ import annotations

import httpx

from server.app import create_app

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
    # context(path) 1, children page 1, child counts 1, grandchildren page 1, their counts 1;
    # parents and ancestors for `effective` are already cached by path/id or fetched in one batch each.
    assert counting.calls.count("list_children") == 2, counting.calls
    assert counting.calls.count("count_children") == 2, counting.calls
    assert counting.calls.count("get_by_paths") <= 2, counting.calls
    assert counting.calls.count("get_by_ids") <= 2, counting.calls
    assert len(counting.calls) <= 8, counting.calls
