"""Context types: JSON Schema validation of writes, and safe schema changes."""

from __future__ import annotations

import asyncio
import json

from .conftest import CREATE, create, get

REGISTER = """mutation($name: String!, $schema: JSON!, $force: Boolean = false) {
  registerContextType(name: $name, schema: $schema, force: $force) { violatingCount contextType { name version schema } } }"""

PERSON = {
    "type": "object",
    "required": ["email"],
    "properties": {"email": {"type": "string", "pattern": "^[^@]+@[^@]+$"}, "age": {"type": "integer", "minimum": 0},
                   "address": {"type": "object", "properties": {"zip": {"type": "string"}}}},
}


async def test_writes_are_validated_with_every_violation_listed(api):
    registered = await api.data(REGISTER, name="person", schema=PERSON)
    assert registered["registerContextType"]["contextType"]["version"] == 1
    error = await api.error(CREATE, input={"path": "/bob", "kind": "person",
                                           "data": {"age": -1, "address": {"zip": 1234}}})
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert [v["path"] for v in error["extensions"]["violations"]] == ["$", "$.address.zip", "$.age"]
    assert await get(api, "/bob") is None
    ok = await create(api, "/ana", kind="person", data={"email": "ana@example.org"})
    assert ok["kind"] == "person"
    update = await api.error('mutation { updateContext(path: "/ana", input: {data: {email: "nope"}}) { version } }')
    assert update["extensions"]["code"] == "VALIDATION_FAILED"
    assert (await get(api, "/ana"))["data"] == {"email": "ana@example.org"}


async def test_schema_change_that_existing_contexts_violate_is_refused_unless_forced(api):
    await api.data(REGISTER, name="person", schema=PERSON)
    await create(api, "/ana", kind="person", data={"email": "ana@example.org"})
    await create(api, "/cy", kind="person", data={"email": "cy@example.org", "age": 40})
    stricter = {**PERSON, "required": ["email", "age"]}
    refused = await api.error(REGISTER, name="person", schema=stricter)
    assert refused["extensions"]["code"] == "VALIDATION_FAILED"
    assert refused["extensions"]["violatingCount"] == 1
    assert refused["extensions"]["violating"][0]["path"] == "/ana" and "/ana" in refused["message"]
    kept = await api.data('{ contextType(name: "person") { version } }')
    assert kept["contextType"]["version"] == 1
    forced = await api.data(REGISTER, name="person", schema=stricter, force=True)
    assert forced["registerContextType"]["violatingCount"] == 1
    assert forced["registerContextType"]["contextType"]["version"] == 2


async def test_invalid_schemas_are_refused(api):
    error = await api.error(REGISTER, name="broken", schema={"type": "no-such-type"})
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    listed = await api.data("{ contextTypes { name } }")
    assert listed["contextTypes"] == []


REFUSED_REFS = ["#/nowhere", "#/$defs/missing", "#missing-anchor", "https://example.com/person.json",
                "http://127.0.0.1:1/x.json", "urn:example:person", "other.json", "../up.json#/a"]


async def test_every_ref_must_resolve_inside_the_schema(api):
    for ref in REFUSED_REFS:
        schema = {"type": "object", "$defs": {"zip": {"type": "string"}},
                  "properties": {"address": {"type": "object", "properties": {"zip": {"$ref": ref}}}}}
        error = await api.error(REGISTER, name="addr", schema=schema)
        assert error["extensions"]["code"] == "VALIDATION_FAILED", (ref, error)
        assert error["extensions"]["violations"] == [
            {"path": "$.properties.address.properties.zip.$ref", "message": f"`$ref` {ref!r} does not resolve"}]
        assert ref in error["message"] and "$.properties.address.properties.zip.$ref" in error["message"]
    dynamic = await api.error(REGISTER, name="addr", schema={"items": {"$dynamicRef": "#/$defs/none"}})
    assert dynamic["extensions"]["violations"][0]["path"] == "$.items.$dynamicRef"
    assert (await api.data("{ contextTypes { name } }"))["contextTypes"] == []


async def test_local_refs_of_every_kind_are_accepted(api):
    schema = {
        "$id": "https://contextql.example/person",
        "type": "object",
        "$defs": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}, "named": {"$anchor": "name", "type": "string"},
                  "nested": {"$id": "nested", "$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n"}},
        "properties": {
            "zip": {"$ref": "#/$defs/zip"}, "name": {"$ref": "#name"}, "count": {"$ref": "nested"},
            "also": {"$ref": "https://contextql.example/person#/$defs/zip"},
            "meta": {"$ref": "https://json-schema.org/draft/2020-12/schema"},  # bundled meta-schema, no fetch
            "tree": {"type": "array", "items": {"$ref": "#"}},
        },
        "examples": [{"$ref": "#/nowhere"}],  # data, not a reference
        "default": {"$ref": "urn:not-a-reference"},
    }
    await api.data(REGISTER, name="person", schema=schema)
    ok = await create(api, "/ana", kind="person", data={"zip": "12345", "name": "Ana", "count": 2, "tree": []})
    assert ok["kind"] == "person"
    error = await api.error(CREATE, input={"path": "/bo", "kind": "person", "data": {"zip": "x", "count": "two"}})
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert sorted(v["path"] for v in error["extensions"]["violations"]) == ["$.count", "$.zip"]


