"""`/readyz` names the dependency that does not answer: here the Redis event bus, stopped for real."""

from __future__ import annotations

import httpx

from .servers import CLIENT_TIMEOUT, RedisServer, live_server


async def test_readiness_names_the_redis_bus_when_it_stops(store, workspace, tmp_path):
    redis = RedisServer(tmp_path)
    try:
        async with live_server(store, workspace, redis_url=redis.url) as server, \
                httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "checks": {"graph": "ok", "events": "ok"}}
            redis.stop()
            down = await http.get("/readyz")
            assert down.status_code == 503 and down.headers["Retry-After"].isdigit()
            body = down.json()
            assert body["status"] == "unavailable"
            assert body["checks"]["graph"] == "ok" and body["checks"]["events"] != "ok"
            assert (await http.get("/healthz")).status_code == 200  # liveness is not readiness
    finally:
        redis.stop()
