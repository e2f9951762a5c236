"""The frame every HTTP request passes through, around its route's handler: the client's address
behind a trusted proxy, the CORS answer (a preflight, the headers of a response to a listed
origin), the request id (X-Request-Id, and every log line of the request), and every failure as
a JSON error body (server/http.py `error_answer`).

It wraps each route's handler where the route is registered (server/aiohttp_io.py
`frame_routes`), and the 404/405 answer of a request no route matches, instead of running as
aiohttp middlewares: with any middleware, aiohttp builds and runs a chain of its own for every
request (a current-app hop and one coroutine per middleware), a third of the time of a cached
catalog read beyond the plain handler's (bench/rest_catalog.py).
"""

from __future__ import annotations

from aiohttp import web

from .aiohttp_io import Frame, FramedHandler
from .config import Settings
from .cors import Cors
from .http import Handler, client_address, error_answer, request_id_of
from .proxy import TrustedProxies


def rest_frame(settings: Settings, proxies: TrustedProxies) -> Frame:
    """The frame for this configuration: `frame(handler)` is the handler inside it."""
    cors = Cors(settings)
    # Without trusted proxies (or with the PROXY protocol) the forwarded address changes nothing.
    forwarded = bool(proxies) and not settings.proxy_protocol

    def frame(handler: Handler) -> FramedHandler:
        async def framed(request: web.Request) -> web.StreamResponse:
            if forwarded:
                request = client_address(request)
            origin = request.headers.get("Origin")
            if origin is not None and request.path == "/ws":
                origin = None  # /ws checks ws_origins itself (server/cors.py)
            if origin is not None and (answer := cors.preflight(request, origin)) is not None:
                return answer
            request_id = request_id_of(request)
            try:
                response = await handler(request)
            except Exception as exc:
                response = error_answer(exc, request, request_id)
            else:
                if not response.prepared:
                    response.headers.setdefault("X-Request-Id", request_id)
            if origin is not None:
                cors.add_headers(response, origin)
            return response

        return framed

    return frame
