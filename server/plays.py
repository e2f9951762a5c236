"""Play counting (docs/discover.md §3): a user whose `join` of a world is accepted has played
each published card of that world, at most once per `play_window_s`. The hub calls this once
per accepted join, after the member has its snapshot; a store failure costs a play, never the join.
"""

from __future__ import annotations

import logging

from .context import Services

log = logging.getLogger("immersiverse.plays")


async def count_play(services: Services, world_id: str, user_id: str) -> None:
    try:
        await services.store.discovery.record_play(world_id, user_id, services.settings.play_window_s)
    except Exception:  # the join stands; only the count is lost
        log.warning("counting a play of world %s failed", world_id, exc_info=True)
