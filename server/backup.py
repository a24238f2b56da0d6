"""Online backup: `GET /admin/export` streams a workspace's backup from the running server.

The embedded store admits one process, so while the server runs, `contextql export` asks it
(server/backup_client.py) instead of opening the data directory. The body is exactly what an
offline export writes (graph/transfer.py, JSON Lines ending in an `end` line), so a response
cut short is recognisable: it has no `end` line.

Admins only (`manage_workspace`): a backup holds the audit log and API-key hashes. The
credential and workspace are read as for `/graphql` (`Authorization: Bearer ...`, workspace
from `?workspace=` or the `X-ContextQL-Workspace` header). The download is audited as
`export` once it is complete, after the stream (so a backup never contains its own entry).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from contextql.graph.access import AuditRecord
from contextql.graph.errors import ContextQLError, ForbiddenError
from contextql.graph.transfer import export_workspace
from contextql.resolvers.authorization import allowed, check_session
from contextql.resolvers.clock import now_us

from .auth import Authenticator
from .auth.authenticator import requested_workspace
from .auth.middleware import STATUS
from .state import AppState
from .stores import describe

PATH = "/admin/export"
MEDIA_TYPE = "application/x-ndjson"
# Names the store the server serves (`stores.describe`, URL-quoted): the CLI, having found a
# server on its own, checks it serves the data directory it was asked to export.
STORE_HEADER = "x-contextql-store"
logger = logging.getLogger("contextql.backup")


def encode(line: dict[str, object]) -> str:
    """One backup line as written to a file (the CLI and this endpoint write the same bytes)."""
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def backup_routes(state: AppState, authenticator: Authenticator) -> list[Route]:
    async def export(request: Request) -> Response:
        try:
            principal = await authenticator.authenticate(request.headers)
            check_session(principal)
            wanted = request.query_params.get("workspace") or requested_workspace(request.headers)
            workspace = authenticator.workspace(principal, wanted)
            if not allowed(principal, workspace, "manage_workspace"):
                raise ForbiddenError(f"Exporting workspace {workspace!r} needs the admin role there.",
                                     action="manage_workspace")
            store = state.require_store()
        except ContextQLError as error:
            return JSONResponse({"errors": [{"message": error.message, "extensions": {"code": error.code}}]},
                                status_code=STATUS.get(error.code, 400))

        async def body() -> AsyncIterator[bytes]:
            # Closed even when the client goes away mid-stream: the embedded store's writes wait for it.
            async with contextlib.aclosing(export_workspace(store, workspace)) as lines:
                async for line in lines:
                    yield encode(line).encode()
            try:
                await store.append_audit([AuditRecord(
                    id=str(uuid.uuid4()), workspace=workspace, at=now_us(), principal=principal.id,
                    principal_kind=principal.kind, operation="export", target="", outcome="ok",
                )])
            except ContextQLError:  # the backup itself is complete; the entry is the only loss
                logger.exception("could not record the export of workspace %r in the audit log", workspace)

        return StreamingResponse(body(), media_type=MEDIA_TYPE,
                                 headers={STORE_HEADER: quote(describe(state.settings))})

    return [Route(PATH, export, methods=["GET"])]
