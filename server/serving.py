"""Run the app under uvicorn with a shutdown that first completes open subscriptions.

Uvicorn closes WebSockets (code 1012) and waits for streaming responses before the
app's lifespan shutdown runs, so an SSE stream would hold shutdown forever and WebSocket
subscribers would see a dropped socket instead of `complete`. Ending every subscription
first lets each protocol finish its streams properly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .local_admin import Channel, endpoint
from .logs import logging_config
from .settings import Settings
from .state import app_state


class GracefulServer(uvicorn.Server):
    """With `channel`, the server publishes itself to the command line of its data directory
    (server/local_admin.py) once it listens, and withdraws before it stops."""

    def __init__(self, config: uvicorn.Config, app: Starlette, channel: Channel | None = None) -> None:
        super().__init__(config)
        self.app = app
        self.channel = channel

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.channel is None or not self.started or self.should_exit:
            return
        # The bound port, not the configured one: they differ with --port 0.
        port = self.servers[0].sockets[0].getsockname()[1]
        app_state(self.app).admin_token = self.channel.open(endpoint(self.config.host, port))

    async def shutdown(self, sockets=None) -> None:
        if self.channel is not None:
            app_state(self.app).admin_token = None
            self.channel.close()
        await app_state(self.app).events.close_subscriptions(timeout=5.0)
        await super().shutdown(sockets=sockets)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every way of serving passes to uvicorn (one process, several workers, the live tests)."""
    return {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
            "timeout_graceful_shutdown": 10, "ws_ping_interval": settings.ws_ping_interval,
            "ws_ping_timeout": settings.ws_ping_interval}


def logging_options(settings: Settings) -> dict[str, Any]:
    """The server's log format in every process; the access log is ours (server/request_id.py), not uvicorn's."""
    return {"log_config": logging_config(settings.log_level, settings.log_format), "access_log": False}


def serve(app: Starlette, settings: Settings) -> None:
    config = uvicorn.Config(app, **uvicorn_options(settings), **logging_options(settings))
    GracefulServer(config, app, Channel(settings.data_dir)).run()


def serve_workers(settings: Settings, workers: int) -> None:
    """`workers` processes accepting on one socket (uvicorn's supervisor restarts one that dies).

    Each worker builds its own app, store driver and bus from the environment
    (`create_app()`), so what the command line set is handed over there first.
    """
    for name, value in (("NEO4J_URI", settings.neo4j_uri), ("GRAPH", settings.graph),
                        ("HOST", settings.host), ("PORT", settings.port)):
        if value is not None:
            os.environ[f"CONTEXTQL_{name}"] = str(value)
    # Metrics of every worker in files they share, so a scrape answered by any one of them counts all. Set
    # before the workers start (prometheus-client picks its storage at import); kept if the operator set one.
    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="contextql-metrics-")
    try:
        uvicorn.run("contextql.server.app:create_app", factory=True, workers=workers, **uvicorn_options(settings),
                    **logging_options(settings))
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
