"""Backups across backends: a workspace that uses every feature, built through the GraphQL API,
exported from one backend and imported into an empty workspace of the other, then compared
through the API (and by exporting it again: the same lines, record for record)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from contextql.graph.errors import BadUserInputError
from contextql.graph.store import GraphStore
from contextql.graph.transfer import export_workspace, import_workspace
from contextql.migrations import migrate
from tests.auth.conftest import HS256_SETTINGS, Client, client_for
from tests.auth.tokens import hs256
from tests.conftest import BACKENDS, OPENERS

pytestmark = pytest.mark.skipif(len(BACKENDS) < 2, reason="a round trip between backends needs both")


class _Double(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        raw = json.dumps({"answer": body["q"] * 2}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tool_url() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Double)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/double"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
async def stores(tmp_path_factory) -> AsyncIterator[dict[str, GraphStore]]:
    """A store of each backend; LadybugDB's is new and empty."""
    opened = {name: await OPENERS[name](tmp_path_factory) for name in ("ladybug", "neo4j")}
    for store in opened.values():
        await store.open()
        await migrate(store)
    yield opened
    for store in opened.values():
        await store.close()


class Crash(Exception):
    """A failure injected into an import."""


def admin(workspace: str) -> str:
    return hs256(roles=["admin"], workspaces=[workspace])


IN = {"type": "object", "required": ["q"], "properties": {"q": {"type": "integer"}}}
OUT = {"type": "object", "properties": {"answer": {"type": "integer"}}}
REGISTER = """mutation($v: String!, $url: String!, $in: JSON!, $out: JSON!) {
  registerTool(name: "double", version: $v, description: "doubles q", inputSchema: $in, outputSchema: $out,
               url: $url, tags: ["math"]) { version } }"""
EXECUTE = """mutation($tool: String!, $input: JSON!, $ctx: String, $out: String) {
  executeTool(tool: $tool, input: $input, contextPath: $ctx, outputPath: $out) { id status } }"""
RELATE = """mutation($from: String!, $to: TargetInput!, $type: String!) {
  relate(from: $from, to: $to, type: $type, properties: {since: 2024}, weight: 0.5) { created } }"""


