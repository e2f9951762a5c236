"""Generation leases: which node runs a world's generation, and what happens when it dies.

A node that starts a generation writes `worlds.gen_lease_until` (now + `generation_lease_s`)
with the world row, and renews it for every generation it runs every third of the lease.
Every node sweeps every third of the lease: a world still `generating` whose lease expired
(its node died, or was cut from the store longer than the lease) becomes `partial`, and the
node whose UPDATE changed it tells the world's members on every node (`gen.done` with status
`partial`, through the broker). So an orphaned generation is marked `partial` within
4/3 × `generation_lease_s` of its node's death (docs/scaling.md "Failures"). Lease times are
the nodes' clocks: keep them synchronised (NTP) well within a third of the lease.

The sweep is the takeover, and it is final: a generation writes its chunks and its end only
while its world is still `generating`, in the same UPDATE (persistence/worlds.py), so a node
that was merely cut off longer than its lease finds its next write refused (LeaseLost) and
stops, instead of turning the announced `partial` into `complete`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from persistence.clock import utcnow

from .context import Services
from .failures import store_outage

log = logging.getLogger("immersiverse.generation")


def lease_until(lease_s: float) -> datetime:
    """The end of a lease taken or renewed now."""
    return utcnow() + timedelta(seconds=lease_s)


class GenerationLeases:
    def __init__(self, services: Services, orphaned: Callable[[str], Awaitable[None]]) -> None:
        self.services = services
        self.orphaned = orphaned  # tells the world's members on every node (Hub.generation_orphaned)
        self.lease_s = services.settings.generation_lease_s
        self.running: Counter[str] = Counter()  # world id → generations of it running here

    def hold(self, world_id: str) -> None:
        self.running[world_id] += 1

    def release(self, world_id: str) -> None:
        self.running[world_id] -= 1
        if self.running[world_id] <= 0:
            del self.running[world_id]

    async def sweep(self, *, starting: bool = False) -> list[str]:
        """Mark the worlds of expired leases `partial` and announce each on its channel. A
        single process (the memory broker) that is starting owns every `generating` world
        there is: they were all left by its previous run, whatever their lease says."""
        alone = starting and self.services.settings.broker == "memory"
        worlds = await self.services.store.worlds.sweep_expired(None if alone else utcnow())
        for world_id in worlds:
            log.warning("world %s: its generation's node stopped renewing the lease; marked partial", world_id)
            await self.orphaned(world_id)
        return worlds

    async def run(self) -> None:
        """Renew this node's leases and sweep expired ones, every third of the lease."""
        worlds = self.services.store.worlds
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                if self.running:
                    await worlds.renew_leases(list(self.running), lease_until(self.lease_s))
                await self.sweep()
            except Exception as exc:
                if store_outage(exc, self.services.settings.store_retry_after_s) is None:
                    log.exception("generation leases: renew or sweep failed")
