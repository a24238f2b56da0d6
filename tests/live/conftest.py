"""Fixtures of the live tests: a real Redis, JavaScript clients from npm, and a live server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .servers import RedisServer

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/js installed from the npm registry exactly as package-lock.json pins it (once)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("Node.js 20+ and npm are required for the JavaScript client tests")
    stamp = JS / "node_modules" / ".package-lock.json"
    lock = JS / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS, check=True)
    return JS / "node_modules"
