"""The aiohttp application: `create_app(settings)` wires the store, auth, catalog,
telemetry writer and routes; resources live in `cleanup_ctx` so tests and the CLI share
one lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from persistence.catalog import SHIPPED_CATALOG, read_catalog_file
from persistence.clock import utcnow
from persistence.db import is_sqlite, migrate_async
from persistence.errors import CatalogInvalid
from persistence.store import Store
from persistence.telemetry import TelemetryWriter

from . import maintenance
from .aiohttp_io import frame_routes
from .auth import AuthRate, LoginThrottle, Revocations, TokenService
from .broker import Broker
from .broker_memory import MemoryBroker
from .catalog import CatalogCache
from .config import Settings
from .context import SERVICES, Services
from .failures import store_outage
from .frame import rest_frame
from .genpool import GenerationWorkers, worker_count
from .http import TRUSTED_PROXIES
from .hub import Hub
from .leases import GenerationLeases
from .metrics import Metrics
from .node import NODE, Node
from .proxy import TrustedProxies
from .registry import Registry
from .rest import ROUTE_TABLES, add_routes
from .rest.worlds import MAP_CACHE, MapCache
from .ws import routes as ws_routes

log = logging.getLogger("immersiverse.app")


async def load_catalog(store: Store, catalog_file: str) -> None:
    """Load the configured catalog file, or the shipped one when this release brings a new one."""
    for attempt in range(3):
        try:
            return await _load_catalog(store, catalog_file)
        except IntegrityError:
            # Several nodes starting at once (docs/scaling.md) insert the same prefabs; the
            # loser retries, and then finds them (updates, or skips an already loaded version).
            if attempt == 2:
                raise
            log.info("catalog loaded concurrently by another node; retrying")


async def _load_catalog(store: Store, catalog_file: str) -> None:
    path = catalog_file or str(SHIPPED_CATALOG)
    version, rows, problems = read_catalog_file(path)
    if problems:
        raise CatalogInvalid(problems)
    if catalog_file:
        await store.catalog.upsert(rows, version)
        return
    shipped = shipped_catalog_label(version)
    if await store.catalog.shipped_version() != shipped:
        inserted, updated = await store.catalog.upsert(rows, shipped)
        await store.catalog.mark_shipped(shipped)
        log.info("loaded shipped catalog %s: %d new, %d updated prefabs", shipped, inserted, updated)


def shipped_catalog_label(version: str | None = None) -> str:
    """The label a store records once it has loaded this release's shipped catalog."""
    if version is None:
        version = read_catalog_file(SHIPPED_CATALOG)[0]
    return version or "shipped"


async def _background(node: Node) -> None:
    """Poll for revocations and catalog changes made by other processes."""
    services = node.services
    interval = services.settings.revocation_poll_s
    while True:
        await asyncio.sleep(interval)
        try:
            await services.revocations.refresh()
            node.registry.sweep(services.revocations.is_revoked)
            await services.catalog.refresh_if_changed()
            _sample(node)
        except Exception as exc:
            if store_outage(exc, services.settings.store_retry_after_s) is None:  # an outage: logged once
                log.warning("background refresh failed; retrying in %.1fs", interval, exc_info=True)


_PURGE_BATCH = 5000  # rows per DELETE: short transactions, so writers wait little


async def _purge_telemetry(services: Services) -> None:
    """Telemetry retention (docs/operations.md §1.2): at start and every
    `telemetry_purge_interval_s`, delete events received more than `telemetry_retention_days`
    ago, a batch per transaction. Every node may run it; deleting twice is harmless."""
    settings = services.settings
    while True:
        try:
            cutoff = utcnow() - timedelta(days=settings.telemetry_retention_days)
            total = 0
            while (n := await services.store.telemetry.purge_received_before(cutoff, _PURGE_BATCH)) > 0:
                total += n
                if n < _PURGE_BATCH:
                    break
            if total:
                log.info("telemetry retention: purged %d events received before %s", total, cutoff.isoformat())
        except Exception:
            log.warning("telemetry purge failed; retrying in %.0fs", settings.telemetry_purge_interval_s,
                        exc_info=True)
        await asyncio.sleep(settings.telemetry_purge_interval_s)


