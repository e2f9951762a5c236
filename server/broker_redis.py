"""The Redis broker: several nodes serving one world (redis-py asyncio, pub/sub).

Channels and keys (`prefix` defaults to "iv:"):

    {prefix}w:{world_id}   pub/sub channel; message = msgpack [instance, envelope]
    {prefix}p:{world_id}   presence hash; field = session key,
                           value = msgpack {"m": member, "n": node_id, "x": expiry (unix s)}

Delivery. A publish is delivered to this node's own subscribers directly (call_soon, as
`MemoryBroker` does) and sent to Redis for the others; each node drops the copies it sent
itself (by `instance`). So members on this node keep getting their worlds while Redis is
down, and no message pays a Redis round trip to reach its own node.

Subscriptions. One pub/sub connection, read by one task. `subscribe` returns once Redis
confirmed the SUBSCRIBE, so the room's seq read that follows (hub.py) misses nothing. When
the connection drops (Redis restarts, a network fault, no pong) the reader reconnects with
bounded backoff, resubscribes every active world, and then delivers a `control: resync`
envelope for each: the room fills whatever was published meanwhile from the op log
(room.py). Worlds whose publish failed get a resync published to the other nodes too.
Presence joins and leaves are recovered too (the records are made true first, then the
resync lets rooms reconcile their member lists). Generation chunks and cursor updates sent
during an outage are not (they are ephemeral or re-sent by a join); ops always are, because
the op log is the truth.

Presence. Each record carries an expiry 5/6 × `presence_ttl_s` ahead; this node re-writes
its own records every ttl/3 (so a live record is always at least ttl/2 ahead), and reaps
expired records of the worlds it serves every ttl/6. A node that dies (SIGKILL, lost network)
stops refreshing: its members' records expire within 5/6 × ttl and are reaped within one
more ttl/6, so they vanish from `presence_list` and their `presence leave` is announced within
`presence_ttl_s` — once (`control: expired`, whoever's HDEL removed it). Node clocks are
compared, so they must agree to well within ttl/2 (NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
import time
from collections import deque
from typing import Any

import msgpack
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError

from .broker import Broker, Envelope
from .tasks import TaskSet

log = logging.getLogger("immersiverse.broker.redis")

CONFIRM_TIMEOUT_S = 5.0  # a SUBSCRIBE not confirmed by then: the reconnect path takes over
PING_EVERY_S = 2.0  # pub/sub liveness: ping when idle this long ...
DEAD_AFTER_S = 6.0  # ... and call the connection dead when nothing came back for this long
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.05, 2.0
REAP_SHARE = 1 / 6  # expired presence is reaped every ttl/6; records live the rest of the ttl

_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def _unpack(data: bytes | str) -> Any:
    return msgpack.unpackb(data, raw=False)


class RedisBroker(Broker):
    def __init__(self, url: str, *, node_id: str = "", presence_ttl_s: float = 15.0,
                 prefix: str = "iv:", connect_timeout_s: float = 2.0) -> None:
        super().__init__()
        self.url = url
        self.node_id = node_id or f"{socket.gethostname()}:{os.getpid()}"
        # Unique per process even when two nodes were given the same node_id by mistake.
        self.instance = f"{self.node_id}/{secrets.token_hex(4)}"
        self.presence_ttl_s = presence_ttl_s
        self.prefix = prefix
        self.connect_timeout_s = connect_timeout_s
        self.connects = 0  # successful (re)connections of the pub/sub reader
        self._redis: Redis | None = None  # commands (publish, presence); its own pool
        self._pubsub: PubSub | None = None
        self._connected = asyncio.Event()
        self._worlds: set[str] = set()  # subscribed on this node
        self._confirm: dict[str, deque[asyncio.Future[None]]] = {}
        self._local: dict[tuple[str, str], dict[str, Any]] = {}  # presence records of this node
        self._dirty: set[str] = set()  # worlds with a publish lost since the last (re)connect
        self._removed: set[tuple[str, str]] = set()  # presence records to delete once reconnected
        self._tasks = TaskSet(log, "redis-broker")  # the reader, the presence refresher, resyncs
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------
    def _client(self, *, pubsub: bool) -> Redis:
        # Commands retry once on a fresh connection (a pooled one may predate a Redis
        # restart). The pub/sub link never retries inside redis-py: its loss must surface in
        # `_read_forever`, or the worlds it carried would not be resynced.
        retry = Retry(NoBackoff(), 0) if pubsub else Retry(ExponentialBackoff(cap=0.5, base=0.05), 2)
        return Redis.from_url(self.url, socket_connect_timeout=self.connect_timeout_s,
                              socket_timeout=self.connect_timeout_s + DEAD_AFTER_S,
                              retry=retry, health_check_interval=0,
                              client_name=f"immersiverse:{self.instance}")  # CLIENT LIST shows the node

    async def start(self) -> None:
        """Connect; waits up to `connect_timeout_s` for the pub/sub link, then keeps trying."""
        self._redis = self._client(pubsub=False)
        self._tasks.spawn(self._read_forever(), "reader")
        self._tasks.spawn(self._refresh_forever(), "presence")
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout_s)
        except TimeoutError:
            log.warning("redis broker: %s not reachable yet; serving this node alone until it is", self.url)

    async def close(self) -> None:
        self._closed = True
        await self._tasks.close()
        if self._redis is not None and self._connected.is_set() and self._local:
            # Leave no records to time out: other nodes drop these members at once.
            with contextlib.suppress(*_ERRORS):
                async with asyncio.timeout(1.0):
                    pipe = self._redis.pipeline(transaction=False)
                    for world_id, key in self._local:
                        pipe.hdel(self._presence_key(world_id), key)
                    await pipe.execute()
        self._connected.clear()
        await self._drop_pubsub()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def healthy(self) -> bool:
        return self._connected.is_set()

    def _channel(self, world_id: str) -> str:
        return f"{self.prefix}w:{world_id}"

    def _presence_key(self, world_id: str) -> str:
        return f"{self.prefix}p:{world_id}"

    # -- pub/sub --------------------------------------------------------------------------------
    async def subscribe(self, world_id: str) -> None:
        self._worlds.add(world_id)
        if not self._connected.is_set() or self._pubsub is None:
            return  # the (re)connect subscribes it and then resyncs it
        waiter = self._expect(self._channel(world_id))
        try:
            await self._pubsub.subscribe(self._channel(world_id))
            await asyncio.wait_for(asyncio.shield(waiter), CONFIRM_TIMEOUT_S)
        except _ERRORS:
            # The link is failing: the reader reconnects, resubscribes and resyncs this world.
            log.warning("redis broker: subscribe %s not confirmed; left to the reconnect", world_id)

    async def unsubscribe(self, world_id: str) -> None:
        self._worlds.discard(world_id)
        if self._connected.is_set() and self._pubsub is not None:
            with contextlib.suppress(*_ERRORS):
                await self._pubsub.unsubscribe(self._channel(world_id))

    async def publish(self, world_id: str, envelope: Envelope) -> None:
        if world_id in self._worlds and self._deliver is not None:
            asyncio.get_running_loop().call_soon(self._deliver, world_id, envelope)
        if not self._connected.is_set() or self._redis is None:
            self._dirty.add(world_id)  # other nodes learn of it through the resync
            return
        try:
            await self._redis.publish(self._channel(world_id), _pack([self.instance, envelope]))
        except _ERRORS:
            self._dirty.add(world_id)
            log.warning("redis broker: publish to %s lost; it will be resynced", world_id)

    def _expect(self, channel: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm.setdefault(channel, deque()).append(fut)
        return fut

    def _confirmed(self, channel: str) -> None:
        waiters = self._confirm.get(channel)
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                break
        if waiters is not None and not waiters:
            del self._confirm[channel]

    async def _read_forever(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self._closed:
            try:
                await self._connect_and_resubscribe()
                backoff = BACKOFF_MIN_S
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — whatever broke the link, the cure is a reconnect
                if self._connected.is_set():
                    log.warning("redis broker: connection lost (%s); reconnecting", exc)
            self._connected.clear()
            await self._drop_pubsub()
            if self._closed:
                return
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)

    async def _connect_and_resubscribe(self) -> None:
        pubsub = self._client(pubsub=True).pubsub()
        self._pubsub = pubsub
        await pubsub.connect()  # type: ignore[no-untyped-call]
        done: set[str] = set()
        # Worlds subscribed while we were connecting are picked up by the next round; the
        # connected flag is set with no await after the last check, so none is missed.
        for _ in range(100):
            missing = [w for w in self._worlds if w not in done]
            if not missing:
                break
            channels = [self._channel(w) for w in missing]
            await pubsub.subscribe(*channels)
            pending = set(channels)
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                while pending:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None:
                        continue
                    if msg["type"] == "subscribe":
                        pending.discard(_text(msg["channel"]))
                    else:
                        self._dispatch(msg)
            done.update(missing)
        self._connected.set()
        self.connects += 1
        if self.connects > 1:
            log.info("redis broker: reconnected; resubscribed %d worlds", len(self._worlds))
        self._after_connect()

    def _after_connect(self) -> None:
        self._tasks.spawn(self._resync_after_connect(), "resync")

    async def _resync_after_connect(self) -> None:
        """Fill what the link may have missed. First this node's presence is made true again
        (records of members who left meanwhile deleted, the others re-written); then every
        world it serves is resynced, here and on the other nodes: rooms fill ops from the op
        log and tell their members the presence joins and leaves they missed (room.py)."""
        if self._redis is None:
            return
        removed, self._removed = self._removed, set()
        try:
            if removed:
                pipe = self._redis.pipeline(transaction=False)
                for world_id, key in removed:
                    pipe.hdel(self._presence_key(world_id), key)
                await pipe.execute()
        except _ERRORS:
            self._removed |= removed
        await self._refresh_presence()
        if self._deliver is not None:
            for world_id in list(self._worlds):
                self._deliver(world_id, {"k": "control", "c": "resync"})
        dirty, self._dirty = self._dirty, set()
        for world_id in dirty | self._worlds | {w for w, _ in removed}:
            await self._publish_remote(world_id, {"k": "control", "c": "resync"})

    async def _publish_remote(self, world_id: str, envelope: Envelope) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.publish(self._channel(world_id), _pack([self.instance, envelope]))
        except _ERRORS:
            self._dirty.add(world_id)

    async def _read(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        last_rx = last_ping = time.monotonic()
        while not self._closed:
            msg = await pubsub.get_message(timeout=PING_EVERY_S / 2)
            now = time.monotonic()
            if msg is not None:
                last_rx = now
                if msg["type"] == "subscribe":
                    self._confirmed(_text(msg["channel"]))
                else:
                    self._dispatch(msg)
                continue
            if now - last_rx > DEAD_AFTER_S:
                raise ConnectionError(f"no reply from Redis for {DEAD_AFTER_S:.0f}s")
            if now - last_ping >= PING_EVERY_S:
                last_ping = now
                await pubsub.ping()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if msg["type"] != "message" or self._deliver is None:
            return
        world_id = _text(msg["channel"])[len(self.prefix) + 2:]
        try:
            instance, envelope = _unpack(msg["data"])
        except (ValueError, TypeError, msgpack.UnpackException):
            log.warning("redis broker: undecodable message on %s dropped", world_id)
            return
        if instance != self.instance and world_id in self._worlds:
            self._deliver(world_id, envelope)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        for waiters in self._confirm.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_exception(ConnectionError("redis pub/sub connection lost"))
                    fut.exception()  # retrieved: nobody may be waiting any more
        self._confirm.clear()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await pubsub.connection_pool.disconnect()

    # -- presence -------------------------------------------------------------------------------
    def _record(self, member: dict[str, Any]) -> bytes:
        # Expiry + one reap period = the ttl: a dead node's members leave within presence_ttl_s.
        return _pack({"m": member, "n": self.node_id, "x": time.time() + self.presence_ttl_s * (1 - REAP_SHARE)})

    async def presence_set(self, world_id: str, key: str, member: dict[str, Any]) -> None:
        self._local[(world_id, key)] = member
        self._removed.discard((world_id, key))
        if not self._connected.is_set() or self._redis is None:
            return  # written by the refresh after the reconnect
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hset(self._presence_key(world_id), key, self._record(member))
            pipe.pexpire(self._presence_key(world_id), int(self.presence_ttl_s * 2000))
            await pipe.execute()
        except _ERRORS:
            log.warning("redis broker: presence of %s in %s not written; retried by the refresh", key, world_id)

    async def presence_remove(self, world_id: str, key: str) -> None:
        self._local.pop((world_id, key), None)
        if not self._connected.is_set() or self._redis is None:
            self._removed.add((world_id, key))  # deleted (and announced) after the reconnect
            return
        try:
            await self._redis.hdel(self._presence_key(world_id), key)
        except _ERRORS:
            self._removed.add((world_id, key))

    async def presence_list(self, world_id: str) -> list[dict[str, Any]]:
        if self._connected.is_set() and self._redis is not None:
            try:
                raw = await self._redis.hgetall(self._presence_key(world_id))
            except _ERRORS:
                pass
            else:
                now = time.time()
                records = [_unpack(v) for v in raw.values()]
                return [r["m"] for r in records if r["x"] > now]
        # Redis unreachable: this node's own members are all we know.
        return [m for (w, _), m in self._local.items() if w == world_id]

    async def _refresh_forever(self) -> None:
        """Reap every ttl/6; re-write this node's records every other time (ttl/3)."""
        for tick in itertools.count(1):
            await asyncio.sleep(self.presence_ttl_s * REAP_SHARE)
            if self._connected.is_set():
                await self._refresh_presence(rewrite=tick % 2 == 0)

    async def _refresh_presence(self, *, rewrite: bool = True) -> None:
        """Re-write this node's records, then reap expired ones in the worlds it serves."""
        if self._redis is None:
            return
        try:
            if rewrite and self._local:
                pipe = self._redis.pipeline(transaction=False)
                for (world_id, key), member in list(self._local.items()):
                    pipe.hset(self._presence_key(world_id), key, self._record(member))
                    pipe.pexpire(self._presence_key(world_id), int(self.presence_ttl_s * 2000))
                await pipe.execute()
            for world_id in list(self._worlds):
                await self._reap(world_id)
        except _ERRORS:
            log.warning("redis broker: presence refresh failed; retrying", exc_info=True)

    async def _reap(self, world_id: str) -> None:
        assert self._redis is not None
        now = time.time()
        raw = await self._redis.hgetall(self._presence_key(world_id))
        for field, value in raw.items():
            record = _unpack(value)
            if record["x"] > now:
                continue
            # HDEL succeeds on exactly one node, so each dead member is announced once.
            if await self._redis.hdel(self._presence_key(world_id), field):
                log.info("redis broker: member %s of %s (node %s) expired", _text(field), world_id, record["n"])
                await self.publish(world_id, {"k": "control", "c": "expired", "m": record["m"]})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
