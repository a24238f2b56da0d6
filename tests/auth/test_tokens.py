"""Bearer JWTs over HTTP: only verified tokens act; every kind of bad token is refused with 401 UNAUTHENTICATED."""

from __future__ import annotations

import time
import uuid

import pytest

from .conftest import client_for
from .tokens import AUDIENCE, SECRET, hmac_with, hs256, unsigned

ME = "{ me { id kind workspace roles actions } }"
NOW = int(time.time())


async def test_a_valid_hs256_token_acts_as_its_principal(hs, workspace):
    me = (await hs.data(ME, hs256(sub="ana", roles=["editor"], workspaces=[workspace])))["me"]
    assert me == {"id": "ana", "kind": "user", "workspace": workspace, "roles": ["editor"],
                  "actions": ["execute_tool", "manage_tools", "manage_types", "read", "write"]}


async def test_without_a_token_nothing_is_answered(hs):
    response = await hs.post(ME)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in response.json()


BAD_TOKENS = {
    "forged": lambda ws: hs256("another-secret-of-at-least-32-bytes!!", workspaces=[ws]),
    "unsigned (alg none)": lambda ws: unsigned(workspaces=[ws]),
    "expired": lambda ws: hs256(workspaces=[ws], exp=NOW - 60, iat=NOW - 600),
    "not yet valid": lambda ws: hs256(workspaces=[ws], nbf=NOW + 600),
    "wrong audience": lambda ws: hs256(workspaces=[ws], aud="someone-else"),
    "wrong issuer": lambda ws: hs256(workspaces=[ws], iss="https://evil.test"),
    "no expiry": lambda ws: hs256(workspaces=[ws], exp=None),
    "no subject": lambda ws: hs256(workspaces=[ws], sub=None),
    "tampered claims": lambda ws: _tampered(hs256(workspaces=[ws], roles=["viewer"])),
    "garbage": lambda ws: "not.a.jwt",
}


def _tampered(token: str) -> str:
    from .tokens import b64, claims
    import json

    header, _, signature = token.split(".")
    return f"{header}.{b64(json.dumps(claims(roles=['admin'])).encode())}.{signature}"


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_bad_tokens_are_refused(hs, workspace, kind):
    response = await hs.post(ME, BAD_TOKENS[kind](workspace))
    assert response.status_code == 401, (kind, response.text)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and error["message"]


async def test_jwks_rs256_and_es256_with_issuer_discovery(store, workspace, provider):
    async with client_for(store, workspace, auth_oidc_issuer=provider.issuer, auth_audience=AUDIENCE) as client:
        for kid in ("rsa-1", "ec-1"):
            me = (await client.data(ME, provider.token(kid, sub=f"user-{kid}", workspaces=[workspace])))["me"]
            assert me["id"] == f"user-{kid}"
        # wrong issuer, expired, and another provider's key with a known kid are refused
        refused = [
            provider.token(workspaces=[workspace], iss="https://elsewhere.test"),
            provider.token(workspaces=[workspace], exp=NOW - 100, iat=NOW - 1000),
            _resigned_with_stranger_key(provider, workspace),
        ]
        for token in refused:
            assert (await client.post(ME, token)).status_code == 401


def _resigned_with_stranger_key(provider, workspace) -> str:
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    from .tokens import claims

    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
    return jwt.encode({"alg": "RS256", "kid": "rsa-1"}, claims(iss=provider.issuer, workspaces=[workspace]), stranger)


async def test_algorithm_confusion_and_none_are_refused_with_jwks(store, workspace, provider):
    settings = {"auth_jwks_url": provider.issuer + "/jwks.json", "auth_issuer": provider.issuer}
    async with client_for(store, workspace, **settings) as client:
        confused = hmac_with(provider.public_pem(), kid="rsa-1", iss=provider.issuer, workspaces=[workspace])
        none = unsigned(iss=provider.issuer, workspaces=[workspace])
        for token in (confused, none):
            response = await client.post(ME, token)
            assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await client.data(ME, provider.token(workspaces=[workspace])))["me"]["id"] == "ana"


async def test_an_unknown_kid_refreshes_the_keys_once(store, workspace, provider):
    async with client_for(store, workspace, auth_jwks_url=provider.issuer + "/jwks.json") as client:
        await client.data(ME, provider.token(workspaces=[workspace]))
        hits = provider.jwks_hits
        kid = f"rsa-{uuid.uuid4().hex[:8]}"
        provider.rotate(kid)
        assert (await client.data(ME, provider.token(kid, workspaces=[workspace])))["me"]["id"] == "ana"
        assert provider.jwks_hits == hits + 1
        # a kid nobody published: refused, and it cannot make the server refetch again at once
        from joserfc.jwk import RSAKey

        provider.keys.append(RSAKey.generate_key(2048, parameters={"kid": "unpublished"}, private=True))
        token = provider.token("unpublished", workspaces=[workspace])
        provider.keys.pop()
        assert (await client.post(ME, token)).status_code == 401
        assert provider.jwks_hits == hits + 1


async def test_claims_map_by_configuration_and_per_workspace_roles(store, workspace):
    settings = {"auth_jwt_secret": SECRET, "auth_claim_id": "email", "auth_claim_roles": "grants",
                "auth_claim_workspaces": "teams"}
    async with client_for(store, workspace, **settings) as client:
        token = hs256(email="bo@x.test", grants={workspace: ["viewer"], workspace + "-2": ["admin"]}, teams=[])
        me = (await client.data(ME, token, workspace))["me"]
        assert me["id"] == "bo@x.test" and me["roles"] == ["viewer"]
        assert (await client.data(ME, token, workspace + "-2"))["me"]["roles"] == ["admin"]


async def test_the_graphiql_page_is_public_but_operations_in_the_url_are_not(hs):
    page = await hs.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    for url in ("/graphql?query={me{id}}", "/graphql?%71uery={me{id}}",
                '/graphql?extensions={"persistedQuery":{"version":1,"sha256Hash":"00"}}'):
        response = await hs.client.get(url, headers={"accept": "text/html,application/json"})
        assert response.status_code == 401, url
