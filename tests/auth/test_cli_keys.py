"""The first admin key comes from the command line: `contextql api-key create`, used against `contextql serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from contextql.graph.records import Page
from contextql.server.auth.cli import create_key, operator_context, revoke_key
from tests.api.conftest import settings_for
from tests.contract.test_transactions import InjectedFault, failing_commit  # noqa: F401 (a fixture)
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


# The CLI's key writes, against each real store: the audit entry commits in the key's own transaction.

async def test_a_cli_key_and_its_audit_entry_are_written_together(store, workspace, monkeypatch):
    async def no_second_write(entries):
        raise InjectedFault("the entry must travel with the key's write, not after it")

    # a separate audit write after the key committed (what the CLI once did) would lose the entry here
    monkeypatch.setattr(store, "append_audit", no_second_write)
    ctx = operator_context(store, settings_for(workspace), [workspace])
    issued = await create_key(ctx, "boot", "agent", ["admin"], [workspace], 0)
    assert (await store.get_api_key(issued.record.id)) == issued.record
    [entry] = await store.list_audit(workspace, Page(10))
    assert (entry.principal, entry.operation, entry.target, entry.outcome) == ("cli", "cli createApiKey", "name=boot", "ok")
    revoked = await revoke_key(operator_context(store, settings_for(workspace), [workspace]), issued.record.id)
    assert revoked.revoked_at and (await store.get_api_key(issued.record.id)).revoked_at == revoked.revoked_at
    newest = (await store.list_audit(workspace, Page(10)))[0]
    assert (newest.operation, newest.target, newest.outcome) == ("cli revokeApiKey", f"id={issued.record.id}", "ok")


async def test_a_cli_key_write_that_fails_before_commit_leaves_no_key_and_no_entry(store, workspace, failing_commit):
    ctx = operator_context(store, settings_for(workspace), [workspace])
    failing_commit()
    with pytest.raises(InjectedFault):
        await create_key(ctx, "boot", "agent", ["admin"], [workspace], 0)
    assert await store.list_api_keys(workspace) == [] and await store.list_audit(workspace, Page(10)) == []

    issued = await create_key(operator_context(store, settings_for(workspace), [workspace]), "boot", "agent",
                              ["admin"], [workspace], 0)
    failing_commit()
    with pytest.raises(InjectedFault):
        await revoke_key(operator_context(store, settings_for(workspace), [workspace]), issued.record.id)
    assert (await store.get_api_key(issued.record.id)).revoked_at == 0
    assert [e.operation for e in await store.list_audit(workspace, Page(10))] == ["cli createApiKey"]


def test_a_mistyped_role_or_key_id_is_one_line_and_exit_code_2(tmp_path):
    data_dir = tmp_path / "data"
    for args, says in ((("create", "--name", "x", "--role", "boss"), "one or more roles of admin"),
                       (("revoke", "nosuch"), "No API key 'nosuch'")):
        answer = cli(data_dir, "api-key", *args)
        assert answer.returncode == 2 and says in answer.stderr, answer.stderr
        assert "Traceback" not in answer.stderr and "unexpected" not in answer.stderr
        assert len(answer.stderr.strip().splitlines()) == 1, answer.stderr
