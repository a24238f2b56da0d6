"""`/dashboard`: a live page of changes under a path, served from `server/static/dashboard/`.

The page talks to the public API only (GraphQL over HTTP for snapshots, graphql-ws
subscriptions for changes); its graphql-ws browser client is vendored from npm
(`scripts/vendor-dashboard`).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "dashboard"


async def _page(request: Request) -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/dashboard", _page),
        Route("/dashboard/", lambda request: RedirectResponse("/dashboard")),
        Mount("/dashboard/assets", app=StaticFiles(directory=STATIC), name="dashboard-assets"),
    ]
