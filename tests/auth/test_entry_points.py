"""The other entry points (issues 4 and 5) under the same roles and workspace isolation: search and
similar hits, tools and their executions, relationships. Nothing of another workspace is revealed."""

from __future__ import annotations

import uuid

from contextql.graph.index import IndexWorker
from contextql.server.search import SearchRuntime
from tests.api.test_knowledge import EXECUTE, IN, OUT, REGISTER, tool_server  # noqa: F401 - real tool server
from tests.search.conftest import embeddings, index_engine, search  # noqa: F401 - real embedder and index engines

from .conftest import HS256_SETTINGS, client_for
from .tokens import hs256

CREATE = 'mutation($p: String!, $c: String!) { createContext(input: {path: $p, content: $c}) { id } }'


def as_role(workspace: str, role: str, sub: str = "ana") -> str:
    return hs256(sub=sub, roles=[role], workspaces=[workspace])


async def test_search_and_similar_never_return_another_workspaces_hits(store, workspace, search):
    other = workspace + "-other"
    settings = {**HS256_SETTINGS}
    from contextql.server.app import create_app  # the app shares the test's search index
    from tests.api.conftest import settings_for
    import httpx

    app = create_app(settings_for(workspace, **settings), store=store, search=SearchRuntime(search.index))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        from .conftest import Client

        client = Client(http)
        theirs = (await client.data(CREATE, as_role(other, "editor", "bo"), other, p="/vault",
                                    c="The launch codes for the rocket are 0000."))["createContext"]
        await client.data(CREATE, as_role(workspace, "editor"), p="/plan", c="Our garden plan: tomatoes.")
        await search.drain()
        await IndexWorker(store, search.index, workspace=other, backoff=0.02, backoff_max=0.1, poll=0.02).drain(timeout=60)

        viewer = as_role(workspace, "viewer")
        query = 'query($q: String!) { search(query: $q, limit: 10) { context { path } } }'
        hits = (await client.data(query, viewer, q="launch codes rocket"))["search"]
        assert [h["context"]["path"] for h in hits] == ["/plan"]  # never /vault
        keyword = 'query($q: String!) { search(query: $q, mode: KEYWORD, limit: 10, includeHistory: true) { context { path } } }'
        assert (await client.data(keyword, viewer, q="launch"))["search"] == []
        similar = 'query($id: ID!) { similar(to: $id) { context { path } } }'
        guessed = await client.error(similar, viewer, id=theirs["id"])
        invented = await client.error(similar, viewer, id=str(uuid.uuid4()))
        assert guessed["extensions"] == invented["extensions"] and guessed["extensions"]["code"] == "NOT_FOUND"
        theirs_view = (await client.data(query, as_role(other, "viewer", "bo"), other, q="launch codes"))["search"]
        assert theirs_view[0]["context"]["path"] == "/vault"


async def test_tools_executions_and_relationships_stay_in_their_workspace(store, workspace, tool_server):
    other = workspace + "-other"
    async with client_for(store, workspace, **HS256_SETTINGS) as client:
        register = {"name": "double", "version": "1.0.0", "url": tool_server + "/ok", "in": IN, "out": OUT}
        await client.data(REGISTER, as_role(other, "editor", "bo"), other, **register)
        ran = (await client.data(EXECUTE, as_role(other, "agent", "bo"), other, tool="double", input={"q": 2}))["executeTool"]
        theirs = (await client.data(CREATE, as_role(other, "editor", "bo"), other, p="/x", c="x"))["createContext"]
        await client.data(CREATE, as_role(workspace, "editor"), p="/mine", c="m")

        agent = as_role(workspace, "agent")
        looked_up = await client.data('{ tool(name: "double") { name } tools { totalCount } }', agent)
        assert looked_up == {"tool": None, "tools": {"totalCount": 0}}
        run_theirs = await client.error(EXECUTE, agent, tool="double", input={"q": 1})
        run_nothing = await client.error(EXECUTE, agent, tool="nothing", input={"q": 1})
        assert run_theirs["extensions"]["code"] == run_nothing["extensions"]["code"] == "NOT_FOUND"
        execution = await client.data('query($id: ID!) { execution(id: $id) { id } executions { totalCount } }', agent, id=ran["id"])
        assert execution == {"execution": None, "executions": {"totalCount": 0}}
        relate = 'mutation($to: String!) { relate(from: "/mine", to: {path: $to}, type: "CITES") { created } }'
        assert (await client.error(relate, agent, to="/x"))["extensions"]["code"] == "NOT_FOUND"
        node = await client.data('query($id: ID!) { node(id: $id) { id } }', agent, id=theirs["id"])
        assert node == {"node": None}


async def test_tool_actions_follow_the_role_matrix(store, workspace, tool_server):
    async with client_for(store, workspace, **HS256_SETTINGS) as client:
        register = {"name": "double", "version": "1.0.0", "url": tool_server + "/ok", "in": IN, "out": OUT}
        for role in ("agent", "viewer"):
            assert (await client.error(REGISTER, as_role(workspace, role), **register))["extensions"]["code"] == "FORBIDDEN"
        await client.data(REGISTER, as_role(workspace, "editor"), **register)
        denied = await client.error(EXECUTE, as_role(workspace, "viewer"), tool="double", input={"q": 1})
        assert denied["extensions"]["code"] == "FORBIDDEN"
        ok = (await client.data(EXECUTE, as_role(workspace, "agent"), tool="double", input={"q": 4}))["executeTool"]
        assert ok["status"] == "SUCCEEDED" and ok["output"] == {"answer": 8}
