"""GET /api/v1/openapi.json (the OpenAPI 3.1 document) and GET /docs (a page listing it); no token."""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any

from aiohttp import web

from .. import openapi
from ..context import SERVICES

routes = web.RouteTableDef()


def _rendered(request: web.Request) -> dict[str, bytes]:
    return _render(request.app[SERVICES].settings)


@lru_cache(maxsize=8)
def _render(settings: Any) -> dict[str, bytes]:
    """The document and the page, built once per settings (they are frozen, hence hashable)."""
    doc = openapi.build(settings)
    return {"json": json.dumps(doc, separators=(",", ":")).encode(), "html": _page(doc).encode()}


def _page(doc: dict[str, Any]) -> str:
    rows = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            public = "" if operation.get("security") == [] else " 🔒"
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code>{public}</td>"
                        f"<td>{html.escape(operation['summary'])}</td></tr>")
    title = html.escape(doc["info"]["title"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title} {html.escape(doc['info']['version'])}</h1><p>{html.escape(doc['info']['description'])}</p>"
            "<p>Machine-readable: <a href='/api/v1/openapi.json'>/api/v1/openapi.json</a> (OpenAPI 3.1). "
            "🔒 = needs <code>Authorization: Bearer &lt;token&gt;</code>.</p>"
            f"<table>{''.join(rows)}</table></body></html>")


@routes.get("/api/v1/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_rendered(request)["json"], content_type="application/json")


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(body=_rendered(request)["html"], content_type="text/html", charset="utf-8")
