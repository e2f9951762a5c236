"""Presence under faults, on real nodes sharing Redis (docs/scaling.md "Failures"): a
SIGKILLed node's members leave within presence_ttl_s — their records expire 5/6 of the ttl
after the last refresh and the reaper runs every ttl/6; joins and leaves made while a node
was cut from Redis reach every member once it is back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import msgpack
import pytest
from redis.asyncio import Redis

from tests.broker.proxy import Proxy, proxy  # noqa: F401 (proxy: a fixture)
from tests.conftest import REDIS_URL, TIMEOUT
from tests.multinode.conftest import PRESENCE_TTL_S, Node, connect
from tests.multinode.faults import Spawn, db_url, pg_role, spawn  # noqa: F401 (fixtures)
from tests.multinode.helpers import join, new_world
from tests.session.peer import Peer

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


async def test_presence_joins_and_leaves_during_a_redis_outage_reach_everyone_after_it(
        http: aiohttp.ClientSession, pg_role: str, spawn: Spawn, proxy: Proxy) -> None:  # noqa: F811
    node_a = await spawn("a", db_url(pg_role))
    node_b = await spawn("b", db_url(pg_role), redis_url=proxy.url())
    owner = await connect(http, node_a, "rita")
    world_id, _ = await new_world(owner)
    await join(owner, world_id)  # on a, connected to Redis throughout
    cut = await connect(http, node_b, "rita")
    await join(cut, world_id)  # on b, which loses Redis
    leaves_a, leaves_b = await _member(http, node_a, world_id), await _member(http, node_b, world_id)
    for peer in (owner, cut):  # both joins announced everywhere before the outage
        for other in (leaves_a, leaves_b):
            await _presence(peer, "join", other)

    await proxy.stop()
    async with asyncio.timeout(TIMEOUT):
        while (node_b.ready() or {}).get("broker") != "reconnecting":
            await asyncio.sleep(0.05)
    joins_a, joins_b = await _member(http, node_a, world_id), await _member(http, node_b, world_id)
    await leaves_a.ws.close()
    await leaves_b.ws.close()
    await _presence(owner, "leave", leaves_a)  # (same node: delivered without Redis)
    await _presence(cut, "leave", leaves_b)
    await proxy.start()

    # Each side gets the join and the leave it missed, once b is back.
    await _presence(owner, "join", joins_b)
    await _presence(owner, "leave", leaves_b)
    await _presence(cut, "join", joins_a)
    await _presence(cut, "leave", leaves_a)


async def _member(http: aiohttp.ClientSession, node: Node, world_id: str) -> Peer:
    peer = await connect(http, node, "rita")
    await join(peer, world_id)
    return peer


async def _presence(peer: Peer, event: str, about: Peer) -> None:
    """Wait until `peer` has received (now or before) the presence `event` about `about`."""
    sid = about.welcome["session_id"]

    def match(f: dict[str, Any]) -> bool:  # the joins (or leaves) of one room tick come in one frame (§7.4)
        return (f.get("type") == "presence" and f.get("event") == event
                and sid in [mm["session_id"] for mm in f.get("members", [f["member"]])])

    if not any(match(f) for f in peer.seen):
        await peer.until(match)