def _sample(node: Node) -> None:
    """Gauges that are read rather than counted."""
    services, metrics = node.services, node.metrics
    sizes = [s.writer.queued_bytes for s in node.registry.sessions]
    metrics.queue_bytes.set(sum(sizes))
    metrics.queue_max.set(max(sizes, default=0))
    metrics.telemetry_depth.set(services.telemetry.depth)
    if node.connections is not None:  # under `immersiverse serve` (server/connections.py)
        metrics.http_connections.set(node.connections.open)
    stats, seen = services.telemetry.stats, node.flushes_seen
    for ms in list(stats.flush_ms)[len(stats.flush_ms) - min(len(stats.flush_ms), stats.flushes - seen):]:
        metrics.telemetry_flush.observe(ms / 1000)  # the flushes since the last sample (the writer keeps 256)
    node.flushes_seen = stats.flushes
    pool = services.store.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    if checked_out is not None:
        metrics.db_pool.set(checked_out())


def _make_broker(settings: Settings) -> Broker:
    if settings.broker == "redis":
        from .broker_redis import RedisBroker

        return RedisBroker(settings.redis_url, node_id=settings.node_id,
                           presence_ttl_s=settings.presence_ttl_s)
    return MemoryBroker()


def _services_ctx(settings: Settings) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await migrate_async(settings.database_url)
        store = Store(settings.database_url, pool_size=settings.db_pool_size)
        await load_catalog(store, settings.catalog_file)
        catalog = CatalogCache(store)
        await catalog.reload()
        revocations = Revocations(store, settings.token_ttl_s)
        await revocations.load()
        writer = TelemetryWriter(store.telemetry, capacity=settings.telemetry_buffer_events,
                                 batch=settings.telemetry_batch, flush_ms=settings.telemetry_flush_ms)
        writer.start()
        services = Services(settings=settings, store=store, tokens=TokenService(settings),
                            revocations=revocations, throttle=LoginThrottle(settings.login_attempts_per_min),
                            catalog=catalog, telemetry=writer,
                            auth_rate=AuthRate(settings.auth_requests_per_ip_per_min,
                                               settings.auth_requests_per_account_per_min))
        if processes := worker_count(settings.generation_processes):
            services.gen_workers = GenerationWorkers(processes, settings.gc_gen0_threshold)
            services.gen_workers.set_catalog(catalog.version, catalog.records)
            await services.gen_workers.warm_up()
            log.info("worlds are planned in %d worker processes (generation_processes)", processes)
        metrics = Metrics()
        broker = _make_broker(settings)
        await broker.start()
        hub = Hub(services, broker, metrics)
        leases = GenerationLeases(services, hub.generation_orphaned)
        hub.generating_here = leases.running
        node = Node(services=services, metrics=metrics, broker=broker, hub=hub, registry=Registry(settings),
                    leases=leases)
        app[SERVICES] = services
        app[NODE] = node
        # Only generations whose lease expired: other nodes' running ones are left alone.
        interrupted = await leases.sweep(starting=True)
        if interrupted:
            log.warning("%d worlds were left generating by a stopped node; marked partial", len(interrupted))
        poller = asyncio.create_task(_background(node), name="background-refresh")
        tasks = [poller]
        if settings.telemetry_retention_days > 0:
            tasks.append(asyncio.create_task(_purge_telemetry(services), name="telemetry-retention"))
        tasks.append(asyncio.create_task(maintenance.run(services), name="maintenance"))
        tasks.append(asyncio.create_task(leases.run(), name="generation-leases"))
        log.info("store ready (%s), catalog %s with %d prefabs",
                 "sqlite" if is_sqlite(settings.database_url) else "postgresql",
                 catalog.version, len(catalog.prefabs))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.close()
        await broker.close()
        await writer.close()  # flush acked-pending telemetry before the store goes
        await store.close()
        if services.gen_workers is not None:
            services.gen_workers.shutdown()

    return ctx


async def drain(app: web.Application) -> None:
    """Refuse new work, tell sessions to go (1001), let them finish. The runner calls it while
    open connections are still read (docs/operations.md §2); on_shutdown calls it too (for an
    app run otherwise), where it does nothing the second time."""
    node = app[NODE]
    if node.draining:
        return
    node.draining = True
    await node.registry.drain(node.services.settings.drain_timeout_s)


def create_app(settings: Settings) -> web.Application:
    proxies = TrustedProxies.parse(settings.trusted_proxies)
    app = web.Application(client_max_size=settings.max_body_bytes)
    # No aiohttp middlewares: every request (and a 404/405) passes through one frame (server/frame.py)
    frame_routes(app, rest_frame(settings, proxies))
    app[TRUSTED_PROXIES] = proxies
    app.cleanup_ctx.append(_services_ctx(settings))
    app.on_shutdown.append(drain)
    add_routes(app.router, [*ROUTE_TABLES, ws_routes])
    app[MAP_CACHE] = MapCache()
    return app
