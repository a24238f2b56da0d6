"""An unusable local search index at start-up: the server starts, the graph works, search answers 503 with
SERVICE_UNAVAILABLE, and search recovers by itself once the index can be opened."""

from __future__ import annotations

import shutil

import httpx

from contextql.server.app import create_app
from contextql.server.settings import Settings

SEARCH = '{ search(query: "alpha") { score context { path } } }'


async def test_server_starts_and_search_recovers(tmp_path, workspace):
    data = tmp_path / "data"
    data.mkdir()
    (data / "index").write_text("not a directory")  # the embedded index cannot be opened here
    settings = Settings(workspace=workspace, data_dir=data, _env_file=None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            made = await client.post("/graphql", json={"query": 'mutation { createContext(input: {path: "/alpha", content: "alpha notes"}) { path } }'})
            assert made.json() == {"data": {"createContext": {"path": "/alpha"}}}
            down = await client.post("/graphql", json={"query": SEARCH})
            assert down.status_code == 503 and down.headers["Retry-After"].isdigit()
            assert down.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["search"] != "ok"

            (data / "index").unlink()  # the fault is gone
            shutil.rmtree(data / "index", ignore_errors=True)
            up = await client.post("/graphql", json={"query": SEARCH})
            assert up.status_code == 200 and "errors" not in up.json(), up.json()
            assert (await client.get("/readyz")).status_code == 200
