"""Per GraphQL operation, never per field: its metrics, its span, and what the access log says about it.

Strawberry's OpenTelemetryExtension makes a span per resolved field, and merely defining `resolve` makes
Strawberry wrap every field of every operation in it, traced or not. `OperationTelemetry` keeps its parse and
validation spans, drops `resolve`, and makes the operation span current, so the graph statements and index
calls of the operation are its children (Strawberry's leaves it unattached: only its field spans had it as
parent). The document is never recorded (it may hold values); its name, type and estimated cost are.
"""

from __future__ import annotations

from collections.abc import Generator
from time import perf_counter

from graphql import GraphQLError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types.execution import ExecutionContext

from contextql.graph.telemetry import tracing
from contextql.resolvers import request_scope
from contextql.schema.errors import INTERNAL_CODE, code_of

from .metrics import record_operation

_TRACER = trace.get_tracer("contextql.graphql")
# Names and error codes an access-log line lists at most (a WebSocket may run many operations).
_SCOPE_MAX = 20


def record_metrics(ec: ExecutionContext, seconds: float) -> None:
    """Tracing off: a `finished` step of the schema's pipeline (schema/pipeline.py), no extension of its own
    (each extension and hook Strawberry runs costs per operation, even an empty one)."""
    _record(ec, seconds)


class OperationTelemetry(OpenTelemetryExtension):
    """Tracing on: the metrics, plus the operation span (current while it runs) and its parse and validate spans."""

    resolve = SchemaExtension.resolve  # type: ignore[assignment]  # not overridden: no per-field middleware

    def __init__(self, *, execution_context: ExecutionContext | None = None) -> None:
        # Not the parent's __init__: it looks the tracer up again for every operation.
        self._arg_filter = None
        self._tracer = _TRACER
        self._span_holder = {}
        if execution_context:
            self.execution_context = execution_context

    def on_operation(self) -> Generator[None, None, None]:
        start = perf_counter()
        span = self._tracer.start_span("graphql.operation", kind=SpanKind.INTERNAL)
        self._span_holder[LifecycleStep.OPERATION] = span
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            name, kind, codes = _record(self.execution_context, perf_counter() - start)
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
            if codes:
                span.set_attribute("graphql.error.codes", codes)
                if INTERNAL_CODE in codes:
                    span.set_status(Status(StatusCode.ERROR, INTERNAL_CODE))
            span.end()
            otel_context.detach(token)


def operation_options() -> dict[str, list]:
    """build_schema's arguments for this process's operation telemetry: the metrics step, or, when tracing is
    on (server/tracing.py decides first), the extension that makes spans and records the metrics too."""
    if tracing.enabled:
        return {"extensions": [OperationTelemetry], "finished": []}
    return {"extensions": [], "finished": [record_metrics]}


def _record(ec: ExecutionContext, seconds: float) -> tuple[str | None, str, list[str]]:
    """Metrics of one finished operation, and what the access log says of it."""
    name, kind = ec.operation_name, _operation_type(ec)
    if not isinstance(name, str):
        name = None  # not a name at all (graphql-core refuses the operation)
    codes = [code_of(error) for error in _errors(ec)]
    record_operation(name, kind, seconds, codes)
    scope = request_scope.current()
    if scope is not None:
        if len(scope.operations) < _SCOPE_MAX:
            scope.operations.append(name or "anonymous")
        scope.error_codes.extend(codes[:_SCOPE_MAX - len(scope.error_codes)])
    return name, kind, codes


def _operation_type(ec: ExecutionContext) -> str:
    if ec.graphql_document is None:
        return "unknown"  # it did not parse
    try:
        return ec.operation_type.value
    except Exception:  # broad on purpose: no such operation in the document; graphql-core reports it
        return "unknown"


def _errors(ec: ExecutionContext) -> list[GraphQLError]:
    if ec.result is not None and ec.result.errors:
        return list(ec.result.errors)
    return list(ec.pre_execution_errors or [])
