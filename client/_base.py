"""Connection lifecycle of a :class:`~client.session.Session`: open and authenticate, the reader
loop, reconnect with jittered exponential backoff, resume, heartbeats, close.

The request API lives in ``session.py``; this module owns the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from protocol import messages as m
from protocol import values as val
from protocol.codec import decode_server, encode_client
from protocol.codes import CloseCode
from protocol.limits import SERVER_FRAME_LIMITS
from protocol.version import PROTOCOL_VERSION

from .errors import ServerError, SessionClosed
from .telemetry import TelemetryBuffer

if TYPE_CHECKING:
    from .generation import Generation
    from .world import WorldView

log = logging.getLogger("immersiverse.client")
SDK_VERSION = "0.1.0"


def ws_url(url: str) -> str:
    """``http://h:p`` → ``ws://h:p/ws``; ``ws[s]://…`` is kept as given."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"unsupported URL scheme in {url!r} (use http, https, ws or wss)")
    path = parts.path
    if parts.scheme in ("http", "https") or not path or path == "/":
        path = path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


@dataclass(slots=True)
class Request:
    """A request waiting for its one final frame (reply or error)."""

    future: asyncio.Future[Any]
    context: Any = None


def _copy(exc: SessionClosed) -> SessionClosed:
    return SessionClosed(exc.code, exc.reason, exc.reconnect, exc.retry_after_s)


