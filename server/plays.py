"""Play counting (docs/discover.md §3): a user who enters a world has played each published
card of that world, at most once per `play_window_s`. Entering is an accepted `join` (the hub
calls `count_play` after the member has its snapshot) or a stored `world_entered` telemetry
event, the one the predecessor's Unity client sends (`count_entered`, for a world the user may
read). A store failure costs a play, never the join or the events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from persistence.errors import NotFound

from .context import Services

log = logging.getLogger("immersiverse.plays")

ENTERED = "world_entered"  # the predecessor's event type for entering a world (rest-contract.md)


async def count_play(services: Services, world_id: str, user_id: str) -> None:
    try:
        await services.store.discovery.record_play(world_id, user_id, services.settings.play_window_s)
    except Exception:  # the join stands; only the count is lost
        log.warning("counting a play of world %s failed", world_id, exc_info=True)


async def count_entered(services: Services, user_id: str, events: Iterable[tuple[str, str | None]]) -> None:
    """Count a play for each world named by a `world_entered` event among (event_type, world_id)
    pairs, once per world, when `user_id` may read it: the same access a join needs, so an
    event cannot claim a play of a world its sender could not open."""
    for world_id in sorted({w for kind, w in events if kind == ENTERED and w}):
        try:
            if await services.store.worlds.role_in(world_id, user_id) is None:
                continue
        except NotFound:
            continue
        except Exception:  # the events are stored; only the count is lost
            log.warning("checking access to world %s for a play failed", world_id, exc_info=True)
            continue
        await count_play(services, world_id, user_id)
