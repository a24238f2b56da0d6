"""Error reporting: every error carries `extensions.code`; internals never reach the client."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from contextql.graph.errors import ContextQLError

logger = logging.getLogger("contextql.errors")

INTERNAL_MESSAGE = "Internal server error: the failure was logged; retry, or report it with the time of the request."


def classify(error: GraphQLError) -> GraphQLError:
    """The error as the client should see it."""
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
    logger.error("unexpected error in %s", ".".join(map(str, error.path or [])), exc_info=original)
    return _with(error, INTERNAL_MESSAGE, {"code": "INTERNAL_SERVER_ERROR"})


def _with(error: GraphQLError, message: str, extensions: dict) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, original_error=None, extensions=extensions)


class ErrorCodes(SchemaExtension):
    """Rewrite every error of a result into its client form (codes, no internals)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result and result.errors:
            result.errors = [classify(e) for e in result.errors]
        elif self.execution_context.pre_execution_errors:
            self.execution_context.pre_execution_errors = [
                classify(e) for e in self.execution_context.pre_execution_errors
            ]

    def on_stream_result(self, result) -> Iterator[None]:
        """Each result of a subscription (or other stream), before it is sent."""
        if getattr(result, "errors", None):
            result.errors = [classify(e) for e in result.errors]
        yield
