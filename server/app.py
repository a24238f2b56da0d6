"""The Starlette application: `/graphql` (HTTP, GraphiQL, WebSocket), `/healthz`, `/readyz`, `/metrics`,
`/admin/export`."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from graphql import ExecutionResult, GraphQLError
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from contextql.graph.store import GraphStore
from contextql.resolvers import request_scope
from contextql.resolvers.principal import ANONYMOUS, LOCAL_ADMIN, UNAUTHENTICATED, Principal
from contextql.resolvers.request import RequestContext
from contextql.schema import build_schema

from .auth import Authenticator, auth_configured
from .auth.middleware import PRINCIPAL_KEY, WORKSPACE_KEY, Authentication
from .auth.websocket import authenticate_connection
from .guard.http import DepthCheckedWebSocket, RequestShapeGuard
from .guard.media import GraphQLResponseMediaType
from .guard.setup import GuardSetup
from .backup import backup_routes
from .dashboard import dashboard_routes
from .graphiql import accepts_html, bare_get, graphiql_page, graphiql_routes, no_operation
from .health import RETRY_AFTER, readiness, unavailable
from .events import open_bus
from . import tracing
from .limits import BodySizeLimit
from .metrics import metrics_endpoint
from .operation_telemetry import operation_options
from .request_id import RequestLog
from .search import SearchRuntime, start_search, stop_search
from .settings import Settings
from .sse import sse_endpoint
from .state import AppState
from .stores import open_store
from . import view_fastpath

logger = logging.getLogger("contextql")
# The collector's generation-0 threshold while the server runs (see `_owned_store`).
GEN0_THRESHOLD = 20_000


class ContextQLGraphQL(RequestShapeGuard, GraphQL[RequestContext, None]):
    """Strawberry's ASGI app with a request context built per request (fresh DataLoaders each time)."""

    websocket_adapter_class = DepthCheckedWebSocket  # the guard's depth check on WebSocket messages

    def __init__(self, settings: Settings, state: AppState) -> None:
        view_fastpath.install()
        self.guard = GuardSetup(settings)
        # Traced, the operation's span is current while the limits run (their cost attribute goes on it).
        options = {**self.guard.schema_options(), **operation_options()}
        schema = build_schema(
            max_depth=settings.max_query_depth, max_aliases=settings.max_aliases, max_tokens=settings.max_tokens,
            max_spread_depth=settings.max_json_depth, **options,
        )
        super().__init__(
            schema,
            graphql_ide="graphiql" if self.guard.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        )
        self.settings, self.state = settings, state
        self.limits = settings.limits()  # frozen: one for every request
        self.authenticator = Authenticator(settings, self.state.require_store, lambda: self.state.admin_token)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> RequestContext:
        search = self.state.search
        principal = self._principal(request)
        if (scope := request_scope.current()) is not None and principal is not UNAUTHENTICATED:
            scope.principal = principal.id  # for this request's log lines
        return RequestContext(
            store=self.state.require_store(),
            principal=principal,
            workspace=request.scope.get("state", {}).get(WORKSPACE_KEY, self.settings.workspace),
            limits=self.limits,
            events=self.state.events,
            search=search.index if search is not None else None,
            index_jobs=self.state.index_jobs,
            request=request,
            response=response,
        )

    def encode_json(self, data: object) -> str:
        """Strawberry's JSON (every HTTP answer, WebSocket and SSE message), faster: server/view_fastpath.py."""
        return view_fastpath.dumps(data)

    def _principal(self, request: Request | WebSocket) -> Principal:
        """Verified by the Authentication middleware (HTTP); a WebSocket has none until `connection_init`."""
        verified = request.scope.get("state", {}).get(PRINCIPAL_KEY)
        if verified is not None:
            return verified
        return UNAUTHENTICATED if self.authenticator.enabled else ANONYMOUS

    async def on_ws_connect(self, context: RequestContext):
        """Decide once per WebSocket who it acts as, from the `connection_init` payload (server/auth/)."""
        await authenticate_connection(self.authenticator, context)
        if (scope := request_scope.current()) is not None:
            scope.principal = context.principal.id
        return await super().on_ws_connect(context)

    def should_render_graphql_ide(self, request) -> bool:
        return self.guard.graphiql and bare_get(request.method, request.query_params) and accepts_html(request.headers)

    async def run(self, request, context=UNSET, root_value=UNSET):
        if isinstance(request, Request) and bare_get(request.method, request.query_params) \
                and not self.should_render_graphql_ide(request):
            return no_operation(self.guard.graphiql)
        return await super().run(request, context, root_value)

    async def render_graphql_ide(self, request):
        """Our GraphiQL page (server/graphiql.py): its assets are served here, not fetched from a CDN."""
        return graphiql_page()

    async def execute_single(self, request, request_adapter, sub_response, context, root_value, request_data):
        """Persisted operations (server/guard/persisted.py) resolve the document before it runs."""
        if context.principal is LOCAL_ADMIN and request_data.query is not None:
            # The operator's own commands (`contextql verify`/`reindex`) run on an allow-listed server too.
            resolved: str | GraphQLError | None = request_data.query
        else:
            resolved = self.guard.persisted.resolve(request_data.query, request_data.extensions)
        if isinstance(resolved, GraphQLError):
            return ExecutionResult(data=None, errors=[resolved])
        request_data = dataclasses.replace(request_data, query=resolved)
        result = await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)
        if unavailable(result):
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = str(RETRY_AFTER)
        return result


