"""The audit log: every mutation (ok or failed) and every denied attempt, with who, what, target, when, outcome."""

from __future__ import annotations

from .tokens import hs256

LOG = """query($principal: String, $outcome: AuditOutcome) {
  auditLog(first: 50, principal: $principal, outcome: $outcome) {
    edges { node { at principal principalKind operation target outcome code } } pageInfo { hasNextPage } } }"""


async def test_mutations_and_denials_are_recorded_and_only_admins_read_them(hs, workspace):
    admin = hs256(sub="ana", roles=["admin"], workspaces=[workspace])
    viewer = hs256(sub="vic", roles=["viewer"], workspaces=[workspace])
    create = 'mutation($p: String!) { createContext(input: {path: $p}) { id } }'
    await hs.data(create, admin, p="/a")
    assert (await hs.error(create, admin, p="/a"))["extensions"]["code"] == "CONFLICT"
    assert (await hs.error(create, viewer, p="/b"))["extensions"]["code"] == "FORBIDDEN"
    assert (await hs.error("{ auditLog { edges { node { at } } } }", viewer))["extensions"]["code"] == "FORBIDDEN"

    entries = [e["node"] for e in (await hs.data(LOG, admin))["auditLog"]["edges"]]
    assert [(e["principal"], e["operation"], e["target"], e["outcome"], e["code"]) for e in entries] == [
        ("vic", "query auditLog", "", "DENIED", "FORBIDDEN"),
        ("vic", "mutation createContext", "path=/b", "DENIED", "FORBIDDEN"),
        ("ana", "mutation createContext", "path=/a", "FAILED", "CONFLICT"),
        ("ana", "mutation createContext", "path=/a", "OK", None),
    ]
    assert all(e["principalKind"] == "user" and e["at"] for e in entries)
    denied = (await hs.data(LOG, admin, outcome="DENIED"))["auditLog"]["edges"]
    assert {e["node"]["principal"] for e in denied} == {"vic"} and len(denied) == 2
    assert len((await hs.data(LOG, admin, principal="ana"))["auditLog"]["edges"]) == 2


async def test_the_audit_log_is_per_workspace(hs, workspace):
    other = workspace + "-other"
    await hs.data('mutation { createContext(input: {path: "/x"}) { id } }', hs256(roles=["admin"], workspaces=[other]), other)
    mine = (await hs.data(LOG, hs256(roles=["admin"], workspaces=[workspace])))["auditLog"]["edges"]
    assert mine == []
