"""`contextql verify` and `contextql reindex` as a user runs them, on a fresh embedded data directory."""

from __future__ import annotations

import os
import subprocess
import sys

from contextql.graph.ladybug import LadybugStore
from contextql.migrations import migrate
from contextql.resolvers import contexts as ops
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
    return subprocess.run([sys.executable, "-m", "contextql.server", "--data-dir", str(data_dir), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


async def test_verify_finds_drift_and_reindex_repairs_it(tmp_path):
    store = LadybugStore(str(tmp_path / "graph.lbug"))  # the path `serve` uses under --data-dir
    await store.open()
    await migrate(store)
    ctx = RequestContext(store=store, principal=ANONYMOUS, workspace="default")
    await ops.create(ctx, [ops.NewContext(path="/a/b", content="Backups run nightly.")], create_parents=True)
    await store.close()  # written with no worker running: the index has nothing yet

    checked = cli("verify", data_dir=tmp_path)
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.splitlines()[0] == ("workspace 'default': 2 missing, 0 orphaned, 0 stale; history: 2 missing, "
                                              "0 orphaned; 2 outbox task(s) pending"), checked.stdout
    assert "checked 2 context(s) and 2 version(s) in the data directory" in checked.stderr
    assert "2/2" in checked.stderr  # the progress bar's last state
    assert "drift found: run `contextql reindex` (or start the server to drain the outbox)" in checked.stderr
    current_only = cli("verify", "--no-history", data_dir=tmp_path)
    assert current_only.stdout.splitlines()[0] == "workspace 'default': 2 missing, 0 orphaned, 0 stale; 2 outbox " \
                                                  "task(s) pending", current_only.stdout
    rebuilt = cli("reindex", data_dir=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "reindexed 2 context(s)" in rebuilt.stderr
    checked = cli("verify", data_dir=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 missing, 0 orphaned, 0 stale; history: 0 missing, 0 orphaned" in checked.stdout


def test_a_stale_server_file_is_ignored(tmp_path):
    """A server killed without cleaning up leaves its file unlocked: the command works alone."""
    import json

    from contextql.server.local_admin import Channel, find_server

    (tmp_path / "server.json").write_text(json.dumps({"url": "http://127.0.0.1:9/graphql", "pid": 1, "token": "x"}))
    assert find_server(tmp_path) is None
    channel = Channel(tmp_path)  # as a live server holds it
    token = channel.open("http://127.0.0.1:8123/graphql")
    assert token is not None and token.startswith("cqlocal_")
    assert (tmp_path / "server.json").stat().st_mode & 0o777 == 0o600
    found = find_server(tmp_path)
    assert found is not None and (found.url, found.token) == ("http://127.0.0.1:8123/graphql", token)
    channel.close()
    assert not (tmp_path / "server.json").exists() and find_server(tmp_path) is None
