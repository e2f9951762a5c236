"""CORS for the REST API and the WebSocket Origin allowlist (docs/operations.md, Security settings).

`cors_origins` names the web origins whose pages may call the API: a preflight (`OPTIONS` with
`Access-Control-Request-Method`) from one of them is answered 204 with the allowed methods and
headers, and every response to one of them carries `Access-Control-Allow-Origin`. Other origins
get no CORS headers (their browsers then refuse the response) and a 403 preflight. Tokens travel
in the Authorization header, never in cookies, so no credentials mode is offered.

`ws_origins`, when set, is checked on the WebSocket upgrade: a browser always sends `Origin`, so a
page from an unlisted site cannot open a socket with a token it got hold of. Clients that send no
Origin (Unity, the Python SDK) are not browsers and are let through.
"""

from __future__ import annotations

import functools

from aiohttp import web

from .config import Settings, origin_list
from .http import json_response

ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = ("authorization", "content-type", "if-none-match", "x-request-id")
EXPOSE_HEADERS = "ETag, Retry-After, X-Request-Id"
MAX_AGE_S = 600


class Origins:
    """One allowlist: `*` allows any origin; an empty list allows none."""

    def __init__(self, value: str) -> None:
        self._origins = origin_list(value)
        self.any = "*" in self._origins
        self.empty = not self._origins

    def allows(self, origin: str) -> bool:
        return self.any or origin.rstrip("/") in self._origins


class Cors:
    """The CORS answer to a request from a page (a request with an `Origin`), per `cors_origins`
    (server/frame.py asks it around every handler)."""

    def __init__(self, settings: Settings) -> None:
        self.origins = Origins(settings.cors_origins)

    def preflight(self, request: web.Request, origin: str) -> web.Response | None:
        """The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`), or None."""
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return _preflight(request, origin, self.origins.allows(origin), self.origins.any)
        return None

    def add_headers(self, response: web.StreamResponse, origin: str) -> None:
        """The CORS headers of a response to a listed origin, before it is sent."""
        if not response.prepared and self.origins.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = "*" if self.origins.any else origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            if not self.origins.any:
                response.headers.add("Vary", "Origin")


def _preflight(request: web.Request, origin: str, allowed: bool, any_origin: bool) -> web.Response:
    if not allowed:
        return json_response({"success": False, "error": "forbidden",
                              "message": "this origin may not call the API (cors_origins)"}, status=403)
    asked = [h.strip().lower() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
             if h.strip()]
    headers = {"Access-Control-Allow-Origin": "*" if any_origin else origin,
               "Access-Control-Allow-Methods": ALLOW_METHODS,
               "Access-Control-Allow-Headers": ", ".join(h for h in asked if h in ALLOW_HEADERS) or "content-type",
               "Access-Control-Max-Age": str(MAX_AGE_S)}
    if not any_origin:
        headers["Vary"] = "Origin"
    return web.Response(status=204, headers=headers)


@functools.lru_cache(maxsize=8)
def _origins(value: str) -> Origins:
    return Origins(value)


def ws_origin_allowed(settings: Settings, request: web.Request) -> bool:
    """The WebSocket upgrade's Origin check: `ws_origins` empty, no Origin header, or a listed one."""
    origins = _origins(settings.ws_origins)  # (parsed once per value, not on every upgrade)
    origin = request.headers.get("Origin")
    return origins.empty or origin is None or origins.allows(origin)
