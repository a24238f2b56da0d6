"""GraphiQL at `/graphql` (browsers), with every asset served from `server/static/graphiql/`.

Strawberry's own GraphiQL page loads its scripts from a CDN, so without internet it is a blank page.
This one ships them: React, GraphiQL and its explorer plugin vendored from npm (`scripts/vendor-graphiql`),
and the dashboard's graphql-ws client for subscriptions over the same `/graphql` WebSocket.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "graphiql"


def bare_get(method: str, query_params: Mapping[str, str]) -> bool:
    """A GET of /graphql that carries no operation: a browser opening the page, or `curl /graphql`.
    (A persisted query sends only its hash, in `extensions`.)"""
    return method == "GET" and query_params.get("query") is None and query_params.get("extensions") is None


def accepts_html(headers: Mapping[str, str]) -> bool:
    # Only an explicit text/html: Strawberry also serves the page for `*/*`, which is what curl,
    # httpx and fetch() send by default, so a script exploring the endpoint got a web page.
    return "text/html" in headers.get("accept", "").lower()


def no_operation(graphiql: bool) -> JSONResponse:
    """The answer to a bare GET from a client that is not a browser (or when GraphiQL is off)."""
    message = "No GraphQL operation in the request: POST a JSON body with a `query`, or GET /graphql?query=..."
    if graphiql:
        message += "; or open this address in a browser for GraphiQL."
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, status_code=400)


def graphiql_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def graphiql_routes() -> list[BaseRoute]:
    # Public like the page itself: the Authentication middleware guards /graphql..., not these.
    return [Mount("/graphiql/assets", app=StaticFiles(directory=STATIC), name="graphiql-assets")]
