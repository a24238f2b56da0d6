"""Context types: JSON Schema validation of writes, and safe schema changes."""

from __future__ import annotations

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
