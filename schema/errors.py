"""Error reporting: every error carries `extensions.code`; internals never reach the client."""

from __future__ import annotations

import logging
from graphql import GraphQLError

from contextql.graph.errors import ContextQLError
from contextql.resolvers.request_scope import current_request_id

logger = logging.getLogger("contextql.errors")

INTERNAL_MESSAGE = ("Internal server error: the failure was logged; retry, or report it with the request id "
                    "(extensions.requestId).")
INTERNAL_CODE = "INTERNAL_SERVER_ERROR"


def classify(error: GraphQLError) -> GraphQLError:
    """The error as the client should see it; an unexpected one is logged here, once, with its stack trace."""
    known = _client_form(error)
    if known is not None:
        return known
    request_id = current_request_id()
    logger.error("unexpected error in %s", ".".join(map(str, error.path or [])), exc_info=error.original_error)
    return _with(error, INTERNAL_MESSAGE, {"code": INTERNAL_CODE, **({"requestId": request_id} if request_id else {})})


def code_of(error: GraphQLError) -> str:
    """The `extensions.code` the client will see for `error` (logs nothing: for metrics and access logs)."""
    known = _client_form(error)
    return str((known.extensions or {}).get("code", INTERNAL_CODE)) if known is not None else INTERNAL_CODE


def _client_form(error: GraphQLError) -> GraphQLError | None:
    """The client's form of an expected error; None for an unexpected one (a bug, an unforeseen failure)."""
    original = error.original_error
    if error.path is None and error.message.startswith("Variable '$"):
        return _with(error, error.message, {"code": "BAD_USER_INPUT"})
    if isinstance(original, ContextQLError):
        return _with(error, original.message, {"code": original.code, **original.details})
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error
        # Parse, validation and variable-coercion errors from graphql-core.
        code = "GRAPHQL_PARSE_FAILED" if error.message.startswith("Syntax Error") else "GRAPHQL_VALIDATION_FAILED"
        return _with(error, error.message, {"code": code})
    if isinstance(original, (ValueError, TypeError)) and error.path is None:
        return _with(error, error.message, {"code": "BAD_USER_INPUT"})
    return None


def _with(error: GraphQLError, message: str, extensions: dict) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, original_error=None, extensions=extensions)
