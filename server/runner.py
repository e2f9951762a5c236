"""Run the app on uvloop with graceful drain on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiohttp import web

from .app import create_app

log = logging.getLogger("immersiverse.runner")


async def _serve(settings: Any) -> None:
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           shutdown_timeout=settings.drain_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    await site.start()
    log.info("listening on http://%s:%d (WebSocket at /ws)", settings.host, settings.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining: no new connections; closing sessions (timeout %.1fs)", settings.drain_timeout_s)
    await runner.cleanup()
    log.info("stopped")


def serve(settings: Any) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; Windows has none
        asyncio.run(_serve(settings))
    else:
        uvloop.run(_serve(settings))
    return 0
