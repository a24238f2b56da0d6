"""Request-shape checks Strawberry leaves out, so that hostile or misdirected requests get a GraphQL
error and never a 500: a body that is JSON but not an operation, input nested too deeply (refused
before a parser can exhaust the stack), and a subscription sent where nothing can stream it."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLFormattedError
from starlette.responses import JSONResponse
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http import GraphQLRequestData
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws import types as transport_ws
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws import types as legacy_ws
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from contextql.graph.errors import ContextQLError
from contextql.schema.errors import classify
from contextql.resolvers.nesting import check_request, json_text_too_deep, raw_limit, too_deep

SUBSCRIPTION_TRANSPORT_REQUIRED = "SUBSCRIPTION_TRANSPORT_REQUIRED"
SUBSCRIPTION_OVER_HTTP = (
    "Subscriptions do not run over a plain HTTP request: open a WebSocket to /graphql (subprotocol "
    "graphql-transport-ws, e.g. the `graphql-ws` client) or use Server-Sent Events at /graphql/stream "
    "(e.g. the `graphql-sse` client)."
)


class InputTooDeep(Exception):
    """Raised while reading a request; answered with HTTP 400 and a GraphQL error (`BAD_USER_INPUT`)."""

    def __init__(self, error: ContextQLError) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def formatted(self) -> GraphQLFormattedError:
        return {"message": self.error.message, "extensions": {"code": self.error.code, **self.error.details}}


# The code a client reads for each HTTP refusal that happens before any operation runs.
HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
              415: "UNSUPPORTED_MEDIA_TYPE"}


def http_refusal(refused: HTTPException) -> JSONResponse:
    """A request refused before any operation runs, as a GraphQL error with a code (not plain text)."""
    reason = refused.reason
    if reason == "Unsupported content type":
        reason = "Send the operation as application/json (or application/graphql for a bare document)."
    error = {"message": reason, "extensions": {"code": HTTP_CODES.get(refused.status_code, "BAD_REQUEST")}}
    headers = {"Allow": "GET, POST"} if refused.status_code == 405 else None
    return JSONResponse({"errors": [error]}, status_code=refused.status_code, headers=headers)


def depth_refusal(error: ContextQLError) -> JSONResponse:
    return JSONResponse({"errors": [InputTooDeep(error).formatted]}, status_code=400)


class DepthCheckedWebSocket(ASGIWebSocketAdapter):
    async def iter_json(self, *, ignore_parsing_errors: bool = False):
        """A message nested beyond the parser bound closes the socket with 4400, as graphql-transport-ws
        requires for a message the server cannot accept (the id inside it cannot be read safely)."""
        try:
            async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
                yield message
        except InputTooDeep as refused:
            await self.close(4400, refused.error.message[:120])


def _refusal(view: object, payload: Any) -> ContextQLError | None:
    return view.operation_refusal(payload) if isinstance(view, RequestShapeGuard) else None


class _TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_subscribe(self, message) -> None:
        refusal = _refusal(self.view, message.get("payload"))
        if refusal is not None and self.connection_acknowledged and message.get("id") not in self.operations:
            await self.send_message(transport_ws.ErrorMessage(
                id=message["id"], type="error", payload=[InputTooDeep(refusal).formatted]))
            return
        await super().handle_subscribe(message)


class _LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    async def handle_start(self, message) -> None:
        refusal = _refusal(self.view, message.get("payload"))
        if refusal is not None and self.connection_acknowledged:
            await self.send_message(legacy_ws.ErrorMessage(
                type="error", id=message["id"], payload=InputTooDeep(refusal).formatted))
            return
        await super().handle_start(message)


class RequestShapeGuard:
    """Mixed into the GraphQL view before Strawberry's class (which provides `settings` via the app)."""

    # Declared as Strawberry declares them, so that the mixin's choices type-check as overrides. The WebSocket
    # adapter (DepthCheckedWebSocket) is set on the view class itself: Strawberry's GraphQL declares it narrower
    # than its own base does, which a mixin listed before it cannot override type-safely.
    graphql_transport_ws_handler_class: type[BaseGraphQLTransportWSHandler[Any, Any]] = _TransportWSHandler
    graphql_ws_handler_class: type[BaseGraphQLWSHandler[Any, Any]] = _LegacyWSHandler

    @property
    def max_json_depth(self) -> int:
        return self.settings.max_json_depth  # type: ignore[attr-defined]

    def decode_json(self, data: str | bytes) -> object:
        """Every JSON text Strawberry reads (HTTP body, GET parameters, WebSocket messages) passes here."""
        if json_text_too_deep(data, raw_limit(self.max_json_depth)):
            raise InputTooDeep(too_deep("The JSON input", self.max_json_depth))
        return super().decode_json(data)  # type: ignore[misc]

    def operation_refusal(self, payload: Any) -> ContextQLError | None:
        if not isinstance(payload, dict):
            return None
        return check_request(payload.get("query"), payload.get("variables"), self.max_json_depth)

    async def run(self, request, context=UNSET, root_value=UNSET):
        try:
            return await super().run(request, context, root_value)  # type: ignore[misc]
        except InputTooDeep as refused:
            return depth_refusal(refused.error)
        except HTTPException as refused:
            return http_refusal(refused)

    async def parse_http_body(self, request):
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if request.method == "POST" and content_type == "application/graphql":
            # The document itself as the body (GraphQL over HTTP's older form; curl users send it).
            try:
                query = (await request.get_body()).decode()
            except UnicodeDecodeError as exc:
                raise HTTPException(400, "The body must be a GraphQL document in UTF-8.") from exc
            refusal = check_request(query, None, self.max_json_depth)
            if refusal is not None:
                raise InputTooDeep(refusal)
            return GraphQLRequestData(query=query, variables=None, operation_name=None, extensions=None)
        try:
            parsed = await super().parse_http_body(request)  # type: ignore[misc]
        except (AttributeError, TypeError) as exc:  # e.g. `null`, `3` or `[1]` as the body
            raise HTTPException(
                400, "The body must be a JSON object with a `query` (or a list of them for a batch)."
            ) from exc
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "The body must be JSON in UTF-8.") from exc
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if item.operation_name is not None and not isinstance(item.operation_name, str):
                raise HTTPException(400, "`operationName` must be a string naming an operation of the document.")
            refusal = check_request(item.query, item.variables, self.max_json_depth)
            if refusal is not None:
                raise InputTooDeep(refusal)
        return parsed

    async def process_result(self, request, result):
        # ErrorCodes (schema/errors.py) classifies the errors of an operation; one raised by an extension's
        # own hook escapes it, and Strawberry would send its Python message as is: classified here too.
        if result.errors and any("code" not in (error.extensions or {}) for error in result.errors):
            result.errors = [classify(error) for error in result.errors]
        return await super().process_result(request, result)  # type: ignore[misc]

    async def execute_single(self, request, request_adapter, sub_response, context, root_value, request_data):
        """Strawberry's own, except that a subscription is refused with a GraphQL error naming the
        transports that can stream it (Strawberry would run it as a query and fail internally).
        Streaming protocols (multipart subscriptions) never come here."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        if not self.allow_queries_via_get and request_adapter.method == "GET":  # type: ignore[attr-defined]
            allowed -= {OperationType.QUERY}
        try:
            return await self.schema.execute(  # type: ignore[attr-defined]
                request_data.query, root_value=root_value, variable_values=request_data.variables,
                context_value=context, operation_name=request_data.operation_name,
                allowed_operation_types=allowed, operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                return ExecutionResult(data=None, errors=[GraphQLError(
                    SUBSCRIPTION_OVER_HTTP, extensions={"code": SUBSCRIPTION_TRANSPORT_REQUIRED,
                                                        "transports": ["graphql-transport-ws", "sse"]})])
            raise HTTPException(400, error.as_http_error_reason(request_adapter.method)) from error
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
