"""The periodic store clean-up: expired revocations and idle guest accounts (issue 15, finding 12).

Both grow with use and nothing else removes them: a revocation row is useless once every token
of its session has expired, and a guest account that owns nothing and has not logged in for
`guest_idle_days` is an abandoned device id. Every node runs the job; the deletes are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from persistence.clock import utcnow

from .context import Services

log = logging.getLogger("immersiverse.maintenance")


async def purge_once(services: Services) -> tuple[int, int]:
    """(revocations, guests) deleted."""
    users = services.store.users
    revocations = await users.purge_expired_revocations()
    guests = 0
    if services.settings.guest_idle_days > 0:
        guests = await users.purge_idle_guests(utcnow() - timedelta(days=services.settings.guest_idle_days))
    if revocations or guests:
        log.info("purged %d expired revocations and %d idle guest accounts", revocations, guests)
    return revocations, guests


async def run(services: Services) -> None:
    interval = services.settings.maintenance_interval_s
    while True:
        await asyncio.sleep(interval)
        try:
            await purge_once(services)
        except Exception:  # a store hiccup: try again next time
            log.warning("maintenance failed; retrying in %.0fs", interval, exc_info=True)
