"""RedisBroker across nodes and through failures: several brokers on one Redis stand in for
several server nodes; a stoppable proxy stands in for a Redis restart as one node sees it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from server.broker_redis import RedisBroker, _unpack
from tests.broker.conftest import NodeFactory, Recorder, eventually, kill, world
from tests.broker.proxy import Proxy
from tests.conftest import TIMEOUT

pytestmark = pytest.mark.redis

ADA = {"user_id": "u1", "display_name": "Ada", "role": "owner", "session_id": "s1"}
LIN = {"user_id": "u2", "display_name": "Lin", "role": "editor", "session_id": "s2"}
KIM = {"user_id": "u3", "display_name": "Kim", "role": "viewer", "session_id": "s3"}


def resyncs(rec: Recorder, w: str) -> int:
    return sum(1 for e in rec.envelopes(w, "control") if e.get("c") == "resync")


async def test_every_node_gets_every_message_once_in_each_publishers_order(nodes: NodeFactory) -> None:
    trio = [await nodes() for _ in range(3)]
    w = world()
    for b, _ in trio:
        await b.subscribe(w)

    async def send(index: int, b: RedisBroker) -> None:
        for n in range(100):
            await b.publish(w, {"k": "frame", "f": b"", "p": index, "n": n})

    await asyncio.gather(*(send(i, b) for i, (b, _) in enumerate(trio)))
    for _, rec in trio:
        await rec.until(lambda rec=rec: len(rec.envelopes(w, "frame")) >= 300)  # type: ignore[misc]
        got = rec.envelopes(w, "frame")
        assert len(got) == 300  # own messages are not delivered a second time via Redis
        for p in range(3):
            assert [e["n"] for e in got if e["p"] == p] == list(range(100))


async def test_subscribe_returns_only_once_redis_confirmed_it(nodes: NodeFactory) -> None:
    """hub.py reads the world's seq right after subscribe(): a publish that follows must arrive."""
    (a, _), (b, rec) = await nodes(), await nodes()
    worlds = [world() for _ in range(30)]
    for w in worlds:
        await b.subscribe(w)
        await a.publish(w, {"k": "frame", "f": b"first"})
    await rec.until(lambda: all(rec.envelopes(w) for w in worlds))


async def test_presence_is_shared_by_all_nodes(nodes: NodeFactory) -> None:
    (a, _), (b, _) = await nodes(), await nodes()
    w = world()
    await a.presence_set(w, "s1", ADA)
    await b.presence_set(w, "s2", LIN)
    for node in (a, b):
        assert sorted(await node.presence_list(w), key=lambda m: m["session_id"]) == [ADA, LIN]
    await a.presence_remove(w, "s1")
    assert await b.presence_list(w) == [LIN]


async def test_a_dead_nodes_members_expire_within_the_ttl_and_are_announced_once(nodes: NodeFactory) -> None:
    ttl = 1.2  # a live record is always ttl/2 ahead: ample time to read the dead one's
    (dead, _), (b, rec_b), (c, rec_c) = await nodes(ttl=ttl), await nodes(ttl=ttl), await nodes(ttl=ttl)
    w = world()
    for node in (b, c):
        await node.subscribe(w)
    await dead.presence_set(w, "s1", ADA)
    await b.presence_set(w, "s2", LIN)
    await c.presence_set(w, "s3", KIM)
    assert len(await c.presence_list(w)) == 3
    await kill(dead)
    killed_at = time.time()
    # The bound is in the record (server/broker_redis.py): its expiry, written at its last
    # refresh before the kill, is at most 5/6 ttl later; reaping every ttl/6 makes the ttl.
    assert (await _record(b, w, "s1"))["x"] <= killed_at + ttl * 5 / 6
    async with asyncio.timeout(TIMEOUT):
        while len(await c.presence_list(w)) != 2:
            await asyncio.sleep(0.05)
    assert sorted(await c.presence_list(w), key=lambda m: m["session_id"]) == [LIN, KIM]
    for rec in (rec_b, rec_c):
        await rec.until(lambda rec=rec: bool(rec.envelopes(w, "control")))  # type: ignore[misc]
    # Two more refresh rounds on both nodes (each re-writes its own member, then reaps the
    # world): still one announcement each.
    await _rewritten(b, w, "s2", times=2)
    await _rewritten(c, w, "s3", times=2)
    for rec in (rec_b, rec_c):
        expired = [e for e in rec.envelopes(w, "control") if e.get("c") == "expired"]
        assert [e["m"] for e in expired] == [ADA]


async def test_a_live_nodes_members_are_refreshed_and_never_expire(nodes: NodeFactory) -> None:
    (a, _), (b, _) = await nodes(ttl=0.6), await nodes(ttl=0.6)
    w = world()
    await a.subscribe(w)
    await a.presence_set(w, "s1", ADA)

    async def listed() -> None:
        assert await b.presence_list(w) == [ADA]
    await _rewritten(a, w, "s1", times=6, check=listed)  # two ttls of refreshes (every ttl/3)


