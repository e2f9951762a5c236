"""A whole SQLite transaction per thread hop, for the hot write paths (generation).

Through SQLAlchemy's async engine every statement, `BEGIN`, `COMMIT` and the pool's reset
is its own hop to aiosqlite's thread and back, each a GIL hand-over and a loop wake-up:
about 0.85 ms of CPU for a two-statement transaction, against 0.16 ms for the same work
run as one function on one thread (bench/RESULTS.md, REST prompt2world). `SqliteWriter`
keeps one `sqlite3` connection on one thread and runs a function inside
`BEGIN IMMEDIATE … COMMIT` there.

It holds the store's write gate (the asyncio.Lock every repository's `_tx` takes on
SQLite), so it never contends with the SQLAlchemy pool for SQLite's single write lock.
Values are stored in SQLAlchemy's SQLite formats (`sqlite_time`, JSON text), so the ORM
reads them back exactly as if it had written them.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

T = TypeVar("T")


def sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DateTime storage: naive UTC text with microseconds."""
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def json_text(value: Any) -> str:
    """A JSON column's stored text (compact; SQLAlchemy's JSON type reads any JSON text back)."""
    return _json_text(value)


_json_text = json.JSONEncoder(separators=(",", ":")).encode


#: Every SQLite connection's settings, the engine's (db.py) and the writer's: WAL lets readers
#: run beside the single writer; NORMAL is durable across a process crash in WAL mode (only an
#: OS crash may lose the last commits).
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000")


def sqlite_file(url: str) -> str | None:
    """The database file of a sqlite URL, or None when a second connection would not see the
    same database (in-memory, URI filenames)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:") or u.query:
        return None
    return u.database


class _Lane:
    """One thread and its own connection (sqlite3 connections are used from one thread).

    Work is handed to the thread on a SimpleQueue and its outcome set on the caller's loop
    with `call_soon_threadsafe`: a ThreadPoolExecutor's `submit` takes locks that its worker
    also takes when it finishes an item, so under load a hand-over could wait for the worker
    thread to be scheduled and hand the GIL back (seen as `submit` in profiles of joins)."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=f"{name}_0", daemon=True)
        self._thread.start()

    def connection(self) -> sqlite3.Connection:
        if self.conn is None:
            # Autocommit mode (isolation_level=None), so explicit BEGIN/COMMIT are the only
            # transaction control.
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                self.conn.execute(f"PRAGMA {pragma}")
        return self.conn

    def run(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """`fn()` on this lane's thread; its result (or exception) on the running loop."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((fn, future))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, future = item
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001 (handed to the caller, as an executor does)
                _hand_over(future, _set_exception, exc)
            else:
                _hand_over(future, _set_result, result)
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        """Finish the work queued so far, close the connection and stop the thread."""
        self._queue.put(None)
        self._thread.join()


def _hand_over(future: asyncio.Future[Any], settle: Callable[[asyncio.Future[Any], Any], None], value: Any) -> None:
    try:
        future.get_loop().call_soon_threadsafe(settle, future, value)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # (cancelled: its caller went away)
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class SqliteWriter:
    """Writes on one lane under the store's gate; reads on another, so a read (a join's access
    check, a connect's account lookup) never queues behind a long write (WAL: readers see the
    last commit and never wait for the writer)."""

    def __init__(self, path: str, gate: asyncio.Lock) -> None:
        self.gate = gate
        self._writes = _Lane(path, "sqlite-writer")
        self._reads = _Lane(path, "sqlite-reader")

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` in one transaction on the writer thread; rolled back if it raises."""
        async with self.gate:
            return await self._writes.run(lambda: self._transaction(fn))

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only `fn(connection)` on the reader thread (one hop, no gate)."""
        return await self._reads.run(lambda: fn(self._reads.connection()))

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._writes.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return out

    def close(self) -> None:
        self._writes.close()
        self._reads.close()
