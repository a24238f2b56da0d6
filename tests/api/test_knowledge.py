"""Tools, executions, relationships and provenance through GraphQL, on every backend."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contextql.graph.events import InProcessBus
from contextql.resolvers.principal import Principal
from contextql.resolvers.request import RequestContext
from contextql.schema.root import build_schema

from .conftest import create


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/fail":
            return self._send(503, {"error": "down"})
        if self.path == "/bad":
            return self._send(200, {"wrong": True})
        if self.path == "/big":
            return self._send(200, {"answer": 1, "pad": "x" * 5000})
        return self._send(200, {"answer": body["q"] * 2})

    def _send(self, status: int, payload) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def tool_server():
    """A real local HTTP server standing in for a remote tool."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


REGISTER = """
mutation($name: String!, $version: String!, $url: String!, $in: JSON!, $out: JSON!, $timeout: Int = 10000, $max: Int = 1048576) {
  registerTool(name: $name, version: $version, description: "doubles q", inputSchema: $in, outputSchema: $out,
               url: $url, timeoutMs: $timeout, maxResponseBytes: $max, tags: ["math"]) {
    name version latestVersion kind deprecated retired permissions { read write execute }
  }
}"""
IN = {"type": "object", "required": ["q"], "properties": {"q": {"type": "integer"}}, "additionalProperties": False}
OUT = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "integer"}}}
EXECUTE = """
mutation($tool: String!, $input: JSON!, $ctx: String, $out: String, $version: String) {
  executeTool(tool: $tool, input: $input, contextPath: $ctx, outputPath: $out, version: $version) {
    id status output error toolName toolVersion durationMs outputContext { path data version }
  }
}"""


async def register(api, name: str, url: str, version: str = "1.0.0", **kw):
    return (await api.data(REGISTER, name=name, version=version, url=url, **{"in": IN, "out": OUT}, **kw))["registerTool"]


async def test_registry_versions_deprecation_and_queries(api, tool_server):
    first = await register(api, "double", tool_server + "/ok")
    assert first["kind"] == "http" and first["permissions"]["execute"] == ["*"]
    await register(api, "double", tool_server + "/ok", version="1.1.0")
    err = await api.error(REGISTER, name="double", version="1.1.0", url=tool_server, **{"in": IN, "out": OUT})
    assert err["extensions"]["code"] == "CONFLICT"
    err = await api.error(REGISTER, name="double", version="v2", url=tool_server, **{"in": IN, "out": OUT})
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    bad_schema = await api.error(REGISTER, name="x", version="1.0.0", url=tool_server, **{"in": {"type": 5}, "out": OUT})
    assert bad_schema["extensions"]["code"] == "VALIDATION_FAILED" and bad_schema["extensions"]["violations"]
    await api.data('mutation { deprecateTool(name: "double", version: "1.0.0") { deprecated } }')
    data = await api.data("""{
      latest: tool(name: "double") { version versions { version deprecated } }
      old: tool(name: "double", version: "1.0.0") { deprecated }
      tools(where: {tag: "math"}) { totalCount edges { node { name version } } }
      builtinTools { name kind inputSchema }
    }""")
    assert data["latest"]["version"] == "1.1.0"
    assert data["latest"]["versions"] == [{"version": "1.1.0", "deprecated": False}, {"version": "1.0.0", "deprecated": True}]
    assert data["old"]["deprecated"] is True
    assert data["tools"]["totalCount"] == 1 and data["tools"]["edges"][0]["node"]["version"] == "1.1.0"
    assert {t["name"] for t in data["builtinTools"]} == {"builtin.extract", "builtin.render", "builtin.snapshot"}
    await api.data('mutation { retireTool(name: "double") { retired } }')
    refused = await api.error(EXECUTE, tool="double", input={"q": 1})
    assert refused["extensions"]["code"] == "CONFLICT"


