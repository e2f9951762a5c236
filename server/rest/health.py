"""Liveness and readiness: no token needed."""

from __future__ import annotations

import logging

from aiohttp import web

from ..context import SERVICES
from ..failures import store_outage
from ..http import json_response
from ..node import NODE
from ..version import SERVER_VERSION

routes = web.RouteTableDef()
log = logging.getLogger(__name__)


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    return json_response({"name": "ImmersiVerse world session server", "version": SERVER_VERSION,
                          "docs": "/docs", "openapi": "/api/v1/openapi.json", "websocket": "/ws"})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "healthy", "version": SERVER_VERSION})


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        await services.store.ping()
    except Exception as exc:
        if store_outage(exc, services.settings.store_retry_after_s) is None:
            log.exception("readiness check: store unreachable")
        return json_response({"status": "unavailable", "store": "unreachable"}, status=503)
    node = request.app[NODE]
    if node.draining:
        return json_response({"status": "draining", "store": "ok"}, status=503)
    # A broker that is reconnecting is reported, not failed: the node still serves its own
    # members, and failing every node at once during a Redis restart would be an outage.
    broker = "ok" if node.broker.healthy else "reconnecting"
    return json_response({"status": "ready", "store": "ok", "broker": broker,
                          "catalog_version": services.catalog.version,
                          "prefabs": len(services.catalog.prefabs)})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this process's metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = request.app[NODE].metrics.registry
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
