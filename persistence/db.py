"""Engine, sessions and migrations for the store.

SQLite (the embedded default) runs in WAL mode with foreign keys on; PostgreSQL is chosen
by the URL alone. Migrations are Alembic's; `migrate()` is synchronous and runs its own
event loop, so async callers run it in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .sqlite_writer import SQLITE_PRAGMAS, SqliteWriter
from .statements import Tx, run_core, run_sqlite

T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, pool_size=max(pool_size, 5))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the store at `url` to `revision` (blocking; safe to call from a thread)."""
    from alembic import command

    if is_sqlite(url):
        _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def schema_revision(url: str) -> str | None:
    """The store's Alembic revision; None when it has no schema yet (blocking, like `migrate`).
    A SQLite file that does not exist is not created by asking."""
    from alembic.runtime.migration import MigrationContext

    database = make_url(url).database
    if is_sqlite(url) and database and database != ":memory:" and not database.startswith("file:") \
            and not Path(database).expanduser().exists():
        return None

    async def read() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(read())


async def migrate_async(url: str) -> None:
    """Run `migrate` without blocking the caller's loop (Alembic's env runs its own loop)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def work() -> None:
        try:
            migrate(url)
        except BaseException as exc:  # handed to the awaiting coroutine
            loop.call_soon_threadsafe(done.set_exception, exc)
        else:
            loop.call_soon_threadsafe(done.set_result, None)

    threading.Thread(target=work, name="migrate", daemon=True).start()
    await done


class Repo:
    """Base of the repositories: read sessions, and write transactions through `_tx`.

    On SQLite there is one writer at a time whatever we do; with a `gate` (an asyncio.Lock
    shared by every repository of a store) writers queue here, in Python, instead of
    spinning in SQLite's busy handler while holding pool connections — under concurrent
    generations that contention, not the inserts, was the cost (bench/RESULTS.md).

    With a `writer` (a SQLite file), `_write` and `_read` run a transaction of Core statements
    (persistence/statements.py) in one hop on its writer or reader thread; without one, on the
    engine. Either way the same statements run.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], gate: asyncio.Lock | None = None, *,
                 writer: SqliteWriter | None = None) -> None:
        self._sessions = sessions
        self._gate = gate
        self._writer = writer

    async def _write(self, tx: Callable[[], Tx[T]]) -> T:
        """Run the transaction `tx()` makes; it commits when it returns, rolls back if it raises."""
        if self._writer is not None:
            return await self._writer.run(lambda conn: run_sqlite(conn, tx()))
        async with self._core() as conn:
            return await run_core(conn, tx())

    async def _read(self, tx: Callable[[], Tx[T]]) -> T:
        """Run the read-only transaction `tx()` makes (on SQLite, beside the writer: WAL)."""
        if self._writer is not None:
            return await self._writer.read(lambda conn: run_sqlite(conn, tx()))
        async with self._sessions() as s:
            return await run_core(s, tx())

    @contextlib.asynccontextmanager
    async def _core(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on a Core connection, without the ORM's unit of work: for the
        hot paths (generation) that only run statements. Same gate as `_tx`."""
        engine = self._sessions.kw["bind"]
        if self._gate is None:
            async with engine.begin() as conn:
                yield conn
        else:
            async with self._gate, engine.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        if self._gate is None:
            async with self._sessions() as s, s.begin():
                yield s
        else:
            async with self._gate, self._sessions() as s, s.begin():
                yield s