async def test_http_tool_success_timeout_error_and_invalid_output(api, tool_server):
    await create(api, "/in", data={"n": 1})
    await register(api, "double", tool_server + "/ok")
    ok = (await api.data(EXECUTE, tool="double", input={"q": 21}, ctx="/in", out="/results/double"))["executeTool"]
    assert ok["status"] == "SUCCEEDED" and ok["output"] == {"answer": 42} and ok["toolVersion"] == "1.0.0"
    assert ok["outputContext"] == {"path": "/results/double", "data": {"answer": 42}, "version": 1}
    again = (await api.data(EXECUTE, tool="double", input={"q": 1}, out="/results/double"))["executeTool"]
    assert again["outputContext"]["version"] == 2

    await register(api, "slow", tool_server + "/slow", timeout=300)
    await register(api, "down", tool_server + "/fail")
    await register(api, "liar", tool_server + "/bad")
    await register(api, "chatty", tool_server + "/big", max=1000)
    slow = (await api.data(EXECUTE, tool="slow", input={"q": 1}))["executeTool"]
    assert slow["status"] == "TIMED_OUT" and slow["output"] is None and "300 ms" in slow["error"]
    down = (await api.data(EXECUTE, tool="down", input={"q": 1}))["executeTool"]
    assert down["status"] == "FAILED" and "HTTP 503" in down["error"]
    liar = (await api.data(EXECUTE, tool="liar", input={"q": 1}, out="/never"))["executeTool"]
    assert liar["status"] == "FAILED" and "output schema" in liar["error"] and liar["outputContext"] is None
    assert (await api.data('{ context(path: "/never") { id } }'))["context"] is None
    chatty = (await api.data(EXECUTE, tool="chatty", input={"q": 1}))["executeTool"]
    assert chatty["status"] == "FAILED" and "1000 bytes" in chatty["error"]

    invalid = await api.error(EXECUTE, tool="double", input={"q": "x", "extra": 1})
    assert invalid["extensions"]["code"] == "VALIDATION_FAILED"
    assert {v["path"] for v in invalid["extensions"]["violations"]} == {"$", "$.q"}

    history = await api.data("""{
      all: executions(first: 10) { totalCount }
      failed: executions(where: {status: FAILED}) { totalCount }
      timedOut: executions(where: {status: TIMED_OUT, tool: "slow"}) { edges { node { toolName principal { id } } } }
      tool(name: "double") { executions { totalCount } }
      context(path: "/in") { executions { edges { node { status output } } } }
    }""")
    assert history["all"]["totalCount"] == 6 and history["failed"]["totalCount"] == 3
    assert history["timedOut"]["edges"][0]["node"] == {"toolName": "slow", "principal": {"id": "anonymous"}}
    assert history["tool"]["executions"]["totalCount"] == 2
    assert history["context"]["executions"]["edges"] == [{"node": {"status": "SUCCEEDED", "output": {"answer": 42}}}]


async def test_builtin_tools(api):
    await create(api, "/acme", data={"db": {"host": "h", "port": 1}, "team": ["ana", "bo"]})
    await create(api, "/acme/app", data={"db": {"port": 2}})
    extract = (await api.data(EXECUTE, tool="builtin.extract", input={"path": "/acme/app", "expression": "db.[host, port]"}))
    assert extract["executeTool"]["output"]["result"] == ["h", 2]
    render = await api.data(EXECUTE, tool="builtin.render", input={"path": "/acme/app", "template": "{{ data.db.host }}:{{ data.db.port }}"})
    assert render["executeTool"]["output"]["text"] == "h:2"
    broken = await api.data(EXECUTE, tool="builtin.render", input={"path": "/acme/app", "template": "{{ data.nope.x }}"})
    assert broken["executeTool"]["status"] == "FAILED"
    snap = (await api.data(EXECUTE, tool="builtin.snapshot", input={"path": "/acme", "to": "/backup/acme"}))["executeTool"]
    assert snap["status"] == "SUCCEEDED" and snap["output"]["created"] == 2
    lineage = await api.data('{ context(path: "/backup/acme/app") { data provenance { nodes { recordedPath } producedBy { execution { toolName } } } } }')
    node = lineage["context"]
    assert node["data"] == {"db": {"port": 2}}
    assert {n["recordedPath"] for n in node["provenance"]["nodes"]} == {"/backup/acme/app", "/acme/app"}
    assert node["provenance"]["producedBy"][0]["execution"]["toolName"] == "builtin.snapshot"


