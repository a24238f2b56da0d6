"""/dashboard end to end: Debian's headless Chromium driven by playwright-core; screenshot kept as an artifact."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx

from .conftest import JS
from .servers import CLIENT_TIMEOUT, live_server
from .test_subscriptions import CREATE, UPDATE, gql

ARTIFACTS = Path(__file__).parent / "artifacts"


async def _until_subscribed(server) -> None:
    """"live" on the page means its socket is open; its two subscriptions (changes, tool executions) are sent
    on it right after, and a change published before they are registered would never reach the page."""
    deadline = asyncio.get_running_loop().time() + 15
    while len(server.bus.subscriptions) < 2:
        assert asyncio.get_running_loop().time() < deadline, "the page never subscribed"
        await asyncio.sleep(0.01)


async def test_dashboard_shows_changes_live(store, workspace, node_modules, request):
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"dashboard-{request.node.callspec.id}.png"
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
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
            await _until_subscribed(server)
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


async def test_an_older_redraw_answered_last_does_not_steal_the_tree(store, workspace, node_modules):
    """Two changes start two redraws; the first one's answer is held until the second is drawn. A click on
    the child must still open it (it once toggled an item of the older redraw, no longer on screen)."""
    async with live_server(store, workspace) as server, httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
        await gql(http, CREATE, i={"path": "/acme/projects/alpha"})
        browser = await asyncio.create_subprocess_exec(
            shutil.which("node"), str(JS / "dashboard_race.mjs"), server.http, "/acme",
            cwd=JS, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            async def read() -> dict:
                line = await asyncio.wait_for(browser.stdout.readline(), 60)
                assert line, (await browser.stderr.read()).decode()[-3000:]
                return json.loads(line)

            assert await read() == {"ready": True}
            await _until_subscribed(server)
            await gql(http, UPDATE, p="/acme", t="first")  # redraw A: its listing of /acme is held
            assert await read() == {"held": True}
            await gql(http, UPDATE, p="/acme", t="second")  # redraw B, drawn before A's answer arrives
            shown = await read()
            assert await asyncio.wait_for(browser.wait(), 30) == 0
        finally:
            if browser.returncode is None:
                browser.kill()
                await browser.wait()
    assert shown == {"opened": True, "problems": []}
