"""The ceiling: a bare Starlette JSON endpoint on uvicorn, with no GraphQL and no database.

    python -m uvicorn bench.peer.ceiling:app --host 127.0.0.1 --port N --log-level warning

POST /graphql parses the JSON body and answers a small JSON document naming the requested path, the
least any server must do per request (HTTP, JSON in, JSON out). Run with uvicorn's defaults, as
`contextql serve` is (uvloop and httptools when installed), it bounds what a Python server on this
machine, driven by this load generator, can reach.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def graphql(request: Request) -> JSONResponse:
    body = await request.json()
    path = (body.get("variables") or {}).get("path")
    return JSONResponse({"data": {"context": {"path": path, "title": "ceiling"}}})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"backend": "none", "queries": 0})


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz),
                        Route("/debug/stats", stats)])
