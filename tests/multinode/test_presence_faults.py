"""Presence under faults, on real nodes sharing Redis (docs/scaling.md "Failures"): a
SIGKILLed node's members leave within presence_ttl_s — their records expire 5/6 of the ttl
after the last refresh and the reaper runs every ttl/6."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import msgpack
import pytest
from redis.asyncio import Redis

from tests.conftest import REDIS_URL, TIMEOUT
from tests.multinode.conftest import PRESENCE_TTL_S, connect
from tests.multinode.faults import Spawn, db_url, pg_role, spawn  # noqa: F401 (fixtures)
from tests.multinode.helpers import join, new_world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_a_killed_nodes_member_leaves_within_the_ttl(
        http: aiohttp.ClientSession, pg_role: str, spawn: Spawn) -> None:  # noqa: F811
    node_a = await spawn("a", db_url(pg_role))
    node_b = await spawn("b", db_url(pg_role))
    doomed = await connect(http, node_a, "pia")
    world_id, _ = await new_world(doomed)
    await join(doomed, world_id)
    watcher = await connect(http, node_b, "pia")
    await join(watcher, world_id)
    key, field = f"iv:p:{world_id}", doomed.welcome["session_id"]

    redis = Redis.from_url(REDIS_URL)
    try:
        # Kill node a right after it refreshed the record: the record then holds the longest
        # expiry a dead node can leave behind.
        first = msgpack.unpackb(await redis.hget(key, field))["x"]
        async with asyncio.timeout(TIMEOUT):
            while (record := msgpack.unpackb(await redis.hget(key, field)))["x"] == first:
                await asyncio.sleep(0.01)
        killed_at, killed = time.time(), time.monotonic()
        await asyncio.to_thread(node_a.kill)
        # Its expiry plus one reap period (ttl/6) is within the ttl of the kill.
        assert record["x"] + PRESENCE_TTL_S / 6 <= killed_at + PRESENCE_TTL_S, (record["x"] - killed_at)
        leave = await watcher.until(lambda f: f.get("type") == "presence" and f.get("event") == "leave")
        assert leave["member"]["session_id"] == field, leave
        print(f"presence leave {time.monotonic() - killed:.2f}s after SIGKILL (presence_ttl_s {PRESENCE_TTL_S})")
    finally:
        await redis.aclose()
