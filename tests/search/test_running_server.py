"""`contextql verify` and `reindex` while `contextql serve` runs on the same embedded data directory.

The server holds the store and the local index (one process each), so the commands go through it
(server/local_admin.py). Everything here is a real process: the server, the commands, the index.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from contextql.server.search import open_index
from contextql.server.settings import Settings
from contextql.server.stores import open_store
from tests.live.servers import free_port

from .test_cli import REPO, cli

ROTATE = "To rotate API keys, create a new key, roll it out to every service, then revoke the old key."
BACKUP = "Database backups run nightly at 02:00 and are kept for thirty days in cold storage."
WORDS = ("replica failover quorum latency budget runbook alert pager rollback canary deploy shard index cache "
         "eviction token lease backoff retry timeout queue broker schema migration snapshot restore audit").split()


class Serve:
    """`contextql serve --data-dir D` in its own process, as an operator starts it."""

    def __init__(self, data_dir: Path, log: Path, **settings: str) -> None:
        self.data_dir, self.port = data_dir, free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")} | {"CONTEXTQL_LOG_LEVEL": "warning"}
        env |= {f"CONTEXTQL_{k.upper()}": v for k, v in settings.items()}
        self.log = open(log, "ab")  # noqa: SIM115 - the server's log, closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "contextql.server", "serve", "--data-dir", str(data_dir), "--port", str(self.port)],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        deadline = time.monotonic() + 120
        while not (data_dir / "server.json").exists():  # written once it listens
            assert self.process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = httpx.post(self.url, json={"query": query, "variables": variables}, timeout=60).json()
        assert not body.get("errors"), body
        return body["data"]

    def caught_up(self, timeout: float = 180) -> None:
        """Wait until the server's worker has indexed every write."""
        deadline = time.monotonic() + timeout
        while True:
            drift = self.data("{ indexDrift { inStep pendingTasks } }")["indexDrift"]
            if drift == {"inStep": True, "pendingTasks": 0}:
                return
            assert time.monotonic() < deadline, drift
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server; its index process (and any other child) ends with it, also when it is killed."""
        children = children_of(self.process.pid)
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        finally:
            self.log.close()
        deadline = time.monotonic() + 15
        while running := [pid for pid in children if alive(pid)]:
            assert time.monotonic() < deadline, f"left behind: {running}"
            time.sleep(0.05)


def children_of(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The command failed as the README promises: one `error:` line, never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


async def break_the_index(data_dir: Path) -> dict[str, str]:
    """With the server stopped, damage its index the way a lost or half-applied write would."""
    settings = Settings(data_dir=data_dir, _env_file=None)
    store = await open_store(settings)
    index = await open_index(settings)
    try:
        found = await store.get_by_paths("default", ["/ops/keys", "/ops/backups"])
        keys, backups = found["/ops/keys"], found["/ops/backups"]
        ghost = dataclasses.replace(backups, id=str(uuid.uuid4()))  # a context the graph never had
        await index.remove("default", [keys.id])  # missing, and its two versions' history entries
        await index.refresh([dataclasses.replace(backups, path="/old/backups"), ghost])  # stale; orphaned
        [first] = (await store.versions_of("default", [backups.id]))[backups.id]
        await index.add_versions([dataclasses.replace(first, context_id=ghost.id)])  # an orphaned history entry
    finally:
        await index.close()
        index.embeddings.close()
        await store.close()
    return {"keys": keys.id, "ghost": ghost.id}


def test_verify_and_reindex_through_the_running_server(tmp_path):
    data_dir = tmp_path / "data"
    server = Serve(data_dir, tmp_path / "serve.log", index_process="true")
    try:
        created = server.data(
            "mutation($i: [CreateContextInput!]!) { createContexts(createParents: true, inputs: $i) { id } }",
            i=[{"path": "/ops/keys", "title": "Key rotation", "content": "Rotate API keys yearly."},
               {"path": "/ops/backups", "title": "Backups", "content": BACKUP}])
        assert len(created["createContexts"]) == 2
        server.data('mutation($c: String!) { updateContext(path: "/ops/keys", input: {content: $c}) { version } }',
                    c=ROTATE)
        server.caught_up()
        clean = cli("verify", data_dir=data_dir)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert clean.stdout.splitlines()[0] == ("workspace 'default': 0 missing, 0 orphaned, 0 stale; history: 0 "
                                                "missing, 0 orphaned; 0 outbox task(s) pending"), clean.stdout
        assert f"checked 3 context(s) and 4 version(s) through the server at {server.url} " \
               f"(pid {server.process.pid})" in clean.stderr, clean.stderr
        # the embedded index is served by a child process of the server (CONTEXTQL_INDEX_PROCESS)
        assert any("contextql.graph.index.edge_process" in Path(f"/proc/{c}/cmdline").read_text()
                   for c in children_of(server.process.pid))
    finally:
        server.stop()
    assert not (data_dir / "server.json").exists()  # withdrawn at stop

    ids = asyncio.run(break_the_index(data_dir))
    server = Serve(data_dir, tmp_path / "serve.log")
    try:
        drifted = cli("verify", data_dir=data_dir)
        assert drifted.returncode == 1, drifted.stdout + drifted.stderr
        lines = drifted.stdout.splitlines()
        assert lines[0] == ("workspace 'default': 1 missing, 1 orphaned, 1 stale; history: 2 missing, 1 orphaned; "
                            "0 outbox task(s) pending"), drifted.stdout
        assert f"  missing {ids['keys']}" in lines and f"  history missing {ids['keys']}@1" in lines
        assert f"  orphaned {ids['ghost']}" in lines and f"  history orphaned {ids['ghost']}@1" in lines
        assert "drift found: run `contextql reindex`" in drifted.stderr and "Traceback" not in drifted.stderr

        rebuilt = cli("reindex", data_dir=data_dir)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert (f"reindexed 3 context(s) of workspace 'default' through the server at {server.url} "
                f"(pid {server.process.pid})") in rebuilt.stderr, rebuilt.stderr
        assert "3/3" in rebuilt.stderr  # the progress bar's last state
        again = cli("verify", data_dir=data_dir)
        assert again.returncode == 0, again.stdout + again.stderr

        hits = server.data('{ search(query: "how do we rotate API keys?", limit: 1) { context { path } } }')
        assert hits["search"] == [{"context": {"path": "/ops/keys"}}]
        past = server.data('{ search(query: "rotate API keys", includeHistory: true) { context { path } '
                           'version { number } } }')["search"]
        assert {h["version"]["number"] for h in past if h["context"]["path"] == "/ops/keys"} == {1, 2}, past
        assert not [h for h in past if h["context"]["path"] == "/old/backups"]
    finally:
        server.stop()


def test_the_server_dying_during_a_reindex(tmp_path):
    data_dir = tmp_path / "data"
    # its index in a child process: killed with the server, that child must not hold the index afterwards
    server = Serve(data_dir, tmp_path / "serve.log", index_process="true")
    try:
        rng = random.Random(7)
        inputs = [{"path": f"/runbooks/r{i}", "content": " ".join(rng.choice(WORDS) for _ in range(600))}
                  for i in range(200)]  # about 4,000 characters each: several chunks to embed per context
        server.data("mutation($i: [CreateContextInput!]!) { createContexts(createParents: true, inputs: $i) { id } }",
                    i=inputs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
        command = subprocess.Popen([sys.executable, "-m", "contextql.server", "--data-dir", str(data_dir), "reindex"],
                                   cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while True:  # the command has started the job and the server is indexing
            jobs = server.data("{ indexJobs { state total done } }")["indexJobs"]
            if jobs and jobs[0]["total"] is not None:
                break
            assert time.monotonic() < deadline and command.poll() is None, command.communicate()
            time.sleep(0.05)
        assert jobs[0]["state"] == "RUNNING" and jobs[0]["done"] < jobs[0]["total"], jobs
        server.stop(signal.SIGKILL)
        stdout, stderr = command.communicate(timeout=120)
    finally:
        if server.process.poll() is None:
            server.stop()
    result = subprocess.CompletedProcess(command.args, command.returncode, stdout, stderr)
    assert result.returncode == 3, stderr
    assert one_line_error(result).startswith(f"error: the server at {server.url} (pid {server.process.pid}) stopped "
                                             "answering"), stderr

    # The killed server's file is left behind, unlocked: the next command sees it is stale and opens
    # the data directory itself (the interrupted rebuild shows as drift, or none if the worker finished).
    assert (data_dir / "server.json").exists()
    checked = cli("verify", "--no-history", data_dir=data_dir)
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    assert "checked 201 context(s) in the data directory" in checked.stderr, checked.stderr


def test_could_not_check(tmp_path):
    # not a data directory
    nowhere = cli("verify", data_dir=tmp_path / "nothing")
    assert nowhere.returncode == 2
    assert "there is no ContextQL store" in one_line_error(nowhere)

    # a server whose index cannot be used: it still serves, and says why it cannot check
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "index").write_text("not an index\n")
    server = Serve(data_dir, tmp_path / "serve.log")
    try:
        server.data('mutation { createContext(input: {path: "/a", content: "x"}) { id } }')
        unusable = cli("verify", data_dir=data_dir)
        assert unusable.returncode == 2, unusable.stdout + unusable.stderr
        assert one_line_error(unusable).startswith(f"error: the server at {server.url} (pid {server.process.pid}) "
                                                   "refused: The search index is unavailable right now")
        failed = cli("reindex", data_dir=data_dir)
        assert failed.returncode == 3, failed.stderr
        assert "failed: the search index failed" in one_line_error(failed)

        # once the operator has fixed it, the running server rebuilds its index on request
        (data_dir / "index").unlink()
        repaired = cli("reindex", data_dir=data_dir)
        assert repaired.returncode == 0, repaired.stderr
        assert cli("verify", data_dir=data_dir).returncode == 0
        hits = server.data('{ search(query: "x", mode: KEYWORD) { context { path } } }')["search"]
        assert hits == [{"context": {"path": "/a"}}]
    finally:
        server.stop()

    # an unusable index with no server: the command opens it itself and says why it cannot check
    shutil.rmtree(data_dir / "index")
    (data_dir / "index").write_text("not an index\n")
    alone = cli("verify", data_dir=data_dir)
    assert alone.returncode == 2, alone.stderr
    assert one_line_error(alone).startswith(f"error: the search index at {data_dir / 'index'} cannot be used")
