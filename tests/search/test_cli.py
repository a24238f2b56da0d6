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
    assert "2 missing" in checked.stdout
    rebuilt = cli("reindex", data_dir=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "reindexed 2 context(s)" in rebuilt.stderr
    checked = cli("verify", data_dir=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 missing, 0 orphaned, 0 stale" in checked.stdout
