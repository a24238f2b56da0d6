"""/dashboard end to end: Debian's headless Chromium driven by playwright-core; screenshot kept as an artifact."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx

from .conftest import JS
from .servers import live_server
from .test_subscriptions import CREATE, UPDATE, gql

ARTIFACTS = Path(__file__).parent / "artifacts"


async def test_dashboard_shows_changes_live(store, workspace, node_modules, request):
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"dashboard-{request.node.callspec.id}.png"
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http) as http:
        page = await http.get("/dashboard")
        assert page.status_code == 200 and "ContextQL" in page.text
        await gql(http, CREATE, i={"path": "/acme/projects", "kind": "folder"})  # there before the page opens
        expect = {"feed": ["/acme/projects/alpha", "/acme/projects/alpha/notes"],
                  "tree": ["/acme/projects", "/acme/projects/alpha", "/acme/projects/alpha/notes"]}
        browser = await asyncio.create_subprocess_exec(
            shutil.which("node"), str(JS / "dashboard.mjs"), server.http, "/acme", str(screenshot), json.dumps(expect),
            cwd=JS, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            try:
                line = await asyncio.wait_for(browser.stdout.readline(), 60)
            except TimeoutError:
                browser.kill()
                raise AssertionError((await browser.stderr.read()).decode()[-3000:]) from None
            assert json.loads(line or b"{}") == {"ready": True}, (await browser.stderr.read()).decode()
            for _ in range(1000):  # the page's two subscriptions (changes, tool executions) are registered
                if len(server.bus.subscriptions) >= 2:
                    break
                await asyncio.sleep(0.01)
            await gql(http, CREATE, i={"path": "/acme/projects/alpha", "kind": "project", "title": "Alpha"})
            await gql(http, UPDATE, p="/acme/projects/alpha", t="Alpha v2")
            await gql(http, CREATE, i={"path": "/acme/projects/alpha/notes", "kind": "note"})
            await gql(http, CREATE, i={"path": "/elsewhere"})  # not under the watched path
            browser.stdin.write(b"go\n")
            await browser.stdin.drain()
            browser.stdin.close()
            line = await asyncio.wait_for(browser.stdout.readline(), 60)
            assert line, (await browser.stderr.read()).decode()
            shown = json.loads(line)
            assert await asyncio.wait_for(browser.wait(), 30) == 0
        finally:
            if browser.returncode is None:
                browser.kill()
                await browser.wait()
    assert shown["problems"] == []
    assert len(shown["feed"]) == 3 and not any("/elsewhere" in item for item in shown["feed"])
    assert shown["feed"][0].startswith("CREATED") and "/acme/projects/alpha/notes" in shown["feed"][0]
    assert shown["feed"][1].startswith("UPDATED") and "v2" in shown["feed"][1]
    assert {"/acme/projects", "/acme/projects/alpha", "/acme/projects/alpha/notes"} <= set(shown["tree"])
    assert any(row.startswith("created") and row.endswith("2") for row in shown["byOperation"])
    assert any(row.startswith("project") for row in shown["byKind"])
    assert screenshot.stat().st_size > 10_000
