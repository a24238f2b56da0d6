"""`GET /admin/export`: the running server's backup of a workspace, for admins only."""

from __future__ import annotations

import json

from contextql.graph.transfer import export_workspace

from .conftest import client_for, HS256_SETTINGS
from .tokens import hs256

EXPORT = "/admin/export"


async def test_only_an_admin_of_the_workspace_downloads_its_backup(store, workspace):
    admin = hs256(roles=["admin"], workspaces=[workspace])
    async with client_for(store, workspace, **HS256_SETTINGS) as api:
        await api.data('mutation { createContext(input: {path: "/kept", data: {v: 1}}) { id } }', admin)
        key = (await api.data('mutation { createApiKey(name: "ops", roles: ["admin"]) { secret } }', admin))
        secret = key["createApiKey"]["secret"]
        http = api.client

        nobody = await http.get(EXPORT)
        assert nobody.status_code == 401 and nobody.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        editor = await http.get(EXPORT, headers={"authorization": f"Bearer {hs256(roles=['editor'], workspaces=[workspace])}"})
        assert editor.status_code == 403 and "admin role" in editor.json()["errors"][0]["message"]
        other = await http.get(EXPORT, params={"workspace": workspace + "-x"}, headers={"authorization": f"Bearer {secret}"})
        assert other.status_code == 403

        expected = [line async for line in export_workspace(store, workspace)]
        got = await http.get(EXPORT, params={"workspace": workspace}, headers={"authorization": f"Bearer {secret}"})
        assert got.status_code == 200 and got.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(raw) for raw in got.text.splitlines()]
        assert lines[1:] == expected[1:] and lines[-1]["type"] == "end"

        log = await api.data("{ auditLog(first: 1) { edges { node { operation principal outcome } } } }", admin)
        assert log["auditLog"]["edges"][0]["node"]["operation"] == "export"
        assert log["auditLog"]["edges"][0]["node"]["principal"].startswith("apikey:")
