"""The store core through the API: patchData, lineage and audit in the write's transaction, deletions."""

from __future__ import annotations

from contextql.graph.records import Page

from .conftest import create

PATCH = """
mutation($path: String!, $ops: JSON!, $v: Int) {
  updateContext(path: $path, input: {patchData: $ops, expectedVersion: $v}) { version data }
}"""


async def test_patch_data_applies_rfc6902_atomically(api):
    await create(api, "/p", data={"owner": "ana", "list": [1, 2], "keep": True})
    ops = [
        {"op": "test", "path": "/owner", "value": "ana"},
        {"op": "replace", "path": "/owner", "value": "bo"},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "remove", "path": "/keep"},
    ]
    result = (await api.data(PATCH, path="/p", ops=ops))["updateContext"]
    assert result == {"version": 2, "data": {"owner": "bo", "list": [1, 2, 3]}}


async def test_failed_patch_test_is_a_conflict_and_changes_nothing(api):
    await create(api, "/p", data={"owner": "ana"})
    error = await api.error(PATCH, path="/p", ops=[
        {"op": "test", "path": "/owner", "value": "someone else"},
        {"op": "replace", "path": "/owner", "value": "mallory"},
    ])
    assert error["extensions"]["code"] == "CONFLICT"
    after = await api.data('{ context(path: "/p") { version data } }')
    assert after["context"] == {"version": 1, "data": {"owner": "ana"}}


async def test_malformed_patches_are_bad_input(api):
    await create(api, "/p", data={"a": 1})
    for ops in ([{"op": "jump", "path": "/a"}], [{"op": "add", "path": "no-slash", "value": 1}], {"op": "add"},
                [{"op": "remove", "path": "/missing"}], [{"op": "replace", "path": "", "value": [1]}]):
        error = await api.error(PATCH, path="/p", ops=ops)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (ops, error)
    error = await api.error('mutation { updateContext(path: "/p", input: {mergeData: {a: 2}, patchData: []}) { version } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_bulk_create_records_derived_from_for_each_context(api):
    await create(api, "/src")
    made = await api.data("""mutation {
      createContexts(inputs: [{path: "/d1", derivedFrom: ["/src"]}, {path: "/d2"}]) { id path }
    }""")
    assert [c["path"] for c in made["createContexts"]] == ["/d1", "/d2"]
    lineage = await api.data("""{
      a: context(path: "/d1") { provenance(depth: 1) { nodes { recordedPath } edges { version sourceVersion } } }
      b: context(path: "/d2") { provenance(depth: 1) { edges { version } } }
    }""")
    assert sorted(n["recordedPath"] for n in lineage["a"]["provenance"]["nodes"]) == ["/d1", "/src"]
    assert lineage["a"]["provenance"]["edges"] == [{"version": 1, "sourceVersion": 1}]
    assert lineage["b"]["provenance"]["edges"] == []


async def test_a_mutation_and_its_audit_entry_commit_together(api, store, workspace):
    await create(api, "/audited")
    entries = await store.list_audit(workspace, Page(10))
    assert [(e.operation, e.outcome) for e in entries] == [("mutation createContext", "ok")]
    await api.error('mutation { updateContext(path: "/audited", input: {expectedVersion: 7, title: "x"}) { version } }')
    entries = await store.list_audit(workspace, Page(10))
    assert (entries[0].operation, entries[0].outcome, entries[0].code) == ("mutation updateContext", "failed", "CONFLICT")
    assert len(entries) == 2


async def test_delete_context_type_through_the_api(api):
    await api.data('mutation { registerContextType(name: "note", schema: {type: "object"}) { violatingCount } }')
    await create(api, "/n", kind="note")
    refused = await api.error('mutation { deleteContextType(name: "note") { contextsOfKind } }')
    assert refused["extensions"]["code"] == "CONFLICT" and refused["extensions"]["contexts"] == 1
    done = await api.data('mutation { deleteContextType(name: "note", force: true) { name contextsOfKind } }')
    assert done["deleteContextType"] == {"name": "note", "contextsOfKind": 1}
    assert (await api.data("{ contextTypes { name } }"))["contextTypes"] == []


async def test_delete_workspace_needs_its_name_and_removes_everything(api, store, workspace):
    await create(api, "/w/x", parents=True)
    await api.data('mutation { registerContextType(name: "note", schema: {type: "object"}) { violatingCount } }')
    wrong = await api.error('mutation { deleteWorkspace(confirm: "something-else") { contexts } }')
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT" and workspace in wrong["message"]
    removed = await api.data(f'mutation {{ deleteWorkspace(confirm: "{workspace}") {{ workspace contexts versions contextTypes }} }}')
    assert removed["deleteWorkspace"] == {"workspace": workspace, "contexts": 2, "versions": 2, "contextTypes": 1}
    assert (await api.data("{ contexts { totalCount } }"))["contexts"]["totalCount"] == 0
    audit = await store.list_audit(workspace, Page(10))
    assert [(e.operation, e.outcome) for e in audit] == [("mutation deleteWorkspace", "ok")]


async def test_nan_and_infinity_are_refused_the_same_on_every_backend(api):
    body = ('{"query": "mutation($d: JSON!) { createContext(input: {path: \\"/nan\\", data: $d}) { id } }", '
            '"variables": {"d": {"x": NaN, "y": Infinity}}}')
    response = await api.client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert (await api.data('{ context(path: "/nan") { id } }'))["context"] is None
