"""Per-connection outbound queue, bounded in bytes, drained by one sender task.

Fan-out only ever calls `send` (never awaits a socket): the frame is appended to this
connection's queue and the sender task writes it. aiohttp's `send_bytes` waits for the
transport to drain once its buffer passes the high-water mark, so a slow reader only
stalls its own sender; when its queue passes `max_bytes` it is closed as a slow consumer
(close 4001) and its backlog is dropped — never grows without bound (centrifuge writer.go).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger("immersiverse.writer")


class Writer:
    def __init__(self, ws: web.WebSocketResponse, max_bytes: int,
                 on_slow: Callable[[], Awaitable[None]], on_sent: Callable[[bytes], None] | None = None) -> None:
        self._ws = ws
        self._max = max_bytes
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._on_slow = on_slow
        self._on_sent = on_sent
        self.closed = False
        self.slow = False
        self.frames_sent = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ws-writer")

    def send(self, data: bytes) -> bool:
        """Queue a frame; False (and the connection is being closed as slow) on overflow."""
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

    def _overflow(self) -> None:
        self.slow = True
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        self._drained.set()
        self._wake.set()
        asyncio.get_running_loop().create_task(self._on_slow())

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
                    continue
                data = self._queue.popleft()
                self._bytes -= len(data)
                if self._bytes <= self._max // 4:
                    self._drained.set()
                await self._ws.send_bytes(data)
                self.frames_sent += 1
                if self._on_sent is not None:
                    self._on_sent(data)
        except (ConnectionResetError, RuntimeError):  # peer gone / socket closing
            self.closed = True
        finally:
            self._drained.set()