async def build(api: Client, token: str, tool_url: str) -> tuple[str, datetime]:
    """Every feature once, through the API; returns a working API key's secret and an instant
    between two versions (for `asOf`)."""
    async def do(query: str, **variables: Any) -> dict[str, Any]:
        return await api.data(query, token, **variables)

    await do('mutation { registerContextType(name: "note", schema: {type: "object", '
             'properties: {n: {type: "integer"}}}) { violatingCount } }')
    await do('mutation { createContext(input: {path: "/acme", title: "Acme", data: {region: "eu", db: {port: 5432}}}) '
             '{ id } }')
    await do('mutation { createContext(createParents: true, input: {path: "/acme/projects/alpha", kind: "note", '
             'content: "First", data: {n: 1}, tags: ["active"]}) { id } }')
    middle = datetime.now(UTC)
    await do('mutation { updateContext(path: "/acme/projects/alpha", input: {content: "Second", '
             'mergeData: {n: 2, stage: "beta"}}) { version } }')
    await do('mutation { moveContext(path: "/acme/projects/alpha", to: "/acme/projects/apollo") { movedCount } }')
    await do('mutation { revertContext(path: "/acme/projects/apollo", toVersion: 1) { version } }')
    await do('mutation { createContext(input: {path: "/raw", data: {v: 1}}) { id } }')
    await do('mutation { createContext(input: {path: "/clean", derivedFrom: ["/raw"]}) { id } }')
    await do('mutation { createContext(input: {path: "/report", derivedFrom: ["/clean", "/raw"]}) { id } }')
    await do('mutation { updateContext(path: "/report", input: {content: "v2", derivedFrom: ["/clean"]}) { version } }')
    await do('mutation { createContext(input: {path: "/gone"}) { id } }')
    await do('mutation { createContext(input: {path: "/heir", derivedFrom: ["/gone"]}) { id } }')
    await do('mutation { deleteContext(path: "/gone") { deletedCount } }')  # its lineage node stays

    await do(REGISTER, v="1.0.0", url=tool_url, **{"in": IN, "out": OUT})
    await do(REGISTER, v="1.1.0", url=tool_url, **{"in": IN, "out": OUT})
    await do('mutation { deprecateTool(name: "double", version: "1.0.0") { deprecated } }')
    await do('mutation { setToolPermissions(name: "double", permissions: {read: ["*"], write: ["role:admin"], '
             'execute: ["role:admin", "principal:runner"]}) { name } }')
    ran = await do(EXECUTE, tool="double", input={"q": 21}, ctx="/raw", out="/results/double")
    assert ran["executeTool"]["status"] == "SUCCEEDED"
    await do(EXECUTE, tool="builtin.snapshot", input={"path": "/acme", "to": "/backup/acme"})

    await do(RELATE, **{"from": "/acme", "to": {"path": "/raw"}, "type": "DEPENDS_ON"})
    await do(RELATE, **{"from": "/raw", "to": {"path": "/acme"}, "type": "MENTIONS"})
    await do(RELATE, **{"from": "/acme", "to": {"tool": "double"}, "type": "USES"})
    await do(RELATE, **{"from": "/acme", "to": {"agent": "bot-1"}, "type": "OWNED_BY"})

    issued = await do('mutation { createApiKey(name: "indexer", roles: ["editor"]) { secret apiKey { id } } }')
    old = await do('mutation { createApiKey(name: "old", roles: ["viewer"]) { apiKey { id } } }')
    await do('mutation($id: ID!) { rotateApiKey(id: $id) { apiKey { id } } }', id=old["createApiKey"]["apiKey"]["id"])
    await api.error('mutation { createContext(input: {path: "/acme"}) { id } }', token)  # a failed write, audited
    return issued["createApiKey"]["secret"], middle


CONTEXTS = """query($t: DateTime!) {
  contexts(first: 20, orderBy: [{field: PATH}]) { totalCount edges { node {
    id path kind title content data tags inherit version createdAt updatedAt createdBy { id } updatedBy { id }
    effective { data sources { pointer path version } }
    history(first: 10) { totalCount edges { node { id number operation changed path kind title content data tags
      inherit author { id } createdAt } } }
    asOf(time: $t) { number content data }
    related(first: 10) { type weight properties createdAt createdBy { id } from { kind id } to { kind id } }
    provenance(depth: 5) { nodes { id recordedPath deleted } edges { derived source version sourceVersion executionId }
      producedBy { contextId version executionId } }
    descendantsOf(depth: 5) { nodes { id recordedPath } }
    executions(first: 5) { edges { node { id } } }
  } } }
}"""
REST = """{
  apollo: context(path: "/acme/projects/apollo") { diff(from: 1, to: 3) { changed dataPatch contentDiff } }
  contextTypes { name schema version createdAt updatedAt updatedBy { id } }
  tools(where: {retired: null}, first: 20) { totalCount edges { node {
    name version latestVersion description kind inputSchema outputSchema url tags deprecated retired createdAt createdBy { id }
    permissions { read write execute }
    versions { version deprecated description createdAt createdBy { id } }
    executions(first: 10) { totalCount edges { node { id } } } } } }
  executions(first: 20) { totalCount edges { node {
    id status toolName toolVersion input output error principal { id } startedAt finishedAt durationMs
    context { path } outputContext { path version } } } }
  apiKeys { id name kind roles workspaces createdAt createdBy expiresAt revokedAt replacedBy }
  auditLog(first: 100) { totalCount edges { node { at principal principalKind operation target outcome code } } }
}"""


