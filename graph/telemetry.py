"""Instruments shared by every layer: Prometheus metrics of the graph, the index, events and tools, and the
OpenTelemetry spans of each graph statement and index call.

The metrics are plain prometheus-client objects: with PROMETHEUS_MULTIPROC_DIR set before this module is
first imported (server/serving.py does so for `--workers N`), their values live in files every worker
shares. Spans are made only once server/tracing.py installed an exporting tracer provider
(`tracing.enabled`): until then a statement costs one histogram observation and no span (no context copy,
no name parsing).
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from time import perf_counter
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

T = TypeVar("T")


class _Switch:
    """Whether spans are exported; flipped once, at start-up, by server/tracing.py."""

    enabled = False


tracing = _Switch()
tracer = trace.get_tracer("contextql")

# Statements are mostly sub-millisecond on the embedded store, tens of ms on a remote Neo4j.
_STATEMENT_BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

STATEMENT_SECONDS = Histogram(
    "contextql_store_statement_duration_seconds", "Statements sent to the graph engine and how long each took.",
    ["backend"], buckets=_STATEMENT_BUCKETS,
)
STATEMENT_ERRORS = Counter("contextql_store_statement_errors", "Graph statements that raised.", ["backend"])
INDEX_APPLIED = Counter("contextql_index_applied", "Outbox tasks applied to the search index.")
INDEX_FAILURES = Counter("contextql_index_failures", "Outbox tasks whose index refresh failed (retried later).")
SUBSCRIPTIONS_OPEN = Gauge("contextql_subscriptions_open", "Open event subscriptions (WebSocket and SSE).",
                           multiprocess_mode="livesum")
EVENTS_DROPPED = Counter("contextql_subscription_events_dropped",
                         "Events a slow or disconnected subscriber lost (it was told with EventsDropped).")
TOOL_RUNS = Counter("contextql_tool_runs", "Tool executions by final status.", ["status"])


class Backend:
    """A graph backend's pre-bound instruments (label lookups happen once, not per statement)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.observe = STATEMENT_SECONDS.labels(name).observe
        self.errors = STATEMENT_ERRORS.labels(name)


LADYBUG = Backend("ladybug")
NEO4J = Backend("neo4j")


class statement:  # lower case: used as `with statement(...)`, like a function
    """Time one graph statement (and span it when tracing is on). Never records its parameters."""

    __slots__ = ("_backend", "_query", "_span", "_start")

    def __init__(self, backend: Backend, query: str) -> None:
        self._backend, self._query = backend, query

    def __enter__(self) -> None:
        self._span: Span | None = _statement_span(self._backend.name, self._query) if _traced() else None
        self._start = perf_counter()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._backend.observe(perf_counter() - self._start)
        if error is not None:
            self._backend.errors.inc()
        if self._span is not None:
            if error is not None:
                self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            self._span.end()


def _statement_span(system: str, query: str) -> Span:
    operation, summary = statement_name(query)
    return tracer.start_span(summary, kind=SpanKind.CLIENT, attributes={
        "db.system": system, "db.system.name": system, "db.operation.name": operation, "db.query.summary": summary,
    })


_KEYWORD = re.compile(r"\s*([A-Za-z]+)")
_LABEL = re.compile(r"\(\s*\w*\s*:\s*`?([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=1024)
def statement_name(query: str) -> tuple[str, str]:
    """(first keyword, a short summary like `MATCH Context`) of a statement: its shape, never its values."""
    keyword = _KEYWORD.match(query)
    operation = keyword.group(1).upper() if keyword else "STATEMENT"
    label = _LABEL.search(query)
    return operation, f"{operation} {label.group(1)}" if label else operation


def _traced() -> bool:
    """Spans are made only inside a traced operation: a background poll (the outbox worker's claim every
    250 ms, a checkpoint) would otherwise start a trace of its own each time."""
    return tracing.enabled and trace.get_current_span().get_span_context().is_valid


def in_context(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn`, run in a copy of the caller's context when tracing: a worker thread's spans then have the caller's
    span as parent (run_in_executor does not carry contextvars, unlike asyncio.to_thread)."""
    if not tracing.enabled:
        return fn
    return functools.partial(contextvars.copy_context().run, fn)


def span(name: str, **attributes: Any) -> Any:
    """A span around a block when tracing, else a do-nothing context manager."""
    if not _traced():
        return _NOTHING
    return tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


# The outbox worker's batches are traces of their own, linked to the writes that queued their tasks. Which
# write queued a task is known in this process only (the task record does not carry it), so a batch run by
# another process, or after a restart, has no links. Bounded: the oldest entries go first.
_QUEUED_BY: OrderedDict[str, SpanContext] = OrderedDict()
_QUEUED_MAX = 10_000


def remember_queued(context_ids: Iterable[str]) -> None:
    """Note the current span as the write that queued index tasks for these contexts."""
    if not tracing.enabled:
        return
    queued_by = trace.get_current_span().get_span_context()
    if not queued_by.is_valid:
        return
    for context_id in context_ids:
        _QUEUED_BY[context_id] = queued_by
        _QUEUED_BY.move_to_end(context_id)
    while len(_QUEUED_BY) > _QUEUED_MAX:
        _QUEUED_BY.popitem(last=False)


def batch_span(name: str, context_ids: Sequence[str], **attributes: Any) -> Any:
    """A new trace (no parent) for one batch of background work, linked to the writes that queued it."""
    if not tracing.enabled:
        return _NOTHING
    links, seen = [], set()
    for context_id in context_ids:
        queued_by = _QUEUED_BY.pop(context_id, None)
        if queued_by is not None and queued_by.span_id not in seen:
            seen.add(queued_by.span_id)
            links.append(Link(queued_by))
    return tracer.start_as_current_span(name, context=Context(), kind=SpanKind.CONSUMER, links=links,
                                        attributes=attributes)


class _Nothing:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NOTHING = _Nothing()
