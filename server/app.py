"""The aiohttp application: `create_app(settings)` wires the store, auth, catalog,
telemetry writer and routes; resources live in `cleanup_ctx` so tests and the CLI share
one lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from persistence.catalog import SHIPPED_CATALOG, read_catalog_file
from persistence.db import is_sqlite, migrate_async
from persistence.errors import CatalogInvalid
from persistence.store import Store
from persistence.telemetry import TelemetryWriter

from .auth import LoginThrottle, Revocations, TokenService
from .catalog import CatalogCache
from .context import SERVICES, Services
from .http import error_middleware
from .rest import ROUTE_TABLES

log = logging.getLogger("immersiverse.app")


async def load_catalog(store: Store, catalog_file: str) -> None:
    """Load the configured catalog file, or the shipped one when this release brings a new one."""
    path = catalog_file or str(SHIPPED_CATALOG)
    version, rows, problems = read_catalog_file(path)
    if problems:
        raise CatalogInvalid(problems)
    if catalog_file:
        await store.catalog.upsert(rows, version)
        return
    shipped = version or "shipped"
    if await store.catalog.shipped_version() != shipped:
        inserted, updated = await store.catalog.upsert(rows, shipped)
        await store.catalog.mark_shipped(shipped)
        log.info("loaded shipped catalog %s: %d new, %d updated prefabs", shipped, inserted, updated)


async def _background(services: Services) -> None:
    """Poll for revocations and catalog changes made by other processes."""
    interval = services.settings.revocation_poll_s
    while True:
        await asyncio.sleep(interval)
        try:
            await services.revocations.refresh()
            await services.catalog.refresh_if_changed()
        except Exception:
            log.warning("background refresh failed; retrying in %.1fs", interval, exc_info=True)


def _services_ctx(settings: Any) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await migrate_async(settings.database_url)
        store = Store(settings.database_url, pool_size=settings.db_pool_size)
        await load_catalog(store, settings.catalog_file)
        interrupted = await store.worlds.mark_interrupted()
        if interrupted:
            log.warning("%d worlds were left generating by a previous process; marked partial", interrupted)
        catalog = CatalogCache(store)
        await catalog.reload()
        revocations = Revocations(store)
        await revocations.load()
        writer = TelemetryWriter(store.telemetry, capacity=settings.telemetry_buffer_events,
                                 batch=settings.telemetry_batch, flush_ms=settings.telemetry_flush_ms)
        writer.start()
        services = Services(settings=settings, store=store, tokens=TokenService(settings),
                            revocations=revocations, throttle=LoginThrottle(settings.login_attempts_per_min),
                            catalog=catalog, telemetry=writer)
        app[SERVICES] = services
        poller = asyncio.create_task(_background(services), name="background-refresh")
        log.info("store ready (%s), catalog %s with %d prefabs",
                 "sqlite" if is_sqlite(settings.database_url) else "postgresql",
                 catalog.version, len(catalog.prefabs))
        yield
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await writer.close()  # flush acked-pending telemetry before the store goes
        await store.close()

    return ctx


def create_app(settings: Any) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)
    app.cleanup_ctx.append(_services_ctx(settings))
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    return app