def create_app(
    settings: Settings | None = None, *, store: GraphStore | None = None, search: SearchRuntime | None = None
) -> Starlette:
    """Build the app. With `store` given, the caller owns its lifecycle (tests); else it is opened here.

    `search` is likewise the caller's when given with `store`.
    """
    settings = settings or Settings()
    traced = tracing.configure()  # before the schema: it picks the operation extension by it
    state = AppState(settings=settings, events=open_bus(settings), store=store, search=search)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.events.start()
        if state.search is not None and state.search.worker is not None and state.search.worker.events is None:
            state.search.worker.events = state.events  # a caller's worker publishes on this app's bus
        try:
            if store is not None:
                try:
                    yield
                finally:
                    await state.index_jobs.close()
                return
            async with _owned_store(settings, state):
                yield
        finally:
            await state.events.stop()
            tracing.flush()

    @contextlib.asynccontextmanager
    async def _owned_store(settings: Settings, state: AppState) -> AsyncIterator[None]:
        state.store = opened = await open_store(settings)
        state.search = await start_search(settings, opened, state.events)
        # What exists now (modules, the schema, the driver) lives as long as the server: out of the
        # collector's way, a full collection walks a request's objects only (~85 ms -> ~9 ms each,
        # one every few hundred requests; bench/results/profile-2026-12-01-run3.md).
        gc.collect()
        gc.freeze()
        # A request makes thousands of container objects that reference counting frees; at the default
        # gen-0 threshold (700) the collector still ran ~70 times a second at 16 clients and took 4.2-4.6%
        # of the server's CPU, with a 20 ms full collection every few seconds; at 20,000, 0.7-1.0% and
        # none (bench/results/profile-2026-12-02-gc-threshold.md). The cost: up to that many objects of
        # cyclic garbage (a few MB) wait a little longer.
        thresholds = gc.get_threshold()
        gc.set_threshold(GEN0_THRESHOLD, *thresholds[1:])
        if not auth_configured(settings):
            logger.warning(
                "ContextQL embedded mode: no authentication, everyone acts as the local principal "
                "'anonymous' in workspace %r. Do not expose this port.", settings.workspace,
            )
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            await state.index_jobs.close()  # before the store and the index close under a running reindex
            runtime, state.search = state.search, None
            await stop_search(runtime)
            await opened.close()

    async def healthz(request: Request) -> JSONResponse:
        current = state.store
        return JSONResponse({"status": "ok" if current else "starting", "graph": current.backend if current else None})

    async def debug_stats(request: Request) -> JSONResponse:
        """Statements sent to the graph engine so far (benchmarks read it before and after a phase),
        how revisions went where the store tells (Neo4j: graph/neo4j/optimistic.py), and where reads
        ran where the store has a choice (LadybugDB: the loop's thread or reader threads)."""
        current = state.require_store()
        stats = {"backend": current.backend, "queries": current.queries}
        heads = getattr(current, "heads", None)
        if heads is not None:
            stats |= {"head_cache_hits": heads.hits, "head_cache_misses": heads.misses,
                      "pessimistic_revisions": getattr(current, "pessimistic_revisions", 0)}
        group = getattr(current, "group_commit", None)
        if group is not None:
            stats["grouped_writes"] = group.grouped
        stats |= getattr(current, "read_counts", {})
        return JSONResponse(stats)

    graphql = ContextQLGraphQL(settings, state)
    app = Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/graphql")),
            Route("/healthz", healthz),
            Route("/readyz", readiness(state)),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/graphql/stream", sse_endpoint(graphql.schema, lambda r: graphql.get_context(r, None),
                                                  max_json_depth=settings.max_json_depth), methods=["GET", "POST"]),
            *dashboard_routes(),
            *backup_routes(state, graphql.authenticator),
            *(graphiql_routes() if graphql.guard.graphiql else []),
            *([Route("/debug/stats", debug_stats)] if settings.debug_stats else []),
            *([Route("/metrics", metrics_endpoint(settings, state))] if settings.metrics else []),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(GraphQLResponseMediaType)
    app.add_middleware(Authentication, authenticator=graphql.authenticator)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origin_list:
        # Outermost, so refusals (401, 413, 429) carry CORS headers too and a browser shows them, and so
        # preflights are answered before authentication (they carry no credentials).
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origin_list, allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST"], allow_headers=["*"], expose_headers=["Retry-After"],
            max_age=settings.cors_max_age,
        )
    # Outside CORS and the limits, so their refusals get a request id and an access-log line too.
    app.add_middleware(RequestLog)
    if traced:
        tracing.instrument(app)
    app.state.contextql = state  # read through server.state.app_state
    return app
