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
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy.engine import make_url

T = TypeVar("T")


def sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DateTime storage: naive UTC text with microseconds."""
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_file(url: str) -> str | None:
    """The database file of a sqlite URL, or None when a second connection would not see the
    same database (in-memory, URI filenames)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:") or u.query:
        return None
    return u.database


class SqliteWriter:
    def __init__(self, path: str, gate: asyncio.Lock) -> None:
        self.gate = gate
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` in one transaction on the writer thread; rolled back if it raises."""
        async with self.gate:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only `fn(connection)` on the writer thread (one hop; WAL: readers never
        wait for the writer, so no gate)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._read, fn)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return fn(self._conn or self._connect())

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn or self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return out

    def _connect(self) -> sqlite3.Connection:
        # The same pragmas as the engine's connections (db._sqlite_pragmas); autocommit mode
        # (isolation_level=None) so that BEGIN/COMMIT above are the only transaction control.
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
            conn.execute(f"PRAGMA {pragma}")
        self._conn = conn
        return conn

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._thread.submit(shut).result()
        self._thread.shutdown(wait=True)
