"""The `graphql-http` audit suite (npm, GraphQL over HTTP spec) against `/graphql` of a live server.

The outcome is recorded in tests/auth/graphql_http_audit.json (see README "Security"): every audit
recorded as passing must still pass. Regenerate the record with
`CONTEXTQL_RECORD_AUDIT=1 .venv/bin/python -m pytest tests/auth/test_graphql_http_audit.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.live.conftest import node_modules  # noqa: F401 - tests/js installed from the npm registry
from tests.live.servers import live_server

RECORD = Path(__file__).with_name("graphql_http_audit.json")
JS = Path(__file__).resolve().parents[1] / "js"


async def run_audits(url: str) -> list[dict]:
    result = await asyncio.to_thread(
        subprocess.run, [shutil.which("node"), "audit.mjs", url], cwd=JS, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_graphql_http_audits(store, workspace, node_modules):
    async with live_server(store, workspace) as server:
        results = await run_audits(server.http + "/graphql")
    statuses = {r["id"]: r["status"] for r in results}
    assert "error" not in statuses.values(), [r for r in results if r["status"] == "error"]
    if os.environ.get("CONTEXTQL_RECORD_AUDIT") and store.backend == "ladybug":
        RECORD.write_text(json.dumps(results, indent=1) + "\n")
    recorded = json.loads(RECORD.read_text())
    regressed = [r["id"] + " " + r["name"] for r in recorded if r["status"] == "ok" and statuses.get(r["id"]) != "ok"]
    assert not regressed, regressed
