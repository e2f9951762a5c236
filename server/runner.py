"""Run the app on uvloop with graceful drain on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from aiohttp import web

from .app import create_app, drain
from .config import Settings
from .connections import GuardedRunner, raise_descriptor_limit
from .http import TRUSTED_PROXIES

log = logging.getLogger("immersiverse.runner")


async def _serve(settings: Settings) -> None:
    app = create_app(settings)
    fds = raise_descriptor_limit()
    # Header and keep-alive timeouts, connection caps, PROXY headers (server/connections.py).
    runner = GuardedRunner(app, settings, app[TRUSTED_PROXIES], handle_signals=False, access_log=None,
                           shutdown_timeout=settings.drain_timeout_s)
    await runner.setup()
    log.info("descriptor limit %d; at most %d connections, %s per address", fds, runner.guard.total,
             runner.guard.per_ip or "no limit")
    tune_interpreter(settings)
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True,
                       reuse_port=settings.reuse_port or None)
    await site.start()
    base = f"http://{settings.host}:{settings.port}"
    log.info("listening on %s: WebSocket at /ws, live preview at %s/preview, REST API docs at %s/docs",
             base, base, base)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining: no new connections; closing sessions (timeout %.1fs)", settings.drain_timeout_s)
    # Stop listening, then drain while open connections are still read: aiohttp's cleanup
    # stops reading every connection at once (RequestHandler.close), which would leave the
    # frames sent during the drain unanswered and drop keep-alive /ready probes
    # (docs/operations.md §2, docs/protocol.md §4.1).
    for listener in list(runner.sites):
        await listener.stop()
    await drain(app)
    await runner.cleanup()
    log.info("stopped")


def tune_interpreter(settings: Settings) -> None:
    """The interpreter as a server with CPU-bound threads needs it: the GIL handed over sooner
    (a thread waiting for the GIL waits up to the switch interval behind one that runs Python:
    the event loop behind a plan, bench/RESULTS.md, time to first instance), and the GC below."""
    if settings.gil_switch_ms > 0:
        sys.setswitchinterval(settings.gil_switch_ms / 1000)
    tune_gc(settings)


def tune_gc(settings: Settings) -> None:
    """Streaming allocates a few containers per instance; with Python's default threshold
    (700) the cyclic GC ran so often, re-scanning every long-lived object of the process,
    that it cost as much as generating the instances (bench/RESULTS.md, streaming). Start-up
    objects (modules, catalog, SQLAlchemy metadata) never become garbage: freeze them out of
    the scans, and collect the young generation every `gc_gen0_threshold` allocations."""
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()
    if settings.gc_gen0_threshold:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(settings.gc_gen0_threshold, gen1, gen2)


def serve(settings: Settings) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; Windows has none
        asyncio.run(_serve(settings))
    else:
        uvloop.run(_serve(settings))
    return 0
