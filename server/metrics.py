"""Prometheus metrics of the API, and `GET /metrics` (with every worker's values under `--workers N`).

The graph layer's own instruments (statements, index, subscriptions, tool runs) are in graph/telemetry.py.
Label values are bounded: operation names are whatever clients send, so only the first `NAMES_MAX` distinct
well-formed names get a series of their own; later ones, and malformed ones, are counted as "other".
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from .settings import Settings
    from .state import AppState

logger = logging.getLogger("contextql.metrics")

# GraphQL operations take from under a millisecond (a cached read) to the resolver timeout.
_OPERATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

OPERATIONS = Counter("contextql_graphql_operations", "GraphQL operations run.", ["operation", "type"])
OPERATION_SECONDS = Histogram(
    "contextql_graphql_operation_duration_seconds", "Time from parsing an operation to its result.",
    ["operation", "type"], buckets=_OPERATION_BUCKETS,
)
ERRORS = Counter("contextql_graphql_errors", "Errors answered, by `extensions.code`.", ["code"])
RATE_LIMITED = Counter("contextql_rate_limit_refusals", "Operations refused with RATE_LIMITED.")

NAMES_MAX = 200
CODES_MAX = 64
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class BoundedLabels:
    """The first `limit` distinct values keep their name; later ones share `overflow` (thread-safe)."""

    def __init__(self, limit: int, overflow: str = "other") -> None:
        self.limit, self.overflow = limit, overflow
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self.limit:
                return self.overflow
            self._seen.add(value)
        return value


_names = BoundedLabels(NAMES_MAX)
_codes = BoundedLabels(CODES_MAX)


def operation_label(name: str | None) -> str:
    if not isinstance(name, str):  # a WebSocket client may send any JSON as operationName
        return "other" if name else "anonymous"
    if not name:
        return "anonymous"
    return _names(name) if _NAME.fullmatch(name) else "other"


# (operation, type) -> its bound series: a label lookup costs more than the increment itself. Bounded, as
# operation labels are.
_series: dict[tuple[str, str], tuple[Callable[[], None], Callable[[float], None]]] = {}


def record_operation(name: str | None, kind: str, seconds: float, codes: Iterable[str]) -> None:
    key = (operation_label(name), kind)
    series = _series.get(key)
    if series is None:
        series = _series[key] = (OPERATIONS.labels(*key).inc, OPERATION_SECONDS.labels(*key).observe)
    count, observe = series
    count()
    observe(seconds)
    for code in codes:
        ERRORS.labels(_codes(code)).inc()


class _Outbox(Collector):
    """The search-index outbox as read from the store for this scrape (the same in every worker)."""

    def __init__(self, depth: int, oldest_enqueued_us: int | None) -> None:
        self.depth, self.oldest = depth, oldest_enqueued_us

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("contextql_index_outbox_depth", "Search-index tasks waiting in the outbox.",
                                value=self.depth)
        age = 0.0 if self.oldest is None else max(0.0, time.time() - self.oldest / 1e6)
        yield GaugeMetricFamily("contextql_index_outbox_oldest_age_seconds",
                                "How long the oldest waiting search-index task has waited (0 when none).", value=age)


OUTBOX_SECONDS = 2.0  # a scrape never waits longer than this for the store


def metrics_endpoint(settings: Settings, state: AppState) -> Callable[[Request], Awaitable[Response]]:
    token = settings.metrics_token

    async def metrics(request: Request) -> Response:
        if token and not _bearer_matches(request, token):
            return JSONResponse({"error": "a valid bearer token is required"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="contextql-metrics"'})
        body = generate_latest(_registry())
        store = state.store
        if store is not None:
            try:
                depth, oldest = await asyncio.wait_for(store.index_outbox_summary(), OUTBOX_SECONDS)
            except Exception as exc:  # broad on purpose: a scrape still answers the rest when the store cannot
                logger.warning("metrics: could not read the index outbox: %s", type(exc).__name__)
            else:
                extra = CollectorRegistry()
                extra.register(_Outbox(depth, oldest))
                body += generate_latest(extra)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics


def _registry() -> CollectorRegistry:
    """This process's metrics, or every worker's when they share a PROMETHEUS_MULTIPROC_DIR."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return REGISTRY
    _forget_dead_workers(Path(folder))
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def _forget_dead_workers(folder: Path) -> None:
    """A worker that died (and that uvicorn replaced) still has its open-subscriptions gauge in the folder;
    nothing else tells prometheus-client it is gone, so a scrape does."""
    for gauge in folder.glob("gauge_live*_*.db"):
        pid = int(gauge.stem.rsplit("_", 1)[1]) if gauge.stem.rsplit("_", 1)[1].isdigit() else None
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, str(folder))
        except PermissionError:
            pass  # alive, another user's


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