async def test_permissions_are_checked_for_explicit_principals(api, store, workspace, tool_server):
    await register(api, "guarded", tool_server + "/ok")
    await api.data("""mutation { setToolPermissions(name: "guarded", permissions: {
        read: ["role:viewer", "principal:runner", "principal:owner"], write: ["principal:owner"], execute: ["principal:owner"]}) { name } }""")
    schema = build_schema()

    async def as_(principal: Principal, query: str, **variables):
        ctx = RequestContext(store=store, principal=principal, workspace=workspace, events=InProcessBus())
        return await schema.execute(query, variable_values=variables, context_value=ctx)

    def member(name: str, role: str) -> Principal:
        return Principal(name, roles=frozenset({role}), workspaces=frozenset({workspace}))

    stranger, viewer, runner, owner = member("eve", "agent"), member("rita", "viewer"), member("runner", "agent"), member("owner", "editor")
    denied = await as_(stranger, '{ tool(name: "guarded") { name } }')
    assert denied.errors[0].extensions["code"] == "FORBIDDEN" and "read tool 'guarded'" in denied.errors[0].message
    for reader in (viewer, runner):
        seen = await as_(reader, '{ tool(name: "guarded") { name } }')
        assert seen.errors is None and seen.data == {"tool": {"name": "guarded"}}, seen.errors
    run = await as_(runner, EXECUTE, tool="guarded", input={"q": 1})
    assert run.errors[0].extensions["code"] == "FORBIDDEN" and "execute tool 'guarded'" in run.errors[0].message
    change = await as_(runner, 'mutation { deprecateTool(name: "guarded", version: "1.0.0") { name } }')
    assert change.errors[0].extensions["code"] == "FORBIDDEN"
    ok = await as_(owner, EXECUTE, tool="guarded", input={"q": 2})
    assert ok.errors is None and ok.data["executeTool"]["output"] == {"answer": 4}
    assert (await as_(owner, 'mutation { deprecateTool(name: "guarded", version: "1.0.0") { deprecated } }')).errors is None
    listed = await as_(stranger, "{ tools { edges { node { name } } } }")
    assert listed.data["tools"]["edges"] == []


RELATE = """
mutation($from: String!, $to: TargetInput!, $type: String!) {
  relate(from: $from, to: $to, type: $type, properties: {since: 2024}, weight: 0.5) {
    created relationship { type weight properties from { kind label } to { kind id label } }
  }
}"""


