"""Roles per workspace, and workspace isolation through every entry point: nothing outside is revealed."""

from __future__ import annotations

import uuid

from .tokens import hs256

CREATE = 'mutation($p: String!) { createContext(input: {path: $p, data: {secret: "s"}}) { id path } }'
READS = {
    "context by path": ('query($p: String!) { context(path: $p) { id } }', lambda ctx: {"p": ctx["path"]}),
    "context by id": ('query($i: ID!) { context(id: $i) { id } }', lambda ctx: {"i": ctx["id"]}),
    "node by id": ('query($i: ID!) { node(id: $i) { id } }', lambda ctx: {"i": ctx["id"]}),
    "version node": ('query($i: ID!) { node(id: $i) { id } }', lambda ctx: {"i": ctx["id"] + ":1"}),
}


def token(workspace: str, role: str, sub: str = "ana") -> str:
    return hs256(sub=sub, roles=[role], workspaces=[workspace])


async def test_role_matrix_on_context_entry_points(hs, workspace):
    admin, viewer, agent, editor = (token(workspace, r) for r in ("admin", "viewer", "agent", "editor"))
    created = (await hs.data(CREATE, agent, p="/a"))["createContext"]
    assert (await hs.data('query($p: String!) { context(path: $p) { path } }', viewer, p="/a"))["context"]["path"] == "/a"
    denied = await hs.error(CREATE, viewer, p="/b")
    assert denied["extensions"]["code"] == "FORBIDDEN"
    schema = 'mutation { registerContextType(name: "note", schema: {type: "object"}) { contextType { name } } }'
    assert (await hs.error(schema, agent))["extensions"]["code"] == "FORBIDDEN"
    await hs.data(schema, editor)
    for admin_only in ("{ apiKeys { id } }", "{ auditLog { edges { node { operation } } } }"):
        assert (await hs.error(admin_only, editor))["extensions"]["code"] == "FORBIDDEN"
        await hs.data(admin_only, admin)
    update = 'mutation($i: ID!) { updateContext(id: $i, input: {title: "t"}) { version } }'
    assert (await hs.error(update, viewer, i=created["id"]))["extensions"]["code"] == "FORBIDDEN"
    # a token with no role in the workspace may not even read
    nobody = hs256(roles=[], workspaces=[workspace])
    assert (await hs.error('{ contexts { totalCount } }', nobody))["extensions"]["code"] == "FORBIDDEN"


async def test_another_workspace_is_refused_the_same_whether_it_exists_or_not(hs, workspace):
    other = workspace + "-other"
    await hs.data(CREATE, token(other, "admin", "bo"), other, p="/b")
    mine = token(workspace, "admin")
    existing = await hs.post("{ me { id } }", mine, other)
    nowhere = f"nope-{uuid.uuid4().hex}"
    missing = await hs.post("{ me { id } }", mine, nowhere)
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["errors"][0]["extensions"] == missing.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert existing.json()["errors"][0]["message"].replace(other, "W") == missing.json()["errors"][0]["message"].replace(nowhere, "W")


async def test_guessed_ids_paths_and_searches_reveal_nothing_across_workspaces(hs, workspace):
    other = workspace + "-other"
    theirs = (await hs.data(CREATE, token(other, "admin", "bo"), other, p="/secret"))["createContext"]
    mine = token(workspace, "admin")
    made_up = {"id": str(uuid.uuid4()), "path": "/nothing-here"}
    for name, (query, variables) in READS.items():
        seen = await hs.data(query, mine, **variables(theirs))
        never = await hs.data(query, mine, **variables(made_up))
        assert seen == never and all(v is None for v in seen.values()), name
    listed = await hs.data('{ contexts(where: {path: {startsWith: "/"}}) { totalCount edges { node { path } } } }', mine)
    assert listed["contexts"] == {"totalCount": 0, "edges": []}
    # writes by a guessed id fail exactly as for an id that does not exist
    for mutation in ('mutation($i: ID!) { updateContext(id: $i, input: {title: "x"}) { id } }',
                     'mutation($i: ID!) { deleteContext(id: $i) { path } }',
                     'mutation($i: ID!) { moveContext(id: $i, to: "/stolen") { movedCount } }'):
        guessed = await hs.error(mutation, mine, i=theirs["id"])
        invented = await hs.error(mutation, mine, i=made_up["id"])
        assert guessed["extensions"] == invented["extensions"] and guessed["extensions"]["code"] == "NOT_FOUND"
        assert guessed["message"].replace(theirs["id"], "X") == invented["message"].replace(made_up["id"], "X")
    still = await hs.data('query($p: String!) { context(path: $p) { path } }', token(other, "viewer", "bo"), other, p="/secret")
    assert still["context"]["path"] == "/secret"
