"""The session: one WebSocket, one reader task demultiplexing frames, automatic reconnect.

``async with connect(url, token) as s:`` — see docs/client.md. Requests get a fresh ``rid``
and wait for their final frame; the reader routes frames by ``rid`` to waiting requests and by
``world_id`` to joined :class:`~client.world.WorldView` objects. On a close that allows it
(:func:`protocol.codes.should_reconnect`) the reader reconnects with jittered exponential
backoff, re-authenticates, re-joins worlds from their last ``seq`` and resends unacked telemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

import msgpack

from protocol import messages as m
from protocol import values as val
from protocol.codec import decode_server
from protocol.errors import ProtocolError

from ._base import Connection, Request, ws_url
from .errors import ServerError, SessionClosed
from .generation import Generation
from .telemetry import FlushResult
from .world import WorldView

__all__ = ["Session", "connect"]

log = logging.getLogger("immersiverse.client")
MAX_RID = 2**31 - 1


class Session(Connection):
    """A connected session. Build it with :func:`connect`."""

    # -- requests -------------------------------------------------------------------------------
    def _next_rid(self) -> int:
        while True:
            rid = next(self._rids)
            if rid > MAX_RID:
                self._rids = itertools.count(1)
                continue
            if rid not in self._requests:
                return rid

    async def _request(self, msg: Any, context: Any = None) -> Any:
        req = Request(asyncio.get_running_loop().create_future(), context)
        self._requests[msg.rid] = req
        try:
            await self._send(msg)
            async with asyncio.timeout(self.request_timeout):
                return await req.future
        finally:
            if self._requests.get(msg.rid) is req:
                del self._requests[msg.rid]

    async def ping(self) -> m.Pong:
        """Round trip to the server; ``pong.server_time`` is the server's clock."""
        return await self._request(m.Ping(rid=self._next_rid()))  # type: ignore[no-any-return]

    async def refresh(self, token: str) -> m.AuthOk:
        """Replace the session's token in place (``auth.refresh``); later reconnects use it."""
        ok = await self._request(m.AuthRefresh(rid=self._next_rid(), token=token))
        self.token = token
        return ok  # type: ignore[no-any-return]

    def generate(self, prompt: str, *, world_type: str | None = None, seed: int | None = None,
                 max_instances: int | None = None, room: bool = True) -> Generation:
        """A :class:`~client.generation.Generation` to iterate (sends the prompt on first use)."""
        return Generation(self, m.Prompt(rid=self._next_rid(), prompt=prompt, world_type=world_type,  # type: ignore[arg-type]
                                         seed=seed, max_instances=max_instances, room=room))

    async def _start_generation(self, gen: Generation) -> None:
        self._requests[gen.rid] = gen
        try:
            await self._send(gen.msg)
        except BaseException:
            self._requests.pop(gen.rid, None)
            raise

    async def cancel(self, rid: int) -> m.Cancelled:
        """Cancel this session's generation ``rid``; returns ``cancelled`` (after its gen.done)."""
        return await self._request(m.Cancel(rid=self._next_rid(), target=rid))  # type: ignore[no-any-return]

    # -- worlds ---------------------------------------------------------------------------------
    async def join(self, world_id: str, since_seq: int | None = None) -> WorldView:
        """Join ``world_id``; returns once the view holds the world as of ``joined.seq``."""
        view = self._views.get(world_id)
        fresh = view is None
        if view is None:
            view = self._views[world_id] = WorldView(self, world_id)
        view.left = False
        try:
            await self._join(view, since_seq if since_seq is not None else (view.seq if view.seq >= 0 else None))
        except BaseException:
            if fresh and self._views.get(world_id) is view:
                del self._views[world_id]
            raise
        return view

    async def _join(self, view: WorldView, since_seq: int | None) -> None:
        view._ready.clear()
        view._error = None
        await self._request(m.Join(rid=self._next_rid(), world_id=view.world_id, since_seq=since_seq))
        await view._ready.wait()
        if view._error is not None:
            raise view._error

    async def _leave(self, view: WorldView) -> None:
        view.left = True
        try:
            await self._request(m.Leave(rid=self._next_rid(), world_id=view.world_id))
        finally:
            if self._views.get(view.world_id) is view:
                del self._views[view.world_id]
            view._end()

    async def _edit(self, view: WorldView, ops: list[val.EditOp]) -> m.EditAck:
        msg = m.Edit(rid=self._next_rid(), world_id=view.world_id, ops=tuple(ops))
        return await self._request(msg, context=ops)  # type: ignore[no-any-return]

    def _prefab_type(self, prefab_id: str) -> str:
        return self._prefab_types.get(prefab_id, "")

    # -- telemetry ------------------------------------------------------------------------------
    def telemetry(self, event_type: str, data: Mapping[str, Any] | None = None, *,
                  world_id: str | None = None, experience_id: str | None = None,
                  ts: float | None = None, event_id: str | None = None) -> str:
        """Buffer one event (sent in the background, or by :meth:`flush_telemetry`); its id."""
        event_id = self._telemetry.add(event_type, data, world_id=world_id, experience_id=experience_id,
                                       ts=ts, event_id=event_id)
        if self._telemetry.pending() >= self._batch_limit():
            self._telemetry_wake.set()
        return event_id

    def _batch_limit(self) -> int:
        limit = self.welcome.limits.get("max_telemetry_events", 500) if self.welcome else 500
        return max(1, min(int(limit), self.telemetry_batch))

    async def flush_telemetry(self) -> FlushResult:
        """Send every buffered event and wait for the acks; survives reconnects (events without
        an ack are resent after one). Raises ServerError when the server refuses a batch."""
        result = FlushResult()
        async with self._flush_lock:
            while self._telemetry.pending():
                batch = self._telemetry.take(self._batch_limit())
                ids = [e.id for e in batch]
                try:
                    ack = await self._request(m.Telemetry(rid=self._next_rid(), events=tuple(batch)))
                except SessionClosed as exc:
                    self._telemetry.failed(ids)
                    if not exc.reconnect or self._final is not None:
                        raise
                    continue  # the next _send waits for the reconnect
                except BaseException:
                    self._telemetry.failed(ids)
                    raise
                rejected = [r["id"] for r in ack.rejected]
                self._telemetry.acked(list(ack.ids), rejected)
                result.acked.extend(ack.ids)
                result.duplicates.extend(ack.duplicates)
                result.rejected.extend(dict(r) for r in ack.rejected)
                missing = set(ids).difference(ack.ids, rejected)
                if missing:  # not answered at all: keep them, try again at the next flush
                    self._telemetry.failed(list(missing))
                    break
        return result

    async def _auto_flush(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.telemetry_interval):
                    await self._telemetry_wake.wait()
            self._telemetry_wake.clear()
            if self._telemetry.pending() and self._connected.is_set():
                try:
                    await self.flush_telemetry()
                except (ServerError, SessionClosed, TimeoutError) as exc:
                    log.info("telemetry flush failed, will retry: %s", exc)

    # -- reader -----------------------------------------------------------------------------------
    def _on_frame(self, data: bytes) -> None:
        try:
            msg = decode_server(data)
        except ProtocolError as exc:
            log.warning("ignoring a server frame: %s", exc)  # unknown types included (§2.5)
            return
        views = self._views
        # isinstance, not a type() comparison: it narrows the decoded-message union for mypy.
        # The message classes are final dataclasses, so the two tests agree.
        if isinstance(msg, (m.GenChunk, m.GenDone, m.GenStart)):
            req = self._requests.get(msg.rid)
            if isinstance(req, Generation):
                if isinstance(msg, m.GenStart) and req.world_id is None and msg.session_id == self.session_id:
                    req.world_id = msg.world_id
                if req.world_id == msg.world_id:
                    req._push(msg)
                    if isinstance(msg, m.GenDone):
                        del self._requests[msg.rid]
            if isinstance(msg, m.GenChunk):
                for inst in msg.instances:
                    self._prefab_types.setdefault(inst["prefab_id"], inst["prefab_type"])
            if (view := views.get(msg.world_id)) is not None:
                view._on_gen(msg)
        elif isinstance(msg, m.WorldOp):
            if (view := views.get(msg.world_id)) is not None:
                wire_ops = msgpack.unpackb(data, raw=False)["ops"]  # keeps prefab_type of adds
                for op in wire_ops:
                    if op.get("op") == "add" and op.get("prefab_type"):
                        self._prefab_types.setdefault(op["prefab_id"], op["prefab_type"])
                view._on_op(msg, wire_ops)
        elif isinstance(msg, m.Snapshot):
            if (view := views.get(msg.world_id)) is not None:
                for inst in msg.instances:
                    self._prefab_types.setdefault(inst["prefab_id"], inst["prefab_type"])
                view._on_snapshot(msg)
        elif isinstance(msg, m.PresenceEvent):
            if (view := views.get(msg.world_id)) is not None:
                view._on_presence(msg)
        elif isinstance(msg, m.Error):
            self._on_error(msg)
        elif isinstance(msg, m.Bye):
            self._bye = msg
        elif isinstance(msg, m.Welcome):
            self.welcome = msg  # a second welcome replaces the first (§3.3)
        else:  # a reply: every remaining message type carries the request's rid
            req = self._requests.pop(msg.rid, None)
            if isinstance(msg, m.Joined) and (view := views.get(msg.world_id)) is not None:
                view._on_joined(msg)
            elif isinstance(msg, m.EditAck) and (view := views.get(msg.world_id)) is not None:
                view._on_ack(msg, req.context if isinstance(req, Request) else [])
            if isinstance(req, Request) and not req.future.done():
                req.future.set_result(msg)

    def _on_error(self, msg: m.Error) -> None:
        err = ServerError.from_frame(msg)
        req = self._requests.pop(msg.rid, None) if msg.rid is not None else None
        if isinstance(req, Generation):
            req._fail(err)
        elif isinstance(req, Request):
            if not req.future.done():
                req.future.set_exception(err)
        else:
            # rid-less: about the connection or a world (deleted, access revoked, resync).
            log.warning("server error: %s", err)
            for view in self._views.values():
                if view.world_id in msg.message:
                    view._emit(err)
            for callback in list(self.on_error):
                callback(err)


