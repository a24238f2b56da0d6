"""GraphiQL at /graphql works with no network: assets vendored from npm and served by the app, checked in Chromium."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.auth.tokens import AUDIENCE, ISSUER, SECRET, hs256

from .conftest import JS
from .servers import CLIENT_TIMEOUT, ROOT, live_server
from .test_subscriptions import CREATE, gql

ARTIFACTS = Path(__file__).parent / "artifacts"
TOOLS = ROOT / "tools" / "graphiql"
SUBSCRIPTION = """subscription Live {
  contextChanged(pathPrefix: "/acme") {
    ... on ContextChangeEvent { operation path version context { title } }
  }
}"""


@pytest.fixture(scope="session")
def graphiql_node_modules(node_modules) -> Path:
    """tools/graphiql installed exactly as its package-lock.json pins it (once)."""
    stamp, lock = TOOLS / "node_modules" / ".package-lock.json", TOOLS / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run([shutil.which("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TOOLS, check=True)
    return TOOLS / "node_modules"


def test_vendored_graphiql_matches_the_pinned_npm_packages(graphiql_node_modules):
    check = subprocess.run([shutil.which("node"), str(TOOLS / "vendor.mjs"), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr + "\n(run scripts/vendor-graphiql)"
    vendor = ROOT / "server" / "static" / "graphiql" / "vendor"
    shipped = json.loads((vendor / "manifest.json").read_text())
    lock = json.loads((TOOLS / "package-lock.json").read_text())["packages"]
    for source in shipped.values():  # what is shipped is what the lockfile pins
        name, version = re.fullmatch(r"(@?[^@]+)@([^/]+)/.*", source).groups()
        assert lock[f"node_modules/{name}"]["version"] == version
    licences = (vendor / "THIRD-PARTY-LICENSES.md").read_text()
    assert "## graphiql " in licences and "## react " in licences and "MIT License" in licences


async def test_the_page_and_every_asset_it_names_are_served_locally(store, workspace):
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "<title>ContextQL</title>" in page.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(assets) >= 7 and not any("//" in url for url in assets), assets  # nothing from elsewhere
        for url in assets:
            if url.startswith("data:"):
                continue
            asset = await http.get(f"/{url}")  # relative to /graphql
            assert asset.status_code == 200 and len(asset.content) > 50, url
            assert asset.headers["content-type"].split(";")[0] in ("text/css", "text/javascript"), url


async def test_only_a_browser_gets_the_page_curl_gets_a_graphql_error(store, workspace):
    """Over a real socket: Accept: text/html gets GraphiQL; curl's `*/*` gets JSON saying what to send."""
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        page = await http.get("/graphql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.status_code == 200 and "<title>ContextQL</title>" in page.text
        curl = await http.get("/graphql", headers={"accept": "*/*", "user-agent": "curl/8.5.0"})
        assert curl.status_code == 400 and curl.headers["content-type"] == "application/json"
        [error] = curl.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST" and "open this address in a browser" in error["message"]


async def test_production_mode_serves_neither_the_page_nor_its_assets(store, workspace):
    async with live_server(store, workspace, production=True) as server, \
            httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        assert (await http.get("/graphiql/assets/graphiql.js")).status_code == 404


@pytest.mark.parametrize("auth", [False, True], ids=["anonymous", "bearer"])
async def test_graphiql_runs_a_query_and_a_pasted_subscription_offline(store, workspace, node_modules, request, auth):
    """With authentication on, the token typed into the Headers tab carries the query and the WebSocket alike."""
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"graphiql-{request.node.callspec.id}.png"
    settings = {"auth_jwt_secret": SECRET, "auth_issuer": ISSUER, "auth_audience": AUDIENCE} if auth else {}
    headers = {"Authorization": f"Bearer {hs256(workspaces=[workspace])}"} if auth else {}
    async with live_server(store, workspace, **settings) as server, \
            httpx.AsyncClient(base_url=server.http, headers=headers) as http:
        await gql(http, CREATE, i={"path": "/acme", "kind": "org", "title": "Acme"})
        browser = await asyncio.create_subprocess_exec(
            shutil.which("node"), str(JS / "graphiql.mjs"), server.http, str(screenshot), SUBSCRIPTION,
            "/acme/projects", *([json.dumps(headers)] if auth else []), cwd=JS, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )

        async def line() -> dict:
            try:
                text = await asyncio.wait_for(browser.stdout.readline(), 60)
            except TimeoutError:
                browser.kill()
                text = b""
            assert text, (await browser.stderr.read()).decode()[-3000:]
            return json.loads(text)

        try:
            ran = await line()
            assert ran["opening"].startswith("# ") and "contexts(" in ran["opening"]
            connection = ran["query"]["data"]["contexts"]
            assert connection["totalCount"] == 1 and connection["edges"][0]["node"]["path"] == "/acme"
            assert await line() == {"subscribed": True}
            for _ in range(1000):  # the subscription from the browser is registered on the bus
                if server.bus.subscriptions:
                    break
                await asyncio.sleep(0.01)
            assert server.bus.subscriptions, "GraphiQL's subscription never reached the server"
            await gql(http, CREATE, i={"path": "/acme/projects", "kind": "folder", "title": "Projects"})
            browser.stdin.write(b"go\n")
            await browser.stdin.drain()
            browser.stdin.close()
            shown = await line()
            assert await asyncio.wait_for(browser.wait(), 30) == 0
        finally:
            if browser.returncode is None:
                browser.kill()
                await browser.wait()
    assert shown["event"]["data"]["contextChanged"] == {
        "operation": "CREATED", "path": "/acme/projects", "version": 1, "context": {"title": "Projects"},
    }
    assert shown["title"] == "ContextQL"
    assert shown["offsite"] == []
    # with authentication on, the schema fetch on load (before a token is typed in) is refused, and only that
    expected = "the server responded with a status of 401 (Unauthorized)"
    assert [problem for problem in shown["problems"] if not (auth and expected in problem)] == []
    assert screenshot.stat().st_size > 10_000
