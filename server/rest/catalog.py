"""/api/v1/prefab-catalog: list, get, search — served from memory with ETags."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from persistence.catalog import PREFAB_TYPES

from ..context import SERVICES
from ..errors import not_found
from ..http import identity
from ..validate import F, paging, query

routes = web.RouteTableDef()
LIST = (F("prefab_type", "str", required=False, choices=PREFAB_TYPES), *paging(50, 100),
        F("page", "int", required=False, min=1))
SEARCH = (F("q", "str", min=1, max=100), F("prefab_type", "str", required=False, choices=PREFAB_TYPES),
          *paging(20, 50))


def _envelope(prefabs: list[dict[str, Any]], total: int, limit: int, offset: int, message: str) -> bytes:
    body = {"success": True, "prefabs": prefabs, "total_count": total, "page": offset // limit + 1,
            "page_size": limit, "message": message}
    return json.dumps(body, separators=(",", ":")).encode()


_CACHE_CONTROL = "private, max-age=0, must-revalidate"


def _respond(request: web.Request, page: tuple[bytes, str] | None, render: Callable[[], bytes] | None) -> web.Response:
    """The page (rendered once per catalog version, with its ETag), or 304 when If-None-Match
    matches."""
    if page is None:
        assert render is not None
        cache = request.app[SERVICES].catalog
        key = request.path_qs
        page = render(), cache.etag(key)
        if len(cache.pages) < 4096:  # bounded: queries are attacker-chosen
            cache.pages[key] = page
    body, etag = page
    headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL}
    inm = request.headers.get("If-None-Match")
    if inm and (etag in (tag.strip() for tag in inm.split(",")) or inm.strip() == "*"):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


def _cached(request: web.Request, render: Callable[[], bytes]) -> web.Response:
    return _respond(request, None, render)


def _hit(request: web.Request) -> web.Response | None:
    """A page already rendered for this exact query: served without re-validating it
    (only valid queries are ever rendered and cached)."""
    page = request.app[SERVICES].catalog.pages.get(request.path_qs)
    return None if page is None else _respond(request, page, None)


@routes.get("/api/v1/prefab-catalog/")
async def list_prefabs(request: web.Request) -> web.Response:
    identity(request)
    if (hit := _hit(request)) is not None:
        return hit
    q = query(request.query, LIST)
    cache = request.app[SERVICES].catalog
    limit, offset = q["limit"], q["offset"]
    if q["page"] is not None and "offset" not in request.query:
        offset = (q["page"] - 1) * limit

    def render() -> bytes:
        rows = cache.filtered(q["prefab_type"])
        return _envelope(rows[offset:offset + limit], len(rows), limit, offset,
                         f"Retrieved {len(rows[offset:offset + limit])} prefabs")
    return _cached(request, render)


async def _search(request: web.Request) -> web.Response:
    identity(request)
    if (hit := _hit(request)) is not None:
        return hit
    q = query(request.query, SEARCH)
    cache = request.app[SERVICES].catalog

    def render() -> bytes:
        rows = cache.search(q["q"], q["prefab_type"])
        page = rows[q["offset"]:q["offset"] + q["limit"]]
        return _envelope(page, len(rows), q["limit"], q["offset"], f"Found {len(rows)} prefabs")
    return _cached(request, render)


# The seed documents the search path with and without the trailing slash.
routes.get("/api/v1/prefab-catalog/search/")(_search)
routes.get("/api/v1/prefab-catalog/search")(_search)


@routes.get("/api/v1/prefab-catalog/{prefab_id}")
async def get_prefab(request: web.Request) -> web.Response:
    identity(request)
    cache = request.app[SERVICES].catalog
    prefab = cache.by_id.get(request.match_info["prefab_id"])
    if prefab is None:
        raise not_found(f"prefab {request.match_info['prefab_id']} not found")
    return _cached(request, lambda: _envelope([prefab], 1, 1, 0, "Prefab found"))
