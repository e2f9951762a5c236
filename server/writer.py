"""Per-connection outbound path: frames go straight to the socket's transport while it keeps
up; behind a backed-up transport they wait in a queue bounded in bytes, drained in batches by
one sender task.

Fan-out only ever calls `send` (never awaits a socket). A frame is written at once when
nothing is queued and the transport is below its high-water mark — no task wake-up per
delivery. Otherwise it is queued; the sender task waits for the transport to drain and hands
the queue over in batches (`writelines`). A reader too slow for its queue to stay under
`max_bytes` is closed as a slow consumer (close 4001) and its backlog dropped — the queue never
grows without bound (centrifuge writer.go); the transport's own buffer stays within one
batch of its high-water mark, because nothing is written to it while it is above.

We write WebSocket frames ourselves (RFC 6455 §5.2: FIN, binary, unmasked — server frames are
never masked, so a broadcast's complete frame is the same bytes for every member and is built
once: `ws_frame`), each write whole frames in one call, into a `FrameSink`: a socket's transport
through server/aiohttp_io.py `SocketIO`, which states and checks why this is safe next to
aiohttp's own frames (pings, pongs, close). Nothing is written once the sink is closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol

from .tasks import TaskSet

log = logging.getLogger("immersiverse.writer")

BATCH_BYTES = 256 * 1024  # at most this much is handed to the transport per sender wake-up
_LEN2 = struct.Struct("!BBH").pack
_LEN3 = struct.Struct("!BBQ").pack
_COPY_MAX = 16 * 1024  # up to this size a payload is joined to its header (one buffer)


def ws_header(size: int) -> bytes:
    """The header of a final, unmasked binary frame carrying `size` bytes (RFC 6455 §5.2)."""
    if size < 126:
        return bytes((0x82, size))
    if size < 65536:
        return _LEN2(0x82, 126, size)
    return _LEN3(0x82, 127, size)


def ws_frame(payload: bytes) -> bytes:
    """A complete server→client binary frame: the same bytes for every member of a broadcast."""
    return ws_header(len(payload)) + payload


class Broadcast:
    """One broadcast's frames for the members that get all of them: `wire` is them framed and
    joined once (`ws_frame`). The members whose writer wrote `wire` at once are tallied in
    `written`, and the broadcaster counts the frames once for all of them
    (server/metrics.py `Metrics.frames_sent`); a member that queues them counts them itself
    when they are written, like any queued frame."""

    __slots__ = ("datas", "wire", "written")

    def __init__(self, datas: list[bytes], wire: bytes) -> None:
        self.datas = datas
        self.wire = wire
        self.written = 0


class FrameSink(Protocol):
    """Where a writer's frames go: a socket's transport (server/aiohttp_io.py `SocketIO`), or a
    recording one in the in-memory tests."""

    @property
    def writing_paused(self) -> bool:
        """Above its high-water mark: write nothing more now (`drain` waits for it to clear)."""

    @property
    def closing(self) -> bool:
        """Closing or closed: write nothing."""

    def write(self, frames: bytes) -> None: ...

    def writelines(self, parts: Iterable[bytes]) -> None: ...

    async def drain(self) -> None: ...


class Writer:
    def __init__(self, sink: FrameSink, max_bytes: int, on_slow: Callable[[], Coroutine[Any, None, None]],
                 on_sent: Callable[[bytes], None] | None = None) -> None:
        self._sink = sink
        self._max = max_bytes
        self._queue: deque[bytes] = deque()  # payloads; framed when written
        self._bytes = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._on_slow = on_slow
        self._on_sent = on_sent or (lambda data: None)
        self.closed = False
        self.slow = False
        self.frames_sent = 0
        self._task: asyncio.Task[None] | None = None
        self._closer = TaskSet(log, "ws-writer")

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ws-writer")

    def send(self, data: bytes, frame: bytes | None = None) -> bool:
        """Write or queue `data`; `frame` is its complete WebSocket frame when the caller built
        it once for many members (`ws_frame`). False once the connection is closing, or when
        this frame overflowed the queue (the connection is then being closed as slow)."""
        if self.closed:
            return False
        if self._direct():
            if frame is not None:
                self._sink.write(frame)
            elif len(data) <= _COPY_MAX:
                self._sink.write(ws_header(len(data)) + data)
            else:
                self._sink.writelines((ws_header(len(data)), data))
            self.frames_sent += 1
            self._on_sent(data)
            return True
        if self.closed:
            return False
        if self._bytes + len(data) > self._max and self._queue:
            self._overflow()
            return False
        self._queue.append(data)
        self._bytes += len(data)
        self._drained.clear()
        self._wake.set()
        return True

    def send_many(self, datas: list[bytes], frames: bytes | None = None) -> bool:
        """`send` for several frames in order, in one write when possible; `frames` is all of
        them already framed and joined (a broadcast builds it once for its members)."""
        if len(datas) == 1:
            return self.send(datas[0], frames)
        if self.closed or not datas:
            return not self.closed
        if self._direct():
            if frames is None:
                frames = b"".join(ws_header(len(data)) + data for data in datas)
            self._sink.write(frames)
            self.frames_sent += len(datas)
            for data in datas:
                self._on_sent(data)
            return True
        return not self.closed and all(self.send(data) for data in datas)

    def send_broadcast(self, shared: Broadcast) -> bool:
        """`send_many(shared.datas, shared.wire)`, except that a write made at once is tallied in
        `shared.written` instead of reported to `on_sent` per frame (see `Broadcast`)."""
        if self.closed:
            return False
        if self._direct():
            self._sink.write(shared.wire)
            self.frames_sent += len(shared.datas)
            shared.written += 1
            return True
        return not self.closed and all(self.send(data) for data in shared.datas)

    def _direct(self) -> bool:
        """Whether a frame goes straight to the transport: nothing is queued before it and the
        transport takes writes. A closing transport marks the writer closed (False)."""
        if self._queue or self._sink.writing_paused:
            return False
        if self._sink.closing:
            self.closed = True
            return False
        return True

    async def wait_below(self, limit: int) -> None:
        """Wait until at most `limit` bytes are queued (backpressure for our own producers)."""
        while self._bytes > limit and not self.closed:
            self._drained.clear()
            await self._drained.wait()

    async def flush(self, timeout: float) -> None:
        """Wait (bounded) until everything queued has been handed to the transport."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wait_empty(), timeout)

    async def _wait_empty(self) -> None:
        while self._queue and not self.closed:
            await self._drained.wait()

    def close_slow(self) -> None:
        """Close as a slow consumer (4001) now: what is held for it elsewhere (a room holding
        frames behind its paced snapshot) overflowed the same bound as this queue."""
        if not self.closed:
            self._overflow()

    def _overflow(self) -> None:
        self.slow = True
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        self._drained.set()
        self._wake.set()
        # Referenced and its failure logged; never cancelled by `stop`, which it calls itself.
        self._closer.spawn(self._on_slow(), "close-slow")

    async def stop(self) -> None:
        self.closed = True
        self._wake.set()
        self._drained.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        try:
            while not self.closed:
                if not self._queue:
                    self._drained.set()
                    self._wake.clear()
                    await self._wake.wait()
                elif self._sink.closing:
                    break
                elif self._sink.writing_paused:
                    await self._sink.drain()
                else:
                    self._write_batch()
        except ConnectionError:  # the peer went away while we waited for the transport
            pass
        finally:
            self.closed = True
            self._drained.set()

    def _write_batch(self) -> None:
        """Hand queued frames to the transport in one call, up to BATCH_BYTES."""
        parts: list[bytes] = []
        size = 0
        sent = []
        while self._queue and size < BATCH_BYTES:
            data = self._queue.popleft()
            parts += (ws_header(len(data)), data)
            size += len(data)
            sent.append(data)
        self._bytes -= size
        self._sink.writelines(parts)
        self.frames_sent += len(sent)
        for data in sent:
            self._on_sent(data)
        if self._bytes <= self._max // 4:
            self._drained.set()
