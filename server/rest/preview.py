"""The browser pages: GET /preview (a live top-down view of a world, speaking the msgpack
WebSocket protocol like any client), GET /gallery (published worlds, docs/discover.md), GET /docs
(Swagger UI over /api/v1/openapi.json) and the files they load from GET /static/... — all shipped
in the package (server/static/), none from a CDN. No token: the pages log in from the browser like
any other client (docs/preview.md), and the gallery reads only public data.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from aiohttp import web

from .. import openapi
from ..config import Settings
from ..context import SERVICES
from ..errors import not_found
from ..validate import storable

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# Only these kinds of files are served; anything else under static/ is a 404.
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
                 ".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8",
                 "": "text/plain; charset=utf-8"}  # LICENSE, NOTICE

# The pages load nothing from elsewhere; the browser enforces it.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def static_file(name: str) -> Path | None:
    """The file under static/ that `name` names, or None (outside it, hidden, unknown kind)."""
    if not name or any(part.startswith(".") for part in name.split("/")):
        return None
    if "\x00" in name or not storable(name):  # no file has such a name; the OS refuses it (ValueError)
        return None
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file() or path.suffix not in CONTENT_TYPES:
        return None
    return path


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / name, headers={"Content-Type": CONTENT_TYPES[".html"], **PAGE_HEADERS})


@routes.get("/preview")
async def preview(request: web.Request) -> web.StreamResponse:
    return _page("preview.html")


@routes.get("/preview/{world_id}")
async def preview_world(request: web.Request) -> web.StreamResponse:
    return _page("preview.html")  # the page reads the world id from its own URL


@routes.get("/gallery")
async def gallery(request: web.Request) -> web.StreamResponse:
    return _page("gallery.html")  # lists public experiences (docs/discover.md §6)


@routes.get("/static/{path:.+}")
async def static(request: web.Request) -> web.StreamResponse:
    path = static_file(request.match_info["path"])
    if path is None:
        raise not_found(f"no static file {request.match_info['path']}")
    cache = "public, max-age=86400" if "/vendor/" in path.as_posix() else "no-cache"
    return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[path.suffix], "Cache-Control": cache,
                                           "X-Content-Type-Options": "nosniff"})


@lru_cache(maxsize=8)
def _docs_page(settings: Settings) -> bytes:
    """Swagger UI (rendered in the browser from /api/v1/openapi.json) above a plain route list
    rendered here from the same document, so the page is useful without JavaScript too."""
    doc = openapi.build(settings)
    rows = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            public = "" if operation.get("security") == [] else " 🔒"
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code>{public}</td>"
                        f"<td>{html.escape(operation['summary'])}</td></tr>")
    title = html.escape(doc["info"]["title"])
    shell = (STATIC_DIR / "docs.html").read_text(encoding="utf-8")
    return (shell.replace("{{title}}", title).replace("{{version}}", html.escape(doc["info"]["version"]))
            .replace("{{rows}}", "".join(rows)).encode())


@routes.get("/docs")
async def docs(request: web.Request) -> web.Response:
    return web.Response(body=_docs_page(request.app[SERVICES].settings), content_type="text/html",
                        charset="utf-8", headers=PAGE_HEADERS)
