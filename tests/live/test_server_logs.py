"""A real `contextql serve`'s standard error: every line a JSON object, one access line per request carrying the
request id, trace id, principal, operation, status, duration and error code. The server keeps its metrics in
a PROMETHEUS_MULTIPROC_DIR, as each worker of `--workers N` does, and /metrics reads them from there."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from asyncio.subprocess import PIPE

import httpx

from .otlp_receiver import OtlpReceiver
from .servers import ROOT, free_port
from .test_metrics import parse, value


async def test_json_logs_with_request_and_trace_ids(tmp_path):
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A worker that died holding 5 subscriptions open: its gauge file stays behind (uvicorn would replace it).
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", (
        "from contextql.graph.telemetry import SUBSCRIPTIONS_OPEN; SUBSCRIPTIONS_OPEN.inc(5)"),
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    assert await dead.wait() == 0
    assert (metrics_dir / f"gauge_livesum_{dead.pid}.db").exists()
    with OtlpReceiver() as receiver:
        env = {**os.environ, "CONTEXTQL_DATA_DIR": str(tmp_path / "data"), "CONTEXTQL_PORT": str(port),
               "CONTEXTQL_HOST": "127.0.0.1", "CONTEXTQL_SEARCH": "false", "CONTEXTQL_LOG_LEVEL": "info",
               "CONTEXTQL_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
               "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "contextql.server.cli", "serve", cwd=ROOT,
                                                       env=env, stdout=PIPE, stderr=PIPE)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(300):
                    try:
                        if (await http.get("/healthz")).json().get("status") == "ok":
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                made = await http.post("/graphql", headers={"X-Request-ID": "client-7"}, json={
                    "query": 'mutation Make { createContext(input: {path: "/logged"}) { id } }'})
                again = await http.post("/graphql", json={
                    "query": 'mutation Make { createContext(input: {path: "/logged"}) { id } }'})
                scraped = parse((await http.get("/metrics")).text)
            spans = await asyncio.to_thread(receiver.wait_for, lambda spans: sum(
                s.name == "POST /graphql" for s in spans) == 2)
        finally:
            process.terminate()
            out, err = await asyncio.wait_for(process.communicate(), 30)

    assert made.headers["x-request-id"] == "client-7"
    generated = again.headers["x-request-id"]
    assert len(generated) == 32
    assert again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
    lines = [json.loads(line) for line in err.decode().splitlines()]  # every line parses
    assert out == b""
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= set(line), line
    assert any("ContextQL" in line["message"] and " on http://127.0.0.1:" in line["message"] for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "contextql.access"}
    http_traces = {s.span_id: s.trace_id for s in spans if s.name == "POST /graphql"}
    first, second = access["client-7"], access[generated]
    assert first["status"] == 200 and "error_code" not in first
    assert second["status"] == 200 and second["error_code"] == "CONFLICT"
    for line in (first, second):
        assert line["operation"] == "Make" and line["principal"] == "anonymous"
        assert line["method"] == "POST" and line["path"] == "/graphql" and line["duration_ms"] > 0
        assert line["trace_id"] in http_traces.values()
    assert first["trace_id"] != second["trace_id"]
    # Kept in files (multiprocess mode) and read back from them by /metrics.
    assert any(metrics_dir.iterdir())
    assert value(scraped, "contextql_graphql_operations_total", operation="Make", type="mutation") == 2
    assert value(scraped, "contextql_graphql_errors_total", code="CONFLICT") == 1
    assert value(scraped, "contextql_store_statement_duration_seconds_count", backend="ladybug") > 0
    assert value(scraped, "contextql_subscriptions_open") == 0  # the dead worker's 5 are forgotten
    assert not (metrics_dir / f"gauge_livesum_{dead.pid}.db").exists()
