"""A TCP proxy on 127.0.0.1 that a test can take down and bring back: a Redis or PostgreSQL
"restart" as one node sees it (its connections drop, new ones are refused), without touching
the machine's services that other tests share. A subclass can also cut one connection at
chosen bytes (`pipes`; tests/multinode/faults.py cuts a PostgreSQL COMMIT)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from tests.conftest import REDIS_URL, require_service

REDIS_DB = int(REDIS_URL.rsplit("/", 1)[1] or 0)

# Sees each chunk a pipe reads; False cuts the connection there (that chunk is not passed on).
Passes = Callable[[bytes], bool]


def _everything(data: bytes) -> bool:
    return True


class Proxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def up(self) -> bool:
        return self._server is not None

    def url(self, db: int | None = None) -> str:
        """A Redis URL through the proxy, on the tests' database (TEST_REDIS_URL's) by default."""
        return f"redis://127.0.0.1:{self.port}/{REDIS_DB if db is None else db}"

    async def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
        for task in list(self._pipes):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            await server.wait_closed()

    def pipes(self) -> tuple[Passes, Passes]:
        """For each accepted connection: what its client→target and target→client pipes pass
        on. Everything, here."""
        return _everything, _everything

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        upward, downward = self.pipes()
        for src, dst, passes in ((reader, up_writer, upward), (up_reader, writer, downward)):
            task = asyncio.create_task(self._pipe(src, dst, passes))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, passes: Passes) -> None:
        """Copy until either side ends or `passes` refuses a chunk; then cut `dst`, which ends
        the opposite pipe too (its source is gone)."""
        try:
            while (data := await src.read(65536)) and passes(data):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            dst.transport.abort()
            self._writers.discard(dst)


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    """A Redis proxy a test can stop and start (a Redis restart as one node sees it). Import it
    into a conftest or test module to use it."""
    require_service("Redis", 6379)
    p = Proxy(6379)
    await p.start()
    yield p
    await p.stop()