async def _record(node: RedisBroker, w: str, key: str) -> dict[str, Any]:
    """A presence record as stored: {"m": member, "n": node id, "x": expiry (unix time)}."""
    assert node._redis is not None
    raw = await node._redis.hget(node._presence_key(w), key)
    assert raw is not None, f"no presence record {key} in {w}"
    return _unpack(raw)  # type: ignore[no-any-return]


async def _rewritten(node: RedisBroker, w: str, key: str, times: int,
                     check: Callable[[], Awaitable[None]] | None = None) -> None:
    """Wait (bounded) until `node` has re-written its record `key` `times` times (its expiry
    moved forward); `check` runs at every look."""
    seen = {(await _record(node, w, key))["x"]}
    async with asyncio.timeout(TIMEOUT):
        while len(seen) <= times:
            if check is not None:
                await check()
            seen.add((await _record(node, w, key))["x"])
            await asyncio.sleep(0.02)


async def test_closing_a_node_removes_its_members_at_once(nodes: NodeFactory) -> None:
    (a, _), (b, _) = await nodes(), await nodes()
    w = world()
    await a.presence_set(w, "s1", ADA)
    await a.close()
    assert await b.presence_list(w) == []


async def test_after_redis_comes_back_a_node_resubscribes_and_resyncs_its_worlds(
        nodes: NodeFactory, proxy: Proxy) -> None:
    (a, _), (b, rec) = await nodes(), await nodes(url=proxy.url())
    w1, w2 = world(), world()
    for w in (w1, w2):
        await b.subscribe(w)
    assert b.healthy and b.connects == 1
    await proxy.stop()
    await eventually(lambda: not b.healthy)
    await a.publish(w1, {"k": "op", "s": 1, "f": b"lost"})  # b cannot get this one
    await proxy.start()
    await eventually(lambda: b.healthy)
    assert b.connects == 2
    # The rooms are told to catch up from the op log ...
    await rec.until(lambda: resyncs(rec, w1) == 1 and resyncs(rec, w2) == 1)
    # ... and live delivery is back on both worlds.
    await a.publish(w1, {"k": "op", "s": 2, "f": b"live"})
    await a.publish(w2, {"k": "frame", "f": b"live"})
    await rec.until(lambda: any(e.get("s") == 2 for e in rec.envelopes(w1)) and bool(rec.envelopes(w2, "frame")))
    assert [e.get("s") for e in rec.envelopes(w1, "op")] == [2]


async def test_while_redis_is_away_a_node_serves_itself_and_the_others_are_resynced_after(
        nodes: NodeFactory, proxy: Proxy) -> None:
    (a, rec_a), (b, rec_b) = await nodes(), await nodes(url=proxy.url())
    w = world()
    for node in (a, b):
        await node.subscribe(w)
    await b.presence_set(w, "s2", LIN)
    await proxy.stop()
    await eventually(lambda: not b.healthy)
    await b.publish(w, {"k": "op", "s": 1, "f": b"local"})  # returns, does not raise
    await rec_b.until(lambda: len(rec_b.envelopes(w, "op")) == 1)  # its own members still get it
    assert await b.presence_list(w) == [LIN]  # its own members, from memory
    await proxy.start()
    await eventually(lambda: b.healthy)
    # a never saw the op: b tells it to resync that world from the op log.
    await rec_a.until(lambda: resyncs(rec_a, w) == 1)
    assert rec_a.envelopes(w, "op") == []
    assert await a.presence_list(w) == [LIN]


async def test_a_node_started_before_redis_connects_when_it_appears(nodes: NodeFactory, proxy: Proxy) -> None:
    (a, _) = await nodes()
    await proxy.stop()
    b, rec = await nodes(url=proxy.url(), connect_timeout_s=0.3)
    assert not b.healthy
    w = world()
    await b.subscribe(w)  # recorded; done for real once connected
    await proxy.start()
    await eventually(lambda: b.healthy)
    await rec.until(lambda: resyncs(rec, w) == 1)
    await a.publish(w, {"k": "frame", "f": b"hello"})
    await rec.until(lambda: bool(rec.envelopes(w, "frame")))


async def test_presence_lost_with_redis_data_is_written_again(nodes: NodeFactory, proxy: Proxy) -> None:
    """A Redis restart without persistence forgets every record; live nodes restore theirs."""
    (a, _), (b, _) = await nodes(ttl=0.9), await nodes(url=proxy.url(), ttl=0.9)
    w = world()
    await b.presence_set(w, "s2", LIN)
    assert a._redis is not None
    await a._redis.delete(f"{a.prefix}p:{w}")
    assert await a.presence_list(w) == []
    async with asyncio.timeout(TIMEOUT):
        while await a.presence_list(w) != [LIN]:
            await asyncio.sleep(0.05)
    counts = Counter(m["session_id"] for m in await a.presence_list(w))
    assert counts == {"s2": 1}
