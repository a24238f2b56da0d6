"""The dashboard's vendored browser client is exactly the npm package pinned in tests/js, licence included."""

from __future__ import annotations

from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "server" / "static" / "dashboard" / "vendor"


def test_vendored_graphql_ws_matches_the_pinned_npm_package(node_modules):
    package = node_modules / "graphql-ws"
    assert (VENDOR / "graphql-ws.js").read_bytes() == (package / "umd" / "graphql-ws.js").read_bytes(), \
        "run scripts/vendor-dashboard"
    assert (VENDOR / "graphql-ws.LICENSE.md").read_bytes() == (package / "LICENSE.md").read_bytes()