class _Connect:
    """``async with connect(...) as s`` or ``s = await connect(...)`` (then ``await s.close()``)."""

    def __init__(self, url: str, token: str, options: dict[str, Any]) -> None:
        self._session = Session(ws_url(url), token, **options)

    def __await__(self) -> Generator[Any, None, Session]:
        return self._open().__await__()

    async def _open(self) -> Session:
        await self._session._start()
        return self._session

    async def __aenter__(self) -> Session:
        return await self._open()

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()


def connect(url: str, token: str, *, hello_in_frame: bool = False, reconnect: bool = True,
            max_attempts: int = 8, base_delay: float = 0.25, max_delay: float = 10.0,
            open_timeout: float = 10.0, request_timeout: float | None = 60.0,
            telemetry_interval: float = 1.0, telemetry_batch: int = 500,
            telemetry_buffer: int = 10_000,
            token_provider: Callable[[], Awaitable[str]] | None = None,
            client_name: str = "immersiverse-python", proxy: str | None = None) -> _Connect:
    """Open a session to ``url`` (``ws[s]://host/ws``, or ``http[s]://host`` → ``…/ws``).

    ``hello_in_frame`` sends the token in a ``hello`` frame (like a browser) instead of the
    ``Authorization`` header. Reconnect: up to ``max_attempts`` tries per outage, waiting
    ``min(max_delay, base_delay·2^n)`` halved plus a random half (and at least the server's
    ``retry_after_s``). ``token_provider`` (optional) is awaited for a fresh token before each
    reconnect. Telemetry is flushed every ``telemetry_interval`` s or when ``telemetry_batch``
    events wait; at most ``telemetry_buffer`` are kept (the oldest are dropped beyond).
    """
    return _Connect(url, token, {
        "hello_in_frame": hello_in_frame, "reconnect": reconnect, "max_attempts": max_attempts,
        "base_delay": base_delay, "max_delay": max_delay, "open_timeout": open_timeout,
        "request_timeout": request_timeout, "telemetry_interval": telemetry_interval,
        "telemetry_batch": telemetry_batch, "telemetry_buffer": telemetry_buffer,
        "token_provider": token_provider, "client_name": client_name, "proxy": proxy})

