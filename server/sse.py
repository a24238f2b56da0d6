"""GraphQL over Server-Sent Events, "distinct connections mode" of the GraphQL over SSE spec.

For clients behind proxies that block WebSockets (e.g. the `graphql-sse` client):
one HTTP request per operation (POST a JSON body, or GET with `query`/`variables`
parameters), answered with `text/event-stream`: one `next` event per result, then
`complete`. Comment lines keep idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from strawberry.types import ExecutionResult

from contextql.graph.errors import ContextQLError
from contextql.resolvers.nesting import check_request, json_text_too_deep, raw_limit, too_deep
from contextql.resolvers.request import RequestContext

KEEP_ALIVE_SECONDS = 15.0


class _TooDeep(Exception):
    def __init__(self, error: ContextQLError) -> None:
        super().__init__(error.message)
        self.error = error


def sse_endpoint(schema, make_context: Callable[[Request], Awaitable[RequestContext]], *, max_json_depth: int = 64):
    async def endpoint(request: Request) -> Response:
        try:
            body = await _read_request(request, max_json_depth)
            refusal = check_request(body["query"], body.get("variables"), max_json_depth)
            if refusal is not None:
                raise _TooDeep(refusal)
        except ValueError as exc:
            return _bad_request(str(exc))
        except _TooDeep as refused:
            return _bad_request(refused.error.message, **refused.error.details)
        operation = _operation_type(body["query"], body.get("operationName"))
        if request.method == "GET" and operation is OperationType.MUTATION:
            return _bad_request("Mutations are not allowed over GET; POST them.", status=405)
        context = await make_context(request)
        results = _results(schema, body, context, operation)
        return StreamingResponse(
            _events(results),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
        )

    return endpoint


def _loads(text: str | bytes, max_json_depth: int) -> Any:
    """JSON, refused unparsed when nested beyond what a parser may safely recurse into."""
    if json_text_too_deep(text, raw_limit(max_json_depth)):
        raise _TooDeep(too_deep("The JSON input", max_json_depth))
    return json.loads(text)


async def _read_request(request: Request, max_json_depth: int) -> dict[str, Any]:
    if request.method == "GET":
        params = dict(request.query_params)
        for name in ("variables", "extensions"):
            if params.get(name):
                try:
                    params[name] = _loads(params[name], max_json_depth)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"The `{name}` parameter must be a JSON object.") from exc
        body: Any = params
    else:
        try:
            body = _loads(await request.body() or b"null", max_json_depth)
        except json.JSONDecodeError as exc:
            raise ValueError("The request body must be JSON: {\"query\": \"subscription { ... }\"}.") from exc
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise ValueError("Send a GraphQL document as `query` (a string).")
    if not isinstance(body.get("variables") or {}, dict):
        raise ValueError("`variables` must be an object.")
    return body


def _operation_type(query: str, name: str | None) -> OperationType | None:
    try:
        operation = get_operation_ast(parse(query), name)
    except GraphQLError:
        return None  # the schema reports the syntax error in the stream, with its code
    return None if operation is None else operation.operation


async def _results(schema, body: dict[str, Any], context: RequestContext, operation: OperationType | None
                   ) -> AsyncGenerator[ExecutionResult, None]:
    arguments = dict(variable_values=body.get("variables"), context_value=context,
                     operation_name=body.get("operationName"))
    if operation is not OperationType.SUBSCRIPTION:
        yield await schema.execute(body["query"], **arguments)
        return
    results = await schema.subscribe(body["query"], **arguments)
    if isinstance(results, ExecutionResult):  # refused before it started (validation, ...)
        yield results
        return
    try:
        async for result in results:
            yield result
    finally:
        await results.aclose()


async def _events(results: AsyncGenerator[ExecutionResult, None]) -> AsyncIterator[str]:
    """Results as SSE, with keep-alive comments while the stream is idle."""
    queue: asyncio.Queue[ExecutionResult | None] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for result in results:
                await queue.put(result)
        finally:
            await queue.put(None)

    task = asyncio.create_task(pump())
    try:
        yield ": connected\n\n"
        while True:
            try:
                result = await asyncio.wait_for(queue.get(), timeout=KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if result is None:
                break
            yield f"event: next\ndata: {json.dumps(_payload(result), separators=(',', ':'))}\n\n"
        yield "event: complete\ndata:\n\n"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await results.aclose()


def _payload(result: ExecutionResult) -> dict[str, Any]:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return payload


def _bad_request(message: str, status: int = 400, **details: Any) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT", **details}}]},
                        status_code=status)
