"""The broker: how world events reach every node that has members in a world.

One interface, two implementations — in-process (`broker_memory.py`, the default) and
Redis (`broker_redis.py`, for several nodes) — tested by one shared suite. Envelopes are
small dicts (msgpack-encoded by brokers that cross a process):

    k   kind: "op" | "frame" | "presence" | "control"
    s   seq (op)                 f   the encoded frame, built once by the publisher
    o   origin session id        r   the author's rid (op)      res  per-op results (op)
    a   first stream ord of a gen.chunk (frame)                   x  "exclude origin" flag
    m   member (presence)        e   presence event: join | leave
    c   control: "deleted" | "roles" | "resync" (the broker may have lost messages: the
        room catches up with the op log) | "expired" (m: a member whose node stopped
        refreshing its presence record)

Delivery is at-most-once and ordered per world and publisher; the op log in the store is
the source of truth, so a room that sees a gap in seq fills it from there (room.py).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

Envelope = dict[str, Any]
Deliver = Callable[[str, Envelope], None]


class Broker(abc.ABC):
    """Publish/subscribe per world, plus a presence registry shared by all nodes."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    def bind(self, deliver: Deliver) -> None:
        """`deliver(world_id, envelope)` is called on the event loop for every message."""
        self._deliver = deliver

    async def start(self) -> None:  # noqa: B027 (optional hook; the memory broker needs none)
        """Connect; called once before use."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Disconnect; pending publishes may be dropped."""

    @abc.abstractmethod
    async def subscribe(self, world_id: str) -> None:
        """Receive this world's messages from now on (returns once that holds)."""

    @abc.abstractmethod
    async def unsubscribe(self, world_id: str) -> None: ...

    @abc.abstractmethod
    async def publish(self, world_id: str, envelope: Envelope) -> None:
        """Send to every node subscribed to the world, this one included."""

    @abc.abstractmethod
    async def presence_set(self, world_id: str, key: str, member: dict[str, Any]) -> None:
        """Record (or refresh) a member; it expires unless refreshed (see presence_ttl_s)."""

    @abc.abstractmethod
    async def presence_remove(self, world_id: str, key: str) -> None: ...

    @abc.abstractmethod
    async def presence_list(self, world_id: str) -> list[dict[str, Any]]:
        """Members of the world on every node, whose record has not expired."""

    @property
    def healthy(self) -> bool:
        return True
