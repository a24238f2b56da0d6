"""API keys end to end: created by an admin (secret shown once), used, listed, revoked, rotated, expired."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, UTC

from .conftest import client_for
from .tokens import SECRET, hs256

CREATE_KEY = """mutation($name: String!, $roles: [String!]!, $ws: [String!], $exp: DateTime) {
  createApiKey(name: $name, roles: $roles, workspaces: $ws, expiresAt: $exp) {
    secret apiKey { id name kind roles workspaces expiresAt revokedAt createdBy } } }"""
ROTATE = """mutation($id: ID!, $overlap: Int) { rotateApiKey(id: $id, overlapSeconds: $overlap) {
  secret apiKey { id } previous { id expiresAt replacedBy } } }"""
ME = "{ me { id kind roles workspace } }"


def admin(workspace: str) -> str:
    return hs256(roles=["admin"], workspaces=[workspace])


async def test_create_use_list_and_revoke(hs, store, workspace):
    issued = (await hs.data(CREATE_KEY, admin(workspace), name="indexer", roles=["agent"]))["createApiKey"]
    key, secret = issued["apiKey"], issued["secret"]
    assert secret.startswith("cq_") and key["roles"] == ["agent"] and key["workspaces"] == [workspace]
    assert key["createdBy"] == "ana" and key["expiresAt"] is None and key["revokedAt"] is None
    me = (await hs.data(ME, secret))["me"]
    assert me == {"id": f"apikey:{key['id']}", "kind": "agent", "roles": ["agent"], "workspace": workspace}
    # only a salted hash is stored: neither the secret nor its plain sha256 appear in the record
    stored = await store.get_api_key(key["id"])
    plain = secret.split("_", 2)[2]  # cq_<id>_<secret>; the secret may itself contain "_"
    assert plain not in repr(stored) and hashlib.sha256(plain.encode()).hexdigest() != stored.hash
    listed = (await hs.data("{ apiKeys { id name } }", admin(workspace)))["apiKeys"]
    assert listed == [{"id": key["id"], "name": "indexer"}]
    # an agent key may not manage keys
    assert (await hs.error("{ apiKeys { id } }", secret))["extensions"]["code"] == "FORBIDDEN"
    revoked = (await hs.data('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', admin(workspace), id=key["id"]))
    assert revoked["revokeApiKey"]["revokedAt"] is not None
    response = await hs.post(ME, secret)
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_wrong_or_malformed_secrets_are_refused(hs, workspace):
    issued = (await hs.data(CREATE_KEY, admin(workspace), name="svc", roles=["viewer"]))["createApiKey"]
    secret = issued["secret"]
    for bad in (secret[:-2] + "xx", secret.replace("cq_", "cq_0"), "cq_" + "0" * 32 + "_abc", "cq_"):
        assert (await hs.post(ME, bad)).status_code == 401
    assert (await hs.client.post("/graphql", json={"query": ME}, headers={"x-api-key": secret})).status_code == 200


async def test_rotation_keeps_the_old_key_for_the_overlap_only(hs, workspace):
    old = (await hs.data(CREATE_KEY, admin(workspace), name="bot", roles=["editor"]))["createApiKey"]
    rotated = (await hs.data(ROTATE, admin(workspace), id=old["apiKey"]["id"]))["rotateApiKey"]
    assert rotated["previous"]["replacedBy"] == rotated["apiKey"]["id"] and rotated["previous"]["expiresAt"]
    assert (await hs.data(ME, rotated["secret"]))["me"]["roles"] == ["editor"]
    assert (await hs.data(ME, old["secret"]))["me"]["roles"] == ["editor"]  # inside the default overlap
    again = (await hs.data(ROTATE, admin(workspace), id=rotated["apiKey"]["id"], overlap=0))["rotateApiKey"]
    assert (await hs.post(ME, rotated["secret"])).status_code == 401  # rotated out at once
    assert (await hs.data(ME, again["secret"]))["me"]["kind"] == "agent"
    # a rotated-out key cannot be rotated again
    assert (await hs.error(ROTATE, admin(workspace), id=rotated["apiKey"]["id"]))["extensions"]["code"] == "NOT_FOUND"


async def test_expired_keys_and_keys_beyond_the_creators_workspaces(store, workspace):
    async with client_for(store, workspace, auth_api_keys=True, auth_jwt_secret=SECRET) as client:
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        issued = (await client.data(CREATE_KEY, admin(workspace), name="old", roles=["viewer"], exp=past))["createApiKey"]
        assert (await client.post(ME, issued["secret"])).status_code == 401
        far = await client.error(CREATE_KEY, admin(workspace), name="x", roles=["viewer"], ws=[workspace, "elsewhere"])
        assert far["extensions"]["code"] == "FORBIDDEN"
        bad_role = await client.error(CREATE_KEY, admin(workspace), name="x", roles=["root"])
        assert bad_role["extensions"]["code"] == "BAD_USER_INPUT"


async def test_api_keys_are_managed_per_workspace(hs, workspace):
    other = workspace + "-other"
    theirs = (await hs.data(CREATE_KEY, admin(other), other, name="theirs", roles=["viewer"]))["createApiKey"]
    for mutation in ('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', ROTATE):
        error = await hs.error(mutation, admin(workspace), id=theirs["apiKey"]["id"])
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await hs.data("{ apiKeys { id } }", admin(workspace)))["apiKeys"] == []