class Connection:
    def __init__(self, url: str, token: str, *, hello_in_frame: bool, reconnect: bool, max_attempts: int,
                 base_delay: float, max_delay: float, open_timeout: float, request_timeout: float | None,
                 telemetry_interval: float, telemetry_batch: int, telemetry_buffer: int,
                 token_provider: Callable[[], Awaitable[str]] | None, client_name: str,
                 proxy: str | None) -> None:
        self.url = url
        self.token = token
        self.hello_in_frame = hello_in_frame
        self.reconnect_enabled = reconnect
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.open_timeout = open_timeout
        self.request_timeout = request_timeout
        self.telemetry_interval = telemetry_interval
        self.telemetry_batch = telemetry_batch
        self.token_provider = token_provider
        self.client_name = client_name
        self.proxy = proxy
        self.welcome: m.Welcome | None = None
        self.reconnects = 0  # successful reconnects so far
        #: Callbacks for rid-less ``error`` frames (world deleted, access revoked, …).
        self.on_error: list[Callable[[ServerError], None]] = []
        self._ws: ClientConnection | None = None
        self._rids = itertools.count(1)
        self._requests: dict[int, Request | Generation] = {}
        self._views: dict[str, WorldView] = {}
        self._prefab_types: dict[str, str] = {}
        self._telemetry = TelemetryBuffer(telemetry_buffer)
        self._telemetry_wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._final: SessionClosed | None = None
        self._closing = False
        self._bye: m.Bye | None = None
        self._last_send = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # implemented in session.py
    def _on_frame(self, data: bytes) -> None: raise NotImplementedError  # noqa: E704
    async def flush_telemetry(self) -> Any: raise NotImplementedError  # noqa: E704
    async def ping(self) -> Any: raise NotImplementedError  # noqa: E704
    async def _auto_flush(self) -> None: raise NotImplementedError  # noqa: E704
    async def _join(self, view: WorldView, since_seq: int | None) -> None: raise NotImplementedError  # noqa: E704

    # -- state ----------------------------------------------------------------------------------
    @property
    def session_id(self) -> str:
        return self.welcome.session_id if self.welcome else ""

    @property
    def user_id(self) -> str:
        return self.welcome.user_id if self.welcome else ""

    @property
    def connected(self) -> bool:
        return self._connected.is_set() and self._final is None

    @property
    def closed(self) -> SessionClosed | None:
        """Why the session ended for good, or None while it lives (or reconnects)."""
        return self._final

    @property
    def telemetry_buffered(self) -> int:
        """Events recorded and not yet acked."""
        return len(self._telemetry)

    # -- opening --------------------------------------------------------------------------------
    async def _open(self) -> tuple[ClientConnection, m.Welcome]:
        headers = {} if self.hello_in_frame else {"Authorization": f"Bearer {self.token}"}
        ws = await ws_connect(self.url, additional_headers=headers, max_size=SERVER_FRAME_LIMITS.max_frame_bytes,
                              compression=None, open_timeout=self.open_timeout, proxy=self.proxy,
                              user_agent_header=f"{self.client_name}/{SDK_VERSION} (websockets)")
        try:
            if self.hello_in_frame:
                await ws.send(encode_client(m.Hello(v=PROTOCOL_VERSION, token=self.token, client=val.ClientInfo(
                    name=self.client_name[:64], version=SDK_VERSION))))
            async with asyncio.timeout(self.open_timeout):
                while True:
                    data = await ws.recv()
                    if not isinstance(data, bytes):
                        continue
                    msg = decode_server(data)
                    if isinstance(msg, m.Bye):
                        self._bye = msg
                    elif isinstance(msg, m.Welcome):
                        self._last_send = asyncio.get_running_loop().time()
                        return ws, msg
        except ConnectionClosed:
            raise self._closed_info(ws) from None
        except BaseException:
            await ws.close()
            raise

    async def _start(self) -> None:
        self._ws, self.welcome = await self._open()
        self._connected.set()
        self._reader = asyncio.create_task(self._read_loop(), name="immersiverse-reader")
        for coro in (self._heartbeat(), self._auto_flush()):
            self._tasks.add(asyncio.create_task(coro))

    def _closed_info(self, ws: ClientConnection) -> SessionClosed:
        bye, self._bye = self._bye, None
        if bye is not None:
            # docs/protocol.md §7.1: reason is the code's name, message the human detail
            return SessionClosed(bye.code, bye.message or bye.reason, bye.reconnect, bye.retry_after_s)
        code = ws.close_code if ws.close_code is not None else 1006
        return SessionClosed(code, ws.close_reason or "")

    # -- sending --------------------------------------------------------------------------------
    async def _send(self, msg: Any) -> None:
        data = encode_client(msg)
        while True:
            if self._final is not None:
                raise _copy(self._final)
            if not self._connected.is_set():
                async with asyncio.timeout(self.request_timeout):
                    await self._connected.wait()
                continue
            ws = self._ws
            assert ws is not None
            try:
                await ws.send(data)
            except ConnectionClosed:
                raise self._closed_info(ws) from None
            self._last_send = asyncio.get_running_loop().time()
            return

    # -- the reader -------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        while True:
            ws = self._ws
            assert ws is not None
            try:
                async for data in ws:
                    if isinstance(data, bytes):
                        try:
                            self._on_frame(data)
                        except Exception:  # a bug in routing must not kill the session
                            log.exception("failed to handle a server frame")
            except ConnectionClosed:
                pass
            closed = self._closed_info(ws)
            self._connection_lost(closed)
            if self._closing:
                self._finish(SessionClosed(CloseCode.NORMAL_CLOSURE, "closed by the client", reconnect=False))
                return
            if not (self.reconnect_enabled and closed.reconnect) or \
                    (closed.code == CloseCode.TOKEN_EXPIRED and self.token_provider is None):
                self._finish(closed)
                return
            log.warning("connection lost (%s); reconnecting", closed)
            if not await self._reconnect(closed):
                return

    def _connection_lost(self, closed: SessionClosed) -> None:
        """Fail everything waiting on this connection; keep what survives a reconnect."""
        self._connected.clear()
        requests, self._requests = self._requests, {}
        for req in requests.values():
            if isinstance(req, Request):
                if not req.future.done():
                    req.future.set_exception(_copy(closed))
            else:
                req._fail(_copy(closed))
        self._telemetry.failed(list(self._telemetry.inflight))
        for view in self._views.values():
            view.joined = False
            if not view._ready.is_set():
                view._error = _copy(closed)
                view._ready.set()

    def _finish(self, closed: SessionClosed) -> None:
        if self._final is not None:
            return
        self._final = closed
        self._connection_lost(closed)
        views, self._views = self._views, {}
        for view in views.values():
            view._end(None if self._closing else _copy(closed))
        self._connected.set()  # wake senders: they see _final and raise
        for task in self._tasks:
            task.cancel()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling: float = min(self.max_delay, self.base_delay * 2**attempt)  # int ** int types as Any
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if attempt == 0 and retry_after:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay

    async def _reconnect(self, closed: SessionClosed) -> bool:
        for attempt in range(self.max_attempts):
            await asyncio.sleep(self._backoff(attempt, closed.retry_after_s))
            try:
                if self.token_provider is not None:
                    self.token = await self.token_provider()
                ws, welcome = await self._open()
            except SessionClosed as exc:
                closed = exc
                if not exc.reconnect:
                    self._finish(exc)
                    return False
                continue
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                closed = SessionClosed(1006, f"reconnect failed: {exc}", reconnect=True)
                continue
            self._ws, self.welcome = ws, welcome
            self.reconnects += 1
            self._connected.set()
            log.info("reconnected as session %s (attempt %d)", welcome.session_id, attempt + 1)
            task = asyncio.create_task(self._resume())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return True
        self._finish(SessionClosed(closed.code, f"gave up after {self.max_attempts} reconnect attempts "
                                                f"({closed.reason or closed.code})", reconnect=False))
        return False

    async def _resume(self) -> None:
        """Re-join worlds from their last seq; resend unacked telemetry."""
        views = [v for v in self._views.values() if not v.left and v.seq >= 0]
        for view in views:
            view._resume = True
        results = await asyncio.gather(*(self._join(v, v.seq) for v in views), return_exceptions=True)
        for view, result in zip(views, results, strict=True):
            if isinstance(result, ServerError):  # the world is gone or no longer ours to see
                if self._views.get(view.world_id) is view:
                    del self._views[view.world_id]
                view._end(result)
            elif isinstance(result, BaseException):
                log.info("re-joining %s failed (%s); retried at the next reconnect", view.world_id, result)
        if self._telemetry.pending():
            self._telemetry_wake.set()

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            interval = float(self.welcome.heartbeat_s) if self.welcome else 15.0
            await asyncio.sleep(interval / 3)
            if self._connected.is_set() and loop.time() - self._last_send >= interval * 2 / 3:
                with contextlib.suppress(SessionClosed, ServerError, TimeoutError):
                    await self.ping()

    # -- closing --------------------------------------------------------------------------------
    async def close(self, *, flush_timeout: float = 2.0) -> None:
        """Flush telemetry (bounded by ``flush_timeout``), close with 1000, stop the tasks."""
        if not self._closing and self.connected and len(self._telemetry) and flush_timeout > 0:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(flush_timeout):
                    await self.flush_telemetry()
        self._closing = True
        if self._final is None and self._connected.is_set() and self._ws is not None:
            await self._ws.close(CloseCode.NORMAL_CLOSURE)
        elif self._reader is not None and not self._reader.done():
            self._reader.cancel()  # waiting to reconnect: stop now
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._finish(SessionClosed(CloseCode.NORMAL_CLOSURE, "closed by the client", reconnect=False))
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
