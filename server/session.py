"""One WebSocket session: authenticate, then read frames, rate-limit, decode, dispatch.

The loop never lets an exception out: a peer's bad data becomes an `error` frame (or a
documented close), a bug in a handler becomes an `internal` error frame for that request
(logged with the session id), and only a bug in the loop itself closes with 1011.
Outbound frames go through this session's Writer; nothing here awaits another socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMessage, WSMsgType, web

from protocol import messages as m
from protocol.codec import decode_client, encode, peek_rid
from protocol.codes import CloseCode, ErrorCode
from protocol.errors import ProtocolError, bye, error_reply
from protocol.limits import Limits
from protocol.version import SUPPORTED_VERSIONS, negotiate

from .aiohttp_io import SocketIO
from .auth import AuthError, Identity
from .config import Settings
from .failures import AUTH_CLOSE_CODES, RequestRefused, loop_close, refusal
from .liveness import Due, Liveness
from .node import Node
from .ratelimit import TokenBucket
from .room import Room
from .version import SERVER_VERSION
from .writer import Writer, ws_frame

log = logging.getLogger("immersiverse.session")
RATE_STRIKES_BEFORE_CLOSE = 20  # refused frames in a row before close 4002 (docs/protocol.md §4.3)
# Decoding errors that are protocol violations (docs/protocol.md §8.1): the frame or a field's
# msgpack type is wrong, a bug in the client. invalid_value and non_finite_number are not: a
# user can type an empty prompt, a physics step can produce a NaN.
VIOLATION_CODES = frozenset(code for code in ErrorCode if code < ErrorCode.INVALID_VALUE)
# The largest valid presence frame: 256 selected ids of 64 characters (4 bytes each) and a cursor.
PRESENCE_MAX_BYTES = 72 * 1024


Handler = Callable[["Session", Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Handlers:
    """What a session does with the requests it does not answer itself (generation, telemetry,
    shared worlds: server/handlers.py), and what it does last when it ends."""

    requests: Mapping[type[m.ClientMessage], Handler]
    closed: Callable[[Session], Awaitable[None]]


def limits_for(settings: Settings) -> Limits:
    return Limits(max_frame_bytes=settings.max_frame_bytes, max_prompt_chars=settings.max_prompt_chars,
                  max_instances=settings.max_instances, max_telemetry_events=settings.telemetry_max_events,
                  max_event_data_bytes=settings.telemetry_max_event_bytes)


_ID_BYTES = 8
_ids: list[str] = []


def _session_id() -> str:
    """16 random hex digits, as `secrets.token_hex(8)` (the OS's random source), read from it
    256 ids at a time (one system call per connect was a visible share of a wave of connects)."""
    if not _ids:
        pool = os.urandom(_ID_BYTES * 256).hex()
        _ids.extend(pool[i:i + 2 * _ID_BYTES] for i in range(0, len(pool), 2 * _ID_BYTES))
    return _ids.pop()


_TABLES: dict[int, tuple[Handlers, dict[type, Handler]]] = {}


def _table(handlers: Handlers) -> dict[type, Handler]:
    """Message type → handler(session, msg): the session's own and `handlers.requests`, built
    once per Handlers (not once per connection)."""
    known = _TABLES.get(id(handlers))
    if known is None or known[0] is not handlers:
        # (looked up on the session when called: a method replaced on the class still applies)
        own: dict[type, Handler] = {m.Hello: lambda s, msg: s._on_hello(msg),
                                    m.AuthRefresh: lambda s, msg: s._on_refresh(msg),
                                    m.Ping: lambda s, msg: s._on_ping(msg), m.Cancel: lambda s, msg: s._on_cancel(msg)}
        known = _TABLES[id(handlers)] = handlers, {**own, **handlers.requests}
    return known[1]


class Session:
    def __init__(self, node: Node, ws: web.WebSocketResponse, request: web.BaseRequest, handlers: Handlers) -> None:
        s = node.services.settings
        self.node = node
        self.services = node.services
        self.settings = s
        self.ws = ws
        self.registry = node.registry
        self.hub = node.hub
        self.remote = request.remote or "unknown"
        self.io = SocketIO(request, ws)  # raw frames (server/aiohttp_io.py)
        self.id = _session_id()
        self.ident: Identity | None = None
        self.display_name = ""
        self.protocol = SUPPORTED_VERSIONS[-1]
        self.limits = limits_for(s)
        self.writer = Writer(self.io, s.send_queue_bytes, self._close_slow, on_sent=node.metrics.frame_sent)
        self.frames = TokenBucket(s.msgs_per_s, s.msgs_burst)
        self.presence_bucket = TokenBucket(s.presence_per_s, max(1.0, s.presence_per_s))
        self.generations: dict[int, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.rooms: dict[str, Room] = {}  # world id → Room; only the Room changes it (server/room.py)
        self.violations: deque[float] = deque()  # loop times of recent protocol violations
        self.hello_seen = False
        self.live = Liveness(asyncio.get_running_loop().time(), idle_s=s.idle_timeout_s, ping_s=s.heartbeat_s,
                             pong_s=s.pong_timeout_s)
        self.rate_strikes = 0
        self.frames_seen = 0
        self._closing: asyncio.Task[None] | None = None
        self.close_code: CloseCode | None = None  # the code this server closed with, if it did
        self._on_closed = handlers.closed
        self._handlers = _table(handlers)

    @property
    def transport(self) -> asyncio.Transport:
        return self.io.transport

    # -- identity ---------------------------------------------------------------------------
    @property
    def user_id(self) -> str:
        assert self.ident is not None
        return self.ident.user_id

    @property
    def public_id(self) -> str:
        """What other members see of this user (server/auth.py TokenService.public_id)."""
        return self.services.public_id(self.user_id)

    def token_problem(self, is_revoked: Callable[[str], bool]) -> CloseCode | None:
        if self.ident is None:
            return None
        if is_revoked(self.ident.session_id):
            return CloseCode.TOKEN_REVOKED
        if self.ident.expires_at <= datetime.now(UTC):
            return CloseCode.TOKEN_EXPIRED
        return None

    # -- sending ------------------------------------------------------------------------------
    def send(self, msg: m.ServerMessage) -> bool:
        return self.send_bytes(encode(msg))

    def send_bytes(self, data: bytes, frame: bytes | None = None) -> bool:
        """Queue `data`; `frame`, when given, is its WebSocket frame built once for a broadcast."""
        return self.writer.send(data, frame)

    def send_many(self, datas: list[bytes], frames: bytes | None = None) -> bool:
        """Queue several frames at once; `frames`, when given, is all of them framed (a broadcast)."""
        return self.writer.send_many(datas, frames)

    def send_error(self, code: ErrorCode, rid: int | None = None, message: str | None = None,
                   fields: Any = None, retry_after_s: float | None = None, world_id: str | None = None) -> None:
        self.hub.metrics.error_sent(code)
        self.send(error_reply(code, rid=rid, message=message, fields=fields, retry_after_s=retry_after_s,
                              world_id=world_id))

    @property
    def open(self) -> bool:
        """Not closing and the socket not closed: frames sent now may still arrive."""
        return self._closing is None and not self.ws.closed

    # -- closing ------------------------------------------------------------------------------
    def close_soon(self, code: CloseCode, *, retry_after_s: float | None = None, message: str | None = None) -> None:
        """Send `bye` (reason: the code's name; `message`: human detail), then close with
        `code`; safe to call many times and from anywhere."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close(code, retry_after_s, message))

    async def _close(self, code: CloseCode, retry_after_s: float | None, message: str | None) -> None:
        self.close_code = code
        versions = SUPPORTED_VERSIONS if code is CloseCode.UNSUPPORTED_PROTOCOL_VERSION else None
        self.writer.send(encode(bye(code, message, retry_after_s=retry_after_s, supported_versions=versions)))
        await self.writer.flush(timeout=1.0)
        await self.writer.stop()
        self.hub.metrics.closed(code)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=int(code), message=code.wire_name.encode()), 2.0)

    async def _close_slow(self) -> None:
        """The send queue overflowed: drop it and close without waiting behind it (4001).

        aiohttp's `close()` would queue its close frame behind the backlog and wait for the
        peer, which is exactly what a stalled peer never gives; so `bye` and the close frame
        are written straight to the transport at a frame boundary (the writer task is stopped
        first, and every write is whole frames), behind what the transport already holds. The
        transport is then closed, which flushes them to a peer that reads again, and aborted
        after `slow_close_grace_s` if the peer does not (docs/protocol.md §4.4).
        """
        if self._closing is not None:
            return
        self._closing = asyncio.current_task()
        self.close_code = CloseCode.SLOW_CONSUMER
        log.warning("session %s (user %s) closed as slow consumer", self.id,  # (runs in the publisher's
                    self.ident.user_id if self.ident else "-", extra={"session_id": self.id})  # context)
        self.hub.metrics.closed(CloseCode.SLOW_CONSUMER)
        await self.writer.stop()
        io = self.io
        if io.closing:
            return
        code = CloseCode.SLOW_CONSUMER
        reason = code.wire_name.encode()
        farewell = encode(bye(code, "the send queue overflowed; reconnect and resume with since_seq"))
        io.write(ws_frame(farewell) + bytes([0x88, 2 + len(reason)]) + int(code).to_bytes(2, "big") + reason)
        io.close()  # flushes what it holds first; the peer may still read it
        asyncio.get_running_loop().call_later(self.settings.slow_close_grace_s, io.abort)

    # -- the loop -------------------------------------------------------------------------------
    async def run(self, header_token: str | None) -> None:
        self.writer.start()
        try:
            if await self._authenticate(header_token):
                await self._loop()
        except Exception as exc:
            code, refused = loop_close(exc, self.settings.store_retry_after_s)  # the one table: server/failures.py
            if refused is None:
                log.exception("session %s: loop failed", self.id)
                self.close_soon(code)
            else:  # docs/protocol.md §8.3: a store outage is not a bug; reconnect later
                self.close_soon(code, retry_after_s=refused.retry_after_s, message=refused.message)
        finally:
            # aiohttp cancels the handler when the peer vanishes; the teardown must still run
            # to its end (leave rooms, free limits), so it runs as a task of its own.
            await asyncio.shield(asyncio.ensure_future(self._teardown()))

    async def _authenticate(self, header_token: str | None) -> bool:
        if header_token is not None:
            return await self._accept_token(header_token)
        msg = await self._receive(asyncio.get_running_loop().time() + self.settings.hello_timeout_s)
        if msg is None:
            self.close_soon(CloseCode.UNAUTHORIZED, message="no hello before the deadline")
            return False
        if msg.type != WSMsgType.BINARY:
            self.close_soon(CloseCode.UNAUTHORIZED, message="the first frame must be a binary hello")
            return False
        try:
            hello = decode_client(msg.data, self.limits)
        except ProtocolError as exc:
            self.close_soon(CloseCode.MESSAGE_TOO_BIG if exc.close_code else CloseCode.UNAUTHORIZED,
                            message=f"the first frame must be a valid hello ({exc.code.wire_name})")
            return False
        if not isinstance(hello, m.Hello) or hello.token is None:
            self.close_soon(CloseCode.UNAUTHORIZED, message="the first frame must be hello with a token")
            return False
        self.hello_seen = True
        if not self._negotiate(hello.v):
            return False
        return await self._accept_token(hello.token)

    def _negotiate(self, v: int) -> bool:
        version = negotiate(v)
        if version is None:
            self.close_soon(CloseCode.UNSUPPORTED_PROTOCOL_VERSION,
                            message=f"protocol version {v} is not supported")
            return False
        self.protocol = version
        return True

    async def _accept_token(self, token: str) -> bool:
        try:
            ident = self.services.authenticate(token)
        except AuthError as exc:
            self.close_soon(AUTH_CLOSE_CODES[exc.code], message=exc.message)
            return False
        display_name = await self.services.names.get(ident.user_id)  # read with the connects beside it (server/auth.py)
        if display_name is None:  # a valid token for an account that no longer exists
            self.close_soon(CloseCode.FORBIDDEN, message="this account may not use the session server")
            return False
        if self.ident is not None:  # hello replacing a header token (docs/protocol.md §3.1)
            if ident.user_id != self.ident.user_id:
                self.close_soon(CloseCode.UNAUTHORIZED, message="hello token names another user")
                return False
            self.ident = ident
            self._welcome()
            return True
        if self.registry.user_full(ident.user_id):
            self.close_soon(CloseCode.CONNECTION_LIMIT, retry_after_s=5.0,
                            message="too many connections for this user")
            return False
        self.ident = ident
        self.display_name = display_name
        self.registry.add(self)
        self._welcome()
        return True

    def _welcome(self) -> None:
        # docs/protocol.md §4.6 lists every key with its unit and what exceeding it does.
        s = self.settings
        limits = {"max_frame_bytes": s.max_frame_bytes, "msgs_per_s": s.msgs_per_s, "burst": s.msgs_burst,
                  "prompts_per_min": s.prompts_per_min, "max_generations": s.max_generations,
                  "chunk_size": s.chunk_size, "max_telemetry_events": s.telemetry_max_events,
                  "max_instances": s.max_instances, "max_prompt_chars": s.max_prompt_chars,
                  "idle_timeout_s": s.idle_timeout_s, "pong_timeout_s": s.pong_timeout_s,
                  "presence_per_s": s.presence_per_s,
                  "max_ops_per_edit": self.limits.max_ops_per_edit,
                  "max_instances_per_world": s.max_instances_per_world,
                  "max_event_data_bytes": s.telemetry_max_event_bytes, "send_queue_bytes": s.send_queue_bytes,
                  "bad_frames_before_close": s.bad_frames_before_close,
                  "bad_frames_window_s": s.bad_frames_window_s,
                  "max_connections_per_user": s.max_connections_per_user,
                  "max_generations_per_user": s.max_generations_per_user, "max_props_bytes": s.max_props_bytes}
        self.send(m.Welcome(session_id=self.id, user_id=self.user_id, server_version=SERVER_VERSION,
                            protocol=self.protocol, heartbeat_s=s.heartbeat_s, limits=limits))

    async def _receive(self, deadline: float) -> WSMessage | None:
        """The next WebSocket message, or None at `deadline` (a loop time). Pings are
        answered and pongs noted here (docs/protocol.md §4.2): they reach the liveness
        clock, never the idle one."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    msg = await self.ws.receive()
            except TimeoutError:
                return None
            if msg.type == WSMsgType.PING:
                self.live.frame(loop.time())
                with contextlib.suppress(ConnectionError):
                    await self.ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                self.live.frame(loop.time())
            else:
                if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                    self.live.message(loop.time())
                return msg

    async def _keep_alive(self) -> bool:
        """Called at the liveness deadline: ping, or close with 4000; False once closing."""
        now = asyncio.get_running_loop().time()
        due = self.live.due(now)
        if due is Due.PING:
            self.live.pinged(now)
            with contextlib.suppress(ConnectionError):
                await self.ws.ping()
        elif due is Due.IDLE:
            self.close_soon(CloseCode.IDLE_TIMEOUT, message=f"no message for {self.settings.idle_timeout_s:g} s")
            return False
        elif due is Due.NO_PONG:
            self.close_soon(CloseCode.IDLE_TIMEOUT,
                            message=f"no pong within {self.settings.pong_timeout_s:g} s of a WebSocket ping")
            return False
        return True

    async def _loop(self) -> None:
        while self._closing is None:
            msg = await self._receive(self.live.deadline())
            if msg is None:
                if not await self._keep_alive():
                    return
            elif msg.type == WSMsgType.BINARY:
                await self._receive_frame(msg.data)
            elif msg.type == WSMsgType.TEXT:
                self._bad_frame(ProtocolError(ErrorCode.BAD_FRAME, "frames must be binary msgpack"))
            elif msg.type == WSMsgType.ERROR:
                if self.ws.close_code == CloseCode.MESSAGE_TOO_BIG:
                    self.hub.metrics.closed(CloseCode.MESSAGE_TOO_BIG)
                return
            else:  # CLOSE, CLOSING, CLOSED
                return

    async def _receive_frame(self, data: bytes) -> None:
        self.frames_seen += 1
        self.hub.metrics.frame_received(len(data))
        if not self.frames.take():
            if self._is_presence(data):
                return  # docs/protocol.md §4.3: over-limit presence is dropped, never a strike
            self.rate_strikes += 1
            if self.rate_strikes >= RATE_STRIKES_BEFORE_CLOSE:
                self.close_soon(CloseCode.RATE_LIMITED, retry_after_s=5.0)
            else:
                # docs/protocol.md §4.1: a refused request still gets its one final frame, so the
                # error carries the frame's rid when it had one.
                self.send_error(ErrorCode.RATE_LIMITED, peek_rid(data, self.limits),
                                retry_after_s=round(self.frames.retry_after(), 3))
            return
        self.rate_strikes = 0
        try:
            msg = decode_client(data, self.limits)
        except ProtocolError as exc:
            self._bad_frame(exc)
            return
        self.hub.metrics.message_received(msg.TYPE, len(data))
        await self.dispatch(msg)

    def _is_presence(self, data: bytes) -> bool:
        if len(data) > PRESENCE_MAX_BYTES:  # an over-limit flood of big frames is not decoded
            return False
        try:
            return isinstance(decode_client(data, self.limits), m.Presence)
        except ProtocolError:
            return False

    def _bad_frame(self, exc: ProtocolError) -> None:
        self.hub.metrics.error_sent(exc.code)
        self.send(exc.reply())
        if exc.close_code is not None:
            self.close_soon(exc.close_code)
            return
        if exc.code not in VIOLATION_CODES:
            return
        # docs/protocol.md §8.1: the budget is bad_frames_before_close violations within any
        # bad_frames_window_s seconds.
        now = asyncio.get_running_loop().time()
        window = self.violations
        window.append(now)
        while window and window[0] <= now - self.settings.bad_frames_window_s:
            window.popleft()
        if len(window) >= self.settings.bad_frames_before_close:
            self.close_soon(CloseCode.PROTOCOL_VIOLATION,
                            message=f"{len(window)} malformed frames within {self.settings.bad_frames_window_s:g} s")

    async def dispatch(self, msg: m.ClientMessage) -> None:
        """Run the message's handler; every failure is answered with an error frame."""
        rid = getattr(msg, "rid", None)
        try:
            await self._handlers[type(msg)](self, msg)
        except ProtocolError as exc:
            self._bad_frame(exc)
        except Exception as exc:
            refused = refusal(exc, self.settings.store_retry_after_s)  # the one table: server/failures.py
            if refused is not None:
                self.send_error(refused.code, rid, refused.message, refused.fields, refused.retry_after_s)
                return
            log.exception("session %s: handler for %s failed (rid %s)", self.id, msg.TYPE, rid)
            self.send_error(ErrorCode.INTERNAL, rid)

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{name}:{self.id}")
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("session %s: task %s failed", self.id, task.get_name(), exc_info=task.exception())

    async def _teardown(self) -> None:
        # Generations stop at their next chunk boundary (cancel event) rather than by task
        # cancellation, so no store write is interrupted half-way; telemetry acks in flight
        # are let finish: their events are being stored anyway.
        for _, cancel in list(self.generations.values()):
            cancel.set()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5.0)
        for task in list(self.tasks):
            task.cancel()
        await self._on_closed(self)
        self.registry.remove(self)
        if self._closing is not None and self._closing is not asyncio.current_task():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._closing), 3.0)
        await self.writer.stop()

    # -- handlers: connection -------------------------------------------------------------------
    async def _on_hello(self, msg: m.Hello) -> None:
        # docs/protocol.md §3.3: hello may come once, as the first frame, also with a header
        # token (version negotiation); any later hello is an error.
        if self.hello_seen or self.frames_seen != 1:
            raise RequestRefused(ErrorCode.ALREADY_AUTHENTICATED, "hello is only valid as the first frame")
        self.hello_seen = True
        if not self._negotiate(msg.v):
            return
        if msg.token is not None:
            await self._accept_token(msg.token)  # the hello token wins over the header's
        else:
            self._welcome()

    async def _on_ping(self, msg: m.Ping) -> None:
        self.send(m.Pong(rid=msg.rid, server_time=datetime.now(UTC).timestamp()))

    async def _on_refresh(self, msg: m.AuthRefresh) -> None:
        ident = self.services.authenticate(msg.token)  # AuthError: invalid_token (server/failures.py)
        if ident.user_id != self.user_id:
            raise RequestRefused(ErrorCode.FORBIDDEN, "the new token names another user")
        self.ident = ident
        self.send(m.AuthOk(rid=msg.rid, user_id=ident.user_id, expires_at=ident.expires_at.timestamp()))

    async def _on_cancel(self, msg: m.Cancel) -> None:
        entry = self.generations.get(msg.target)
        if entry is None:
            raise RequestRefused(ErrorCode.UNKNOWN_REQUEST, f"no generation with rid {msg.target} is running")
        task, cancel = entry
        cancel.set()
        # docs/protocol.md §7.2: gen.done {status: cancelled} first, then `cancelled`.
        self.spawn(self._confirm_cancel(task, msg), "cancel")

    async def _confirm_cancel(self, task: asyncio.Task[None], msg: m.Cancel) -> None:
        await asyncio.wait([task])
        self.send(m.Cancelled(rid=msg.rid, target=msg.target))
