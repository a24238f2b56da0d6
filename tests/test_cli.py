"""The `contextql` command as a user runs it: a real process, a fresh embedded data directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

CLI = [sys.executable, "-m", "contextql.server"]


def run(*args: str, cwd, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")} | (env or {})
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
    # A relative --data-dir after the command: announced as the absolute folder.
    server = subprocess.Popen([*CLI, "serve", "--data-dir", "data", "--port", str(port)], cwd=tmp_path, env=env,
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

        # The running server holds the store: export goes through it, found at the configured port ...
        online = run("--data-dir", str(data_dir), "export", "-o", str(tmp_path / "online.jsonl"), cwd=repo,
                     env={"CONTEXTQL_PORT": str(port)})
        assert online.returncode == 0 and "exporting through it at" in online.stderr, online.stderr
        online_lines = [json.loads(line) for line in (tmp_path / "online.jsonl").read_text().splitlines()]
        assert [line["type"] for line in online_lines].count("context") == 3 and online_lines[-1]["type"] == "end"
        # ... found by the file it keeps in the data directory (server.json), whatever CONTEXTQL_PORT says ...
        moved = run("--data-dir", str(data_dir), "export", "-o", str(tmp_path / "again.jsonl"), cwd=repo,
                    env={"CONTEXTQL_PORT": str(free_port())})
        assert moved.returncode == 0 and f"127.0.0.1:{port}" in moved.stderr, moved.stderr
        assert (tmp_path / "again.jsonl").read_text().count('"type":"context"') == 3
        # ... no store at all in another folder; a server that does not answer: one line each.
        nostore = run("--data-dir", str(tmp_path / "other"), "export", cwd=repo)
        assert nostore.returncode == 2 and "there is no ContextQL store" in nostore.stderr, nostore.stderr
        lost = run("--data-dir", str(data_dir), "export", "--server", f"http://127.0.0.1:{free_port()}", cwd=repo)
        assert lost.returncode == 3 and lost.stderr.count("\n") <= 2, lost.stderr
        assert "the export from http://127.0.0.1:" in lost.stderr and "Traceback" not in lost.stderr
        # Other commands say so in one line, naming its pid (`verify` and `reindex` ask the server instead:
        # tests/search/test_running_server.py).
        for command in (["migrate", "--data-dir", str(data_dir)],
                        ["serve", "--data-dir", str(data_dir), "--port", str(free_port())]):
            held = run(*command, cwd=repo)
            assert held.returncode == 3, (command, held.stderr)
            assert held.stderr.strip() == (
                f"error: the data directory {data_dir} is in use by another ContextQL process (pid {server.pid}): "
                "stop it, or use the running server (the embedded store admits one process; for several, use Neo4j)"
            ), held.stderr
        debug = run("--debug", "migrate", "--data-dir", str(data_dir), cwd=repo)
        assert debug.returncode == 3 and "Traceback" in debug.stderr
        taken = run("serve", "--data-dir", str(tmp_path / "other"), "--port", str(port), cwd=repo)
        assert taken.returncode == 3 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr, taken.stderr
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "embedded mode" in output and "anonymous" in output, output
    assert f"(data directory {data_dir})" in output, output

    migrated = run("--data-dir", str(data_dir), "migrate", cwd=repo)
    assert migrated.returncode == 0 and "none pending" in migrated.stderr

    export_file = tmp_path / "default.jsonl"
    exported = run("--data-dir", str(data_dir), "export", "-o", str(export_file), cwd=repo)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in export_file.read_text().splitlines()]
    kinds = [line["type"] for line in lines]
    assert kinds[:7] == ["header", "context", "version", "context", "version", "context", "version"]
    assert kinds[-1] == "end" and set(kinds[7:-1]) == {"audit"}  # the write and the two online exports
    assert next(line for line in lines if line["type"] == "audit")["operation"] == "export"  # newest first

    again = run("--data-dir", str(data_dir), "import", str(export_file), cwd=repo)
    assert again.returncode == 2 and "already has 3 context(s)" in again.stderr, again.stderr

    restored_dir = tmp_path / "restored"
    imported = run("--data-dir", str(restored_dir), "import", str(export_file), cwd=repo)
    assert imported.returncode == 0 and "imported 3 contexts, 3 versions, 3 audit entries" in imported.stderr, (
        imported.stderr)
    copy = run("--data-dir", str(restored_dir), "export", cwd=repo)
    assert copy.stdout.splitlines()[1:] == export_file.read_text().splitlines()[1:]  # but the header's time

    # A file cut short is refused before anything is written; a file that is not a backup in one line.
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(line + "\n" for line in export_file.read_text().splitlines()[:-1]))
    empty_dir = tmp_path / "empty"
    refused = run("--data-dir", str(empty_dir), "import", str(cut), cwd=repo)
    assert refused.returncode == 2 and "is incomplete: it has no end line" in refused.stderr, refused.stderr
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    bad = run("--data-dir", str(empty_dir), "import", str(garbage), cwd=repo)
    assert bad.returncode == 2 and "is not a ContextQL backup" in bad.stderr and "Traceback" not in bad.stderr

    assert run("--data-dir", str(data_dir), "frobnicate", cwd=repo).returncode == 2


def test_version_and_usage(tmp_path):
    shown = run("--version", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("contextql 0.1"), shown
    assert run("serve", "--bogus", cwd=tmp_path).returncode == 2


def test_misspelt_settings(tmp_path):
    refused = run("serve", cwd=tmp_path, env={"CONTEXTQL_AUTH_JWT_SECRE": "x" * 32})
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip() == ("error: unknown setting CONTEXTQL_AUTH_JWT_SECRE (did you mean "
                                      "CONTEXTQL_AUTH_JWT_SECRET?): fix or unset it; an authentication setting "
                                      "is never ignored"), refused.stderr
    warned = run("migrate", "--data-dir", "d", cwd=tmp_path, env={"CONTEXTQL_WORKSPCE": "w"})
    assert warned.returncode == 0, warned.stderr
    assert ("warning: unknown setting CONTEXTQL_WORKSPCE is ignored (did you mean CONTEXTQL_WORKSPACE?)"
            in warned.stderr.splitlines())


def test_no_store_in_this_folder(tmp_path):
    missing = run("export", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (f"error: there is no ContextQL store in {tmp_path / '.contextql'}: run from "
                                      "the folder the server was started in, or pass --data-dir (or "
                                      "CONTEXTQL_DATA_DIR)"), missing.stderr


def test_unreachable_neo4j(tmp_path):
    uri = f"bolt://127.0.0.1:{free_port()}"
    failed = run("migrate", cwd=tmp_path, env={"CONTEXTQL_NEO4J_URI": uri, "CONTEXTQL_NEO4J_PASSWORD": "hunter2"})
    assert failed.returncode == 3, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach Neo4j at {uri} ("), failed.stderr
    assert "hunter2" not in failed.stderr
    wrong = run("--neo4j-uri", "http://localhost:7474", "migrate", cwd=tmp_path)
    assert wrong.returncode == 2 and "is not a Bolt URI" in wrong.stderr, wrong.stderr


def test_store_from_a_newer_version(tmp_path):
    import asyncio

    from contextql.graph.ladybug import LadybugStore

    assert run("migrate", "--data-dir", "d", cwd=tmp_path).returncode == 0

    async def record_future_migration() -> None:
        store = LadybugStore(str(tmp_path / "d" / "graph.lbug"))
        await store.open()
        try:
            await store.apply_migration("9999_from_the_future", [])
        finally:
            await store.close()

    asyncio.run(record_future_migration())
    refused = run("export", "--data-dir", "d", cwd=tmp_path)
    assert refused.returncode == 4, refused.stderr
    assert refused.stderr.startswith(f"error: the store in data directory {tmp_path / 'd'} was written by a newer "
                                     "ContextQL (migration 9999_from_the_future is unknown"), refused.stderr


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
        # Whichever worker answers the scrape counts the operations of both (prometheus-client multiprocess mode).
        scraped = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                   for family in text_string_to_metric_families(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
                   for sample in family.samples}
        operations = {labels: value for (name, labels), value in scraped.items()
                      if name == "contextql_graphql_operations_total"}
        assert operations == {(("operation", "anonymous"), ("type", "mutation")): 1,
                              (("operation", "anonymous"), ("type", "query")): 6}
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert output.count("Started server process") == 2, output
