"""Every use of aiohttp's private API in the server, in one module.

aiohttp is pinned to one minor version (pyproject.toml, AIOHTTP_MINOR below); upgrading it means
re-checking what this module assumes, and tests/server/test_aiohttp_io.py fails on a version or
an attribute that no longer matches. Two parts of the live core need what aiohttp has no public
API for:

1. Raw WebSocket frames (`SocketIO`, used by server/writer.py and the slow-consumer close in
   server/session.py). A broadcast's frame is built once and written as the same bytes to every
   member's transport (server/writer.py `ws_frame`), past aiohttp's `send_bytes`. This is safe
   next to aiohttp's own frames (ping, pong, close) because of one invariant: with compression
   off, aiohttp writes each of its frames with one synchronous `transport.write` — its
   `WebSocketWriter.send_frame` does not await between a frame's header and payload when the
   frame is uncompressed or a control frame — and every write here is whole frames in one call.
   On one event loop the two can then never interleave inside a frame. `SocketIO` refuses a
   socket with compression on, so the invariant is checked, not only stated.
   It also reads the connection protocol's `writing_paused` (the transport is above its
   high-water mark) and awaits the stream writer's `drain()`.

2. Connection admission (server/connections.py). `GuardedHandlerBase` exposes the private state
   of aiohttp's per-connection `RequestHandler` that the guard reads (`_waiter`: waiting for the
   next request; `_request_count`); `handler_args` is what `web.Server.__call__` passes a new
   handler (`_loop`, `_kwargs`); `HookedRunner` lets a subclass see the `web.Server` an
   `AppRunner` made (`_make_server`).

3. The request frame (server/frame.py). `frame_routes` makes the app's router a `FramedRouter`,
   which wraps each route's handler (`_handler`) when the app freezes, and the handler of the
   route aiohttp makes for a request no route matches (404, 405) when it resolves one: the
   frame runs around every handler without aiohttp middlewares.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, cast

from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_urldispatcher import MatchInfoError, UrlMappingMatchInfo

AIOHTTP_MINOR = "3.14"  # the minor version everything below was checked against (pyproject.toml pins it)


class SocketIO:
    """A prepared WebSocket's byte path, for whole frames written by this server."""

    __slots__ = ("_protocol", "_stream", "_ws", "transport")

    def __init__(self, request: web.BaseRequest, ws: web.WebSocketResponse) -> None:
        if ws.compress:
            raise ValueError("raw frames need a WebSocketResponse with compress=False (server/aiohttp_io.py)")
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("the connection closed before the socket was set up")
        self._ws = ws
        self.transport = transport
        protocol = request.protocol
        assert isinstance(protocol, BaseProtocol)
        self._protocol = protocol
        self._stream = request.writer

    @property
    def writing_paused(self) -> bool:
        """The transport holds more than its high-water mark: write nothing more now."""
        return self._protocol.writing_paused

    @property
    def closing(self) -> bool:
        """aiohttp has begun closing the socket, or the transport is closing: write nothing."""
        return self._ws.closed or self.transport.is_closing()

    def write(self, frames: bytes) -> None:
        """Whole frames, in one call (the invariant above)."""
        self.transport.write(frames)

    def writelines(self, parts: Iterable[bytes]) -> None:
        """Whole frames as parts (headers and payloads), in one call."""
        self.transport.writelines(parts)

    async def drain(self) -> None:
        """Wait until the transport is back below its high-water mark."""
        await self._stream.drain()

    def close(self) -> None:
        """Close the transport: what it holds is flushed first, to a peer that reads."""
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()


class GuardedHandlerBase(RequestHandler):
    """aiohttp's per-connection protocol, with the private state server/connections.py reads."""

    @property
    def waiting_for_request(self) -> bool:
        """Between requests (or before the first): nothing is lost by closing it."""
        waiter = self._waiter
        return waiter is not None and not waiter.done()

    @property
    def requests_started(self) -> int:
        """Requests whose head was read on this connection (a new one starts a request)."""
        return self._request_count

    @property
    def event_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop


def handler_args(server: web.Server) -> tuple[asyncio.AbstractEventLoop, dict[str, Any]]:
    """The loop and keyword arguments `web.Server` gives each new RequestHandler."""
    return server._loop, server._kwargs


class HookedRunner(web.AppRunner):
    """An AppRunner whose subclass sees (and may adapt) the web.Server it made."""

    async def _make_server(self) -> web.Server:
        return self.server_made(await super()._make_server())

    def server_made(self, server: web.Server) -> web.Server:
        return server


#: A handler inside the request frame: what aiohttp keeps as a route's handler.
FramedHandler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]
Frame = Callable[[Handler], FramedHandler]


class FramedRouter(web.UrlDispatcher):
    """aiohttp's router, every handler it resolves to inside `frame` (see `frame_routes`)."""

    frame: Frame

    def freeze(self) -> None:
        if not self.frozen:  # every route is registered by now, whoever added it
            for route in self.routes():
                route._handler = self.frame(cast(Handler, route._handler))
        super().freeze()

    async def resolve(self, request: web.Request) -> UrlMappingMatchInfo:
        match = await super().resolve(request)
        if isinstance(match, MatchInfoError):  # no route: its handler raises the 404 or 405
            match.route._handler = self.frame(cast(Handler, match.route._handler))
        return match


def frame_routes(app: web.Application, frame: Frame) -> None:
    """Run every request of `app` (a route's, and a 404/405) through `frame(handler)`."""
    router = app.router
    router.__class__ = FramedRouter
    assert isinstance(router, FramedRouter)
    router.frame = frame
