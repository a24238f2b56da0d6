"""API fixtures: the real app over the real store of each backend, driven through httpx's ASGI transport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contextql.server.app import create_app
from contextql.server.settings import Settings


class Api:
    """A GraphQL client bound to one workspace."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def run(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run an operation; returns the full response body."""
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code in (200, 400, 503), response.text  # 503: a backend briefly down
        return response.json()

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run an operation that must succeed; returns `data`."""
        body = await self.run(query, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run an operation that must fail; returns its first error."""
        body = await self.run(query, **variables)
        assert body.get("errors"), f"expected an error, got {body}"
        return body["errors"][0]


def settings_for(workspace: str, **overrides: Any) -> Settings:
    return Settings(workspace=workspace, _env_file=None, **overrides)


@pytest.fixture
async def api(store, workspace) -> Api:
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield Api(client)


CREATE = """
mutation($input: CreateContextInput!, $parents: Boolean = false) {
  createContext(input: $input, createParents: $parents) { id path name kind title content data tags version inherit depth }
}"""

GET = """
query($path: String!) { context(path: $path) { id path title content data tags version kind inherit } }"""


async def create(api: Api, path: str, parents: bool = False, **fields: Any) -> dict[str, Any]:
    data = await api.data(CREATE, input={"path": path, **fields}, parents=parents)
    return data["createContext"]


async def get(api: Api, path: str) -> dict[str, Any] | None:
    return (await api.data(GET, path=path))["context"]
