"""Fixtures of the authentication tests: an app with auth configured, over the real store of each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from contextql.server.app import create_app
from tests.api.conftest import settings_for

from .tokens import AUDIENCE, ISSUER, SECRET, Provider


class Client:
    """Raw GraphQL over HTTP with a chosen credential and workspace."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, query: str, token: str | None = None, workspace: str | None = None,
                   **variables: Any) -> httpx.Response:
        headers = {}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if workspace is not None:
            headers["x-contextql-workspace"] = workspace
        return await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)

    async def data(self, query: str, token: str | None = None, workspace: str | None = None, **variables: Any) -> dict:
        response = await self.post(query, token, workspace, **variables)
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]

    async def error(self, query: str, token: str | None = None, workspace: str | None = None, **variables: Any) -> dict:
        body = (await self.post(query, token, workspace, **variables)).json()
        assert body.get("errors"), body
        return body["errors"][0]


@asynccontextmanager
async def client_for(store, workspace: str, **settings: Any) -> AsyncIterator[Client]:
    app = create_app(settings_for(workspace, **settings), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield Client(http)


@pytest.fixture(scope="session")
def provider():
    instance = Provider()
    yield instance
    instance.close()


HS256_SETTINGS = {"auth_jwt_secret": SECRET, "auth_issuer": ISSUER, "auth_audience": AUDIENCE, "auth_leeway": 0,
                  "auth_api_keys": True}


@pytest.fixture
async def hs(store, workspace) -> AsyncIterator[Client]:
    async with client_for(store, workspace, **HS256_SETTINGS) as client:
        yield client
