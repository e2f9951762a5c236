"""The in-process broker: one node, no network. Delivery is asynchronous (call_soon) and
ordered, like a real broker, so code that works here does not rely on re-entrancy."""

from __future__ import annotations

import asyncio
from typing import Any

from .broker import Broker, Envelope


class MemoryBroker(Broker):
    def __init__(self) -> None:
        super().__init__()
        self._subscribed: set[str] = set()
        self._presence: dict[str, dict[str, dict[str, Any]]] = {}

    async def subscribe(self, world_id: str) -> None:
        self._subscribed.add(world_id)

    async def unsubscribe(self, world_id: str) -> None:
        self._subscribed.discard(world_id)

    async def publish(self, world_id: str, envelope: Envelope) -> None:
        if world_id in self._subscribed and self._deliver is not None:
            asyncio.get_running_loop().call_soon(self._deliver, world_id, envelope)

    async def presence_set(self, world_id: str, key: str, member: dict[str, Any]) -> None:
        self._presence.setdefault(world_id, {})[key] = member

    async def presence_remove(self, world_id: str, key: str) -> None:
        members = self._presence.get(world_id)
        if members is not None:
            members.pop(key, None)
            if not members:
                del self._presence[world_id]

    async def presence_list(self, world_id: str) -> list[dict[str, Any]]:
        return list(self._presence.get(world_id, {}).values())
