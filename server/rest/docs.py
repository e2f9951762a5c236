"""GET /api/v1/openapi.json (the OpenAPI 3.1 document); no token. The /docs page that renders it
(Swagger UI, shipped in server/static) is served by rest/preview.py."""

from __future__ import annotations

import json
from functools import lru_cache

from aiohttp import web

from .. import openapi
from ..config import Settings
from ..context import SERVICES

routes = web.RouteTableDef()


@lru_cache(maxsize=8)
def _render(settings: Settings) -> bytes:
    """The document, built once per settings (they are frozen, hence hashable)."""
    return json.dumps(openapi.build(settings), separators=(",", ":")).encode()


@routes.get("/api/v1/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_render(request.app[SERVICES].settings), content_type="application/json")