async def test_relationships_traversal_paths_and_caps(api, tool_server):
    for p in ("/a", "/b", "/c", "/d", "/e"):
        await create(api, p)
    await register(api, "double", tool_server + "/ok")
    first = await api.data(RELATE, **{"from": "/a", "to": {"path": "/b"}, "type": "DEPENDS_ON"})
    assert first["relate"]["created"] is True
    assert first["relate"]["relationship"]["to"]["label"] == "/b"
    again = await api.data(RELATE, **{"from": "/a", "to": {"path": "/b"}, "type": "DEPENDS_ON"})
    assert again["relate"]["created"] is False
    for s, d in [("/b", "/c"), ("/c", "/d")]:
        await api.data(RELATE, **{"from": s, "to": {"path": d}, "type": "DEPENDS_ON"})
    await api.data(RELATE, **{"from": "/a", "to": {"path": "/e"}, "type": "MENTIONS"})
    await api.data(RELATE, **{"from": "/e", "to": {"path": "/d"}, "type": "MENTIONS"})
    tool = await api.data(RELATE, **{"from": "/a", "to": {"tool": "double"}, "type": "USES"})
    assert tool["relate"]["relationship"]["to"] == {"kind": "tool", "id": "double", "label": "double"}
    await api.data(RELATE, **{"from": "/a", "to": {"agent": "bot-1"}, "type": "OWNED_BY"})

    bad = await api.error(RELATE, **{"from": "/a", "to": {"path": "/b"}, "type": "depends on"})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT"
    missing = await api.error(RELATE, **{"from": "/a", "to": {"tool": "nope"}, "type": "USES"})
    assert missing["extensions"]["code"] == "NOT_FOUND"

    data = await api.data("""{ context(path: "/a") {
      out: related(direction: OUT) { type to { kind label } }
      near: neighbors(depth: 2) { distance node { kind label } }
      deps: neighbors(depth: 4, types: ["DEPENDS_ON"]) { distance node { label } }
      short: pathTo(to: "/d") { nodes { label } edges { type from { label } to { label } } }
      strict: pathTo(to: "/d", types: ["DEPENDS_ON"]) { nodes { label } }
      none: pathTo(to: "/d", maxDepth: 1) { nodes { label } }
    } }""")
    a = data["context"]
    assert [(r["type"], r["to"]["label"]) for r in a["out"]] == [
        ("DEPENDS_ON", "/b"), ("MENTIONS", "/e"), ("OWNED_BY", "bot-1"), ("USES", "double")]
    assert [(n["distance"], n["node"]["label"]) for n in a["near"]] == [
        (1, "bot-1"), (1, "/b"), (1, "/e"), (1, "double"), (2, "/c"), (2, "/d")] or len(a["near"]) == 6
    assert [(n["distance"], n["node"]["label"]) for n in a["deps"]] == [(1, "/b"), (2, "/c"), (3, "/d")]
    assert [n["label"] for n in a["short"]["nodes"]] == ["/a", "/e", "/d"]
    assert [n["label"] for n in a["strict"]["nodes"]] == ["/a", "/b", "/c", "/d"]
    assert a["none"] is None

    graph = await api.data('{ subgraph(path: "/b", depth: 1) { nodes { label } edges { from { label } to { label } } } }')
    assert {n["label"] for n in graph["subgraph"]["nodes"]} == {"/a", "/b", "/c"}
    assert len(graph["subgraph"]["edges"]) == 2
    capped = await api.data('{ context(path: "/a") { neighbors(depth: 3, first: 2) { node { id } } } }')
    assert len(capped["context"]["neighbors"]) == 2
    too_deep = await api.error('{ context(path: "/a") { neighbors(depth: 9) { distance } } }')
    assert too_deep["extensions"]["code"] == "BAD_USER_INPUT" and too_deep["extensions"]["limit"] == 4

    removed = await api.data('mutation { unrelate(from: "/a", to: {path: "/b"}, type: "DEPENDS_ON") }')
    assert removed["unrelate"] is True
    gone = await api.data('{ context(path: "/a") { related(type: "DEPENDS_ON") { type } } }')
    assert gone["context"]["related"] == []


async def test_lineage_over_generations_and_deleted_sources(api):
    await create(api, "/raw", data={"v": 1})
    await create(api, "/clean", derivedFrom=["/raw"])
    await create(api, "/model", derivedFrom=["/clean"])
    await create(api, "/report", derivedFrom=["/model", "/raw"])
    await api.data('mutation { updateContext(path: "/report", input: {content: "v2", derivedFrom: ["/clean"]}) { version } }')
    missing = await api.error('mutation { createContext(input: {path: "/x", derivedFrom: ["/nope"]}) { id } }')
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert (await api.data('{ context(path: "/x") { id } }'))["context"] is None

    data = await api.data("""{ context(path: "/report") {
      provenance(depth: 5) { nodes { recordedPath deleted } edges { version sourceVersion } }
      one: provenance(depth: 1) { nodes { recordedPath } }
    } raw: context(path: "/raw") { descendantsOf(depth: 5) { nodes { recordedPath } } } }""")
    lineage = data["context"]["provenance"]
    assert {n["recordedPath"] for n in lineage["nodes"]} == {"/report", "/model", "/clean", "/raw"}
    assert len(lineage["edges"]) == 5 and {e["version"] for e in lineage["edges"]} == {1, 2}
    assert {n["recordedPath"] for n in data["context"]["one"]["nodes"]} == {"/report", "/model", "/raw", "/clean"}
    assert {n["recordedPath"] for n in data["raw"]["descendantsOf"]["nodes"]} == {"/raw", "/clean", "/model", "/report"}

    await api.data('mutation { deleteContext(path: "/raw") { deletedCount } }')
    after = await api.data('{ context(path: "/clean") { provenance { nodes { recordedPath deleted context { path } } } } }')
    nodes = {n["recordedPath"]: n for n in after["context"]["provenance"]["nodes"]}
    assert nodes["/raw"] == {"recordedPath": "/raw", "deleted": True, "context": None}
    assert nodes["/clean"]["deleted"] is False
