"""The first admin key comes from the command line: `contextql api-key create`, used against `contextql serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "contextql.server"]


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
    return {**clean, "CONTEXTQL_SEARCH": "false", "CONTEXTQL_AUTH_API_KEYS": "true"}


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "--data-dir", str(data_dir), *args], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=120)


def me(data_dir: Path, key: str | None) -> httpx.Response:
    port = free_port()
    server = subprocess.Popen([*CLI, "--data-dir", str(data_dir), "serve", "--port", str(port)], cwd=ROOT, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok":
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.1)
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ me { id roles workspace } }"},
                          headers=headers)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_create_use_and_revoke_a_key_from_the_command_line(tmp_path):
    data_dir = tmp_path / "data"
    created = cli(data_dir, "api-key", "create", "--name", "boot", "--role", "admin", "--workspace", "acme")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("cq_") and "shown only now" in created.stderr
    assert me(data_dir, None).status_code == 401
    answer = me(data_dir, secret).json()["data"]["me"]
    key_id = secret.split("_")[1]
    assert answer == {"id": f"apikey:{key_id}", "roles": ["admin"], "workspace": "acme"}
    listed = cli(data_dir, "api-key", "list", "--workspace", "acme")
    assert key_id in listed.stdout and "active" in listed.stdout
    assert cli(data_dir, "api-key", "revoke", key_id, "--workspace", "acme").returncode == 0
    assert me(data_dir, secret).status_code == 401
