"""Real servers for the live tests: Redis (Debian's redis-server) and ContextQL under uvicorn."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from contextql.server.app import create_app
from contextql.server.serving import GracefulServer, uvicorn_options
from contextql.server.settings import Settings
from contextql.server.state import app_state

ROOT = Path(__file__).resolve().parents[2]
# For the tests' HTTP clients: what they check is behaviour, not latency, and a shared CI machine
# can stall a request past httpx's default 5 s (seen once on Neo4j); a hang still fails.
CLIENT_TIMEOUT = httpx.Timeout(30.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on a free port, no persistence."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: scripts/test installs Debian's redis-server")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start within 10 s")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class LiveServer:
    """ContextQL under uvicorn in this event loop, over the test's store (shared with the test)."""

    def __init__(self, store, workspace: str, search=None, **settings: Any) -> None:
        self.port = free_port()
        configured = Settings(workspace=workspace, _env_file=None, host="127.0.0.1", port=self.port,
                              log_level="warning", **settings)
        self.app = create_app(configured, store=store, search=search)
        # The production server's own uvicorn options (keepalive pings included), on a free port.
        config = uvicorn.Config(self.app, **uvicorn_options(configured))
        self.server = GracefulServer(config, self.app)
        self.task: asyncio.Task | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def bus(self):
        return app_state(self.app).events

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 15
        while not self.server.started:
            if self.task.done() or time.monotonic() > deadline:
                raise RuntimeError("the live ContextQL server did not start")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=30)


@asynccontextmanager
async def live_server(store, workspace: str, search=None, **settings: Any):
    server = LiveServer(store, workspace, search, **settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class ServerProcess:
    """`contextql serve` in its own process (for several instances sharing Redis)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        full_env = {**os.environ, **env, "CONTEXTQL_PORT": str(self.port), "CONTEXTQL_HOST": "127.0.0.1",
                    "CONTEXTQL_LOG_LEVEL": "warning"}
        self.handle = open(log, "wb")  # noqa: SIM115 - the server's log, open for its lifetime; closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "contextql.server.cli", "serve"], cwd=ROOT, env=full_env,
                                        stdout=self.handle, stderr=subprocess.STDOUT)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
                try:
                    if (await client.get(self.http + "/healthz")).json().get("status") == "ok":
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server on {self.port} not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> int:
        self.process.terminate()
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.handle.close()
        return code
