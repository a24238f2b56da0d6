"""GraphiQL at `/graphql` (browsers), with every asset served from `server/static/graphiql/`.

Strawberry's own GraphiQL page loads its scripts from a CDN, so without internet it is a blank page.
This one ships them: React, GraphiQL and its explorer plugin vendored from npm (`scripts/vendor-graphiql`),
and the dashboard's graphql-ws client for subscriptions over the same `/graphql` WebSocket.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "graphiql"


def graphiql_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def graphiql_routes() -> list[BaseRoute]:
    # Public like the page itself: the Authentication middleware guards /graphql..., not these.
    return [Mount("/graphiql/assets", app=StaticFiles(directory=STATIC), name="graphiql-assets")]