async def test_a_stored_schema_that_cannot_be_applied_refuses_writes_without_an_internal_error(api, store, workspace):
    """Types registered before references or patterns were checked: writes are refused, with a way out."""
    from contextql.graph.records import ContextTypeRecord

    for name, field in (("legacy", {"$ref": "#/nowhere"}), ("remote", {"$ref": "https://example.com/s.json"}),
                        ("lookaround", {"pattern": "^(?=x)"})):
        await store.put_context_type(ContextTypeRecord(
            workspace=workspace, name=name, schema={"properties": {"a": field}}, version=1,
            created_at=1, updated_at=1, updated_by="test"), None)
        error = await api.error(CREATE, input={"path": f"/{name}", "kind": name, "data": {"a": "x"}})
        assert error["extensions"]["code"] == "VALIDATION_FAILED", error
        assert "Register the type again" in error["message"]
        assert await get(api, f"/{name}") is None
        fixed = await api.data(REGISTER, name=name, schema={"properties": {"a": {"type": "integer"}}}, force=True)
        assert fixed["registerContextType"]["contextType"]["version"] == 2
        assert (await create(api, f"/{name}", kind=name, data={"a": 1}))["kind"] == name


async def test_remote_refs_resolve_only_under_allowed_bases(store, workspace):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from contextql.server.app import create_app

    from .conftest import Api, settings_for

    class Schemas(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"type": "string", "pattern": "^[0-9]{5}$"}).encode()
            self.send_response(200 if self.path == "/schemas/zip.json" else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Schemas)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/schemas/"
    try:
        app = create_app(settings_for(workspace, schema_ref_bases=[base]), store=store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            api = Api(client)
            schema = {"type": "object", "properties": {"zip": {"$ref": base + "zip.json"}}}
            await api.data(REGISTER, name="addr", schema=schema)
            assert (await create(api, "/a", kind="addr", data={"zip": "12345"}))["kind"] == "addr"
            bad = await api.error(CREATE, input={"path": "/b", "kind": "addr", "data": {"zip": "x"}})
            assert bad["extensions"]["code"] == "VALIDATION_FAILED" and bad["extensions"]["violations"][0]["path"] == "$.zip"
            for ref in (base + "missing.json", base.replace("/schemas/", "/other/") + "zip.json", "https://example.com/zip.json"):
                refused = await api.error(REGISTER, name="addr2", schema={"properties": {"zip": {"$ref": ref}}})
                assert refused["extensions"]["code"] == "VALIDATION_FAILED" and ref in refused["message"]
    finally:
        server.shutdown()


async def test_patterns_match_in_linear_time(api):
    """`^(a+)+$` against 25 a's and a '!' took Python's backtracking `re` 1.8 s, doubling per character: any
    writer could stall the server. Patterns now run on RE2 (resolvers/schema_patterns.py), in `pattern`,
    `patternProperties` and what `additionalProperties` leaves to them."""
    import jsonschema._keywords
    import jsonschema._utils

    from contextql.resolvers import schema_patterns

    assert jsonschema._keywords.re is schema_patterns._LinearRe and jsonschema._utils.re is schema_patterns._LinearRe
    evil = {"type": "object", "additionalProperties": False,
            "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}},
            "patternProperties": {"^(b+)+$": {"type": "integer"}}}
    await api.data(REGISTER, name="evil", schema=evil)
    long = "a" * 10_000 + "!"
    started = asyncio.get_running_loop().time()
    error = await api.error(CREATE, input={"path": "/e", "kind": "evil", "data": {"s": long, "b" * 10_000 + "!": 1}})
    assert asyncio.get_running_loop().time() - started < 5  # a bound for a stalled loop, not a timing target
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert {v["path"] for v in error["extensions"]["violations"]} == {"$", "$.s"}
    assert (await create(api, "/ok", kind="evil", data={"s": "aaa", "bb": 2}))["data"] == {"s": "aaa", "bb": 2}


async def test_patterns_that_need_backtracking_are_refused_when_registered(api):
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "pattern": "^(?=x)x$"},
        "b": {"type": "array", "items": {"type": "string", "pattern": r"^(a)\1$"}},
        "c": {"type": "string", "pattern": r"^\d{3}-\w+$"}},  # RE2 runs this one
        "patternProperties": {"(?<!y)z": {}}}
    error = await api.error(REGISTER, name="lookaround", schema=schema)
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert [v["path"] for v in error["extensions"]["violations"]] == [
        "$.patternProperties", "$.properties.a.pattern", "$.properties.b.items.pattern"]
    assert "no lookaround and no backreferences" in error["message"]
