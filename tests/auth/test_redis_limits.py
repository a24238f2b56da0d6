"""Rate limits shared through Redis: two app instances count against one limit (real redis-server)."""

from __future__ import annotations

import uuid

from tests.live.conftest import redis_url  # noqa: F401 - the session's real redis-server

from .conftest import HS256_SETTINGS, client_for
from .tokens import hs256


async def test_two_instances_share_one_limit(store, workspace, redis_url):
    settings = {**HS256_SETTINGS, "redis_url": redis_url, "rate_limit_operations": 4, "rate_limit_cost": 0}
    token = hs256(sub=f"agent-{uuid.uuid4().hex}", roles=["viewer"], workspaces=[workspace])
    async with client_for(store, workspace, **settings) as first, client_for(store, workspace, **settings) as second:
        for client in (first, second, first, second):
            await client.data("{ me { id } }", token)
        response = await second.post("{ me { id } }", token)
        assert response.status_code == 429
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert (await first.error("{ me { id } }", token))["extensions"]["code"] == "RATE_LIMITED"
        # another principal is not affected
        await first.data("{ me { id } }", hs256(sub=f"other-{uuid.uuid4().hex}", workspaces=[workspace]))
