"""The `contextql` command as a user runs it: a real process, a fresh embedded data directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx

CLI = [sys.executable, "-m", "server"]


def run(*args: str, cwd, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_migrate_export_import(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
    server = subprocess.Popen([*CLI, "--data-dir", str(data_dir), "serve", "--port", str(port)], cwd=repo, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        created = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": """mutation {
            createContexts(createParents: true, inputs: [{path: "/cli/a", data: {x: 1}}, {path: "/cli/b"}]) { id } }"""})
        assert "errors" not in created.json()
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "embedded mode" in output and "anonymous" in output, output

    migrated = run("--data-dir", str(data_dir), "migrate", cwd=repo)
    assert migrated.returncode == 0 and "none pending" in migrated.stderr

    export_file = tmp_path / "default.jsonl"
    exported = run("--data-dir", str(data_dir), "export", "-o", str(export_file), cwd=repo)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in export_file.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["header", "context", "version", "context", "version", "context", "version"]

    again = run("--data-dir", str(data_dir), "import", str(export_file), cwd=repo)
    assert again.returncode == 2 and "already has 3 contexts" in again.stderr

    restored_dir = tmp_path / "restored"
    imported = run("--data-dir", str(restored_dir), "import", str(export_file), cwd=repo)
    assert imported.returncode == 0 and "imported 3 context(s)" in imported.stderr, imported.stderr
    copy = run("--data-dir", str(restored_dir), "export", cwd=repo)
    assert copy.stdout == export_file.read_text()

    assert run("--data-dir", str(data_dir), "frobnicate", cwd=repo).returncode == 2


def test_workers_need_neo4j_and_a_search_server(tmp_path):
    refused = run("--data-dir", str(tmp_path / "d"), "serve", "--workers", "2", cwd=tmp_path)
    assert refused.returncode == 2 and "needs the Neo4j deployment" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_two_workers_serve_one_port_against_neo4j(tmp_path, tmp_path_factory):
    from tests.neo4j_server import ensure_neo4j

    uri = ensure_neo4j(tmp_path_factory)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
    env |= {"CONTEXTQL_SEARCH": "false", "CONTEXTQL_WORKSPACE": f"workers-{port}"}
    server = subprocess.Popen([*CLI, "--neo4j-uri", uri, "serve", "--port", str(port), "--workers", "2"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "two workers did not start"
            time.sleep(0.3)
        made = httpx.post(f"http://127.0.0.1:{port}/graphql",
                          json={"query": 'mutation { createContext(input: {path: "/w"}) { path } }'}).json()
        assert made == {"data": {"createContext": {"path": "/w"}}}
        for _ in range(6):  # whichever worker answers sees the same store
            seen = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": '{ context(path: "/w") { path } }'})
            assert seen.json() == {"data": {"context": {"path": "/w"}}}
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert output.count("Started server process") == 2, output
