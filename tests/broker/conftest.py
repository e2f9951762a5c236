"""Broker fixtures: `broker` is a started broker of each kind (the shared contract runs on
both); `nodes(n)` starts Redis brokers that share one Redis, as several server nodes do.

Redis tests use db 15 and a key/channel prefix unique to the test (pub/sub channels are
global across Redis databases), and delete their keys afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from server.broker import Broker, Envelope
from server.broker_memory import MemoryBroker
from server.broker_redis import RedisBroker
from tests.broker.proxy import Proxy, proxy  # noqa: F401 (proxy: a fixture)
from tests.conftest import REDIS_URL, TIMEOUT, require_service

BROKERS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


class Recorder:
    """The `deliver` callback of one node: every (world_id, envelope) in arrival order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, Envelope]] = []
        self._changed = asyncio.Event()

    def __call__(self, world_id: str, envelope: Envelope) -> None:
        self.got.append((world_id, envelope))
        self._changed.set()

    def envelopes(self, world_id: str, kind: str | None = None) -> list[Envelope]:
        return [e for w, e in self.got if w == world_id and (kind is None or e.get("k") == kind)]

    async def until(self, pred: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout):
            while not pred():
                self._changed.clear()
                await self._changed.wait()


async def eventually(pred: Callable[[], Any], timeout: float = TIMEOUT, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


def world() -> str:
    return f"w_{secrets.token_hex(6)}"


@pytest.fixture
def prefix() -> str:
    return f"ivtest:{secrets.token_hex(4)}:"


async def delete_prefix(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


NodeFactory = Callable[..., Any]


@pytest.fixture
async def nodes(prefix: str) -> AsyncIterator[NodeFactory]:
    """nodes(url=REDIS_URL, ttl=15.0) → (broker, recorder), started, closed after the test."""
    started: list[RedisBroker] = []

    async def factory(url: str = REDIS_URL, ttl: float = 15.0, node_id: str = "",
                      connect_timeout_s: float = 2.0) -> tuple[RedisBroker, Recorder]:
        require_service("Redis", 6379)
        broker = RedisBroker(url, node_id=node_id or f"n{len(started)}", presence_ttl_s=ttl,
                             prefix=prefix, connect_timeout_s=connect_timeout_s)
        recorder = Recorder()
        broker.bind(recorder)
        started.append(broker)
        await broker.start()
        return broker, recorder

    yield factory
    for broker in started:
        await broker.close()
    if started:
        await delete_prefix(prefix)


@pytest.fixture(params=BROKERS)
async def broker(request: Any, nodes: NodeFactory) -> tuple[Broker, Recorder]:
    """A started broker of each kind and the recorder it delivers to."""
    if request.param == "redis":
        return await nodes()  # type: ignore[no-any-return]
    memory, recorder = MemoryBroker(), Recorder()
    memory.bind(recorder)
    await memory.start()
    return memory, recorder


async def kill(broker: RedisBroker) -> None:
    """Stop a node as SIGKILL would: no goodbye, its presence records are left to expire."""
    broker._local.clear()  # close() would otherwise delete them
    await broker.close()