@pytest.mark.parametrize("source,target", [("ladybug", "neo4j"), ("neo4j", "ladybug")])
async def test_a_backup_restores_exactly_on_the_other_backend(stores, source, target, tool_url, tmp_path):
    workspace = f"backup-{source}-{datetime.now(UTC).strftime('%H%M%S%f')}"
    token = admin(workspace)
    async with client_for(stores[source], workspace, **HS256_SETTINGS) as api:
        secret, middle = await build(api, token, tool_url)
        before = [await api.data(CONTEXTS, token, t=middle.isoformat()), await api.data(REST, token)]

    # Through a file, as the CLI writes and reads it.
    backup = tmp_path / "backup.jsonl"
    with backup.open("w", encoding="utf-8") as out:
        async for line in export_workspace(stores[source], workspace):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    lines = [json.loads(raw) for raw in backup.read_text(encoding="utf-8").splitlines()]
    counts = lines[-1]["counts"]
    assert lines[-1]["type"] == "end" and all(counts.get(kind) for kind in (
        "contextType", "context", "version", "tool", "toolVersion", "execution", "agent", "relationship", "lineage",
        "apiKey", "audit"))

    result = await import_workspace(stores[target], lines)
    assert result.counts.written["contexts"] == counts["context"] and not sum(result.counts.skipped.values())
    again = [line async for line in export_workspace(stores[target], workspace)]
    assert again[1:] == lines[1:]  # every record, field for field (the header differs by its time)

    async with client_for(stores[target], workspace, **HS256_SETTINGS) as api:
        after = [await api.data(CONTEXTS, token, t=middle.isoformat()), await api.data(REST, token)]
        assert after == before
        me = await api.data("{ me { id roles } }", secret)  # the key works: its hash came along
        assert me["me"]["roles"] == ["editor"]


@pytest.mark.parametrize("target", ["ladybug", "neo4j"])
async def test_an_import_that_fails_midway_completes_when_run_again_with_resume(
    stores, target, tool_url, monkeypatch
):
    """The third transaction fails after writing its records (rolled back, nothing of it kept);
    a plain rerun is refused, a rerun with `resume` finishes, counting what was already there."""
    import contextql.graph.restore as restoring
    import contextql.graph.transfer as transfer

    source = "neo4j" if target == "ladybug" else "ladybug"
    workspace = f"resume-{target}-{datetime.now(UTC).strftime('%H%M%S%f')}"
    async with client_for(stores[source], workspace, **HS256_SETTINGS) as api:
        await build(api, admin(workspace), tool_url)
    lines = [line async for line in export_workspace(stores[source], workspace)]
    total = sum(lines[-1]["counts"].values())

    monkeypatch.setattr(transfer, "BATCH", 8)  # many transactions, so the failure lands midway
    real, calls = restoring.restore, 0

    async def fail_in_third(tx: Any, batch: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        done = await real(tx, batch, **kwargs)
        if calls == 3:
            raise Crash  # after the batch's writes, before the commit
        return done

    monkeypatch.setattr(restoring, "restore", fail_in_third)
    with pytest.raises(Crash):
        await import_workspace(stores[target], lines)
    monkeypatch.setattr(restoring, "restore", real)
    partial = [line async for line in export_workspace(stores[target], workspace)]
    assert 0 < sum(partial[-1]["counts"].values()) < total  # two batches, not the third

    with pytest.raises(BadUserInputError, match="--resume"):
        await import_workspace(stores[target], lines)
    result = await import_workspace(stores[target], lines, resume=True)
    written, skipped = sum(result.counts.written.values()), sum(result.counts.skipped.values())
    assert skipped == sum(partial[-1]["counts"].values()) and written + skipped == total
    assert [line async for line in export_workspace(stores[target], workspace)][1:] == lines[1:]

    again = await import_workspace(stores[target], lines, resume=True)  # a rerun of a finished import
    assert sum(again.counts.written.values()) == 0 and sum(again.counts.skipped.values()) == total
