"""CORS in a real browser: a page on another origin calls the API with fetch (Debian's Chromium, playwright-core)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .conftest import JS
from .servers import live_server


class _Page(BaseHTTPRequestHandler):
    """Any path: an empty HTML page, so the browser has an origin to call the API from."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>another origin</title><link rel='icon' href='data:,'>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def page_origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_page_on_an_allowed_origin_can_call_the_api_and_others_cannot(store, workspace, node_modules):
    with page_origin() as allowed, page_origin() as other:
        async with live_server(store, workspace, cors_origins=allowed) as server:
            browser = await asyncio.create_subprocess_exec(
                shutil.which("node"), str(JS / "cors.mjs"), f"{server.http}/graphql", f"{allowed}/app",
                f"{other}/app", cwd=JS, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(browser.communicate(), 90)
            assert browser.returncode == 0, err.decode()[-3000:]
    from_allowed, from_other = json.loads(out)
    assert from_allowed["origin"] == allowed
    assert from_allowed.get("status") == 200, from_allowed
    assert from_allowed["body"] == {"data": {"contexts": {"totalCount": 0}}}
    assert from_other["origin"] == other
    assert "body" not in from_other and "Failed to fetch" in from_other["error"]
    assert any("CORS policy" in line for line in from_other["console"]), from_other["console"]


async def test_without_the_setting_no_other_origin_can_read_the_api(store, workspace, node_modules):
    with page_origin() as origin:
        async with live_server(store, workspace) as server:
            browser = await asyncio.create_subprocess_exec(
                shutil.which("node"), str(JS / "cors.mjs"), f"{server.http}/graphql", f"{origin}/app",
                cwd=JS, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(browser.communicate(), 90)
            assert browser.returncode == 0, err.decode()[-3000:]
    [result] = json.loads(out)
    assert "body" not in result and "Failed to fetch" in result["error"]
