"""Telemetry events: batched idempotent inserts and the write-behind writer.

Clients retry; (user_id, client_event_id) is unique, so a retried event is stored once and
reported as a duplicate. The writer buffers events from many connections and writes what has
gathered in one transaction (INSERT ... ON CONFLICT DO NOTHING, no lookup first); each submission
(a socket frame, a REST request) learns exactly which of its events were already stored. A
submitter gets a future that resolves only once its events are committed, which is when the
session may acknowledge them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Table, Text, bindparam, cast, delete, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .db import Repo
from .models import TelemetryEvent
from .statements import qmark_sql

log = logging.getLogger(__name__)

Event = dict[str, Any]  # the TelemetryEvent columns, minus id (the repository's dict interface)
#: One event ready to store, in column order: (user_id, client_event_id, event_type, session_id,
#: world_id, experience_id, data as JSON text (`data_json`), timestamp, received_at). The timestamp
#: is unix seconds within 0 … 1e11 (what a socket client may send, docs/protocol.md §7.3), a
#: datetime, or None for received_at; it is converted per backend only when written.
Row = tuple[str, str | None, str, str | None, str | None, str | None, str, float | datetime | None, datetime]
Key = tuple[str, str]  # (user_id, client_event_id)

_table: Table = TelemetryEvent.__table__  # type: ignore[assignment]  # declared as FromClause
_COLUMNS = tuple(c for c in _table.c.keys() if c != "id")  # a `Row`'s columns, in table order
#: The insert, one statement for both backends: ON CONFLICT DO NOTHING, no lookup first.
_INSERT = postgresql.insert(_table).on_conflict_do_nothing()
#: Rows per SQLite statement: a full socket frame (`max_telemetry_events`). Fixed sizes (this,
#: then powers of two for the rest) keep the statement texts few, so the driver's statement
#: cache keeps them prepared: preparing a 500-row VALUES list costs as much as inserting the
#: rows. 4,500 variables: SQLite allows 32,766 since 3.32.
_SQLITE_ROWS = 500
_ZERO = timedelta(0)


def data_json(data: Mapping[str, Any] | None) -> str:
    """The stored form of an event's `data` (an absent map is stored as {}): compact JSON by
    orjson (a third of the stdlib's cost per event), the stdlib for what orjson refuses."""
    if not data:
        return "{}"
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, separators=(",", ":"))


def unstorable(value: Any) -> str | None:
    """Why a string, or any JSON value holding strings (keys included), cannot be stored in
    both backends, or None. A lone surrogate is not UTF-8 (SQLite's driver and PostgreSQL
    refuse it); U+0000 is refused by PostgreSQL text and jsonb. Found here, at validation,
    such an event is refused alone; found by the insert, it would fail every submission of
    the flush (issue 15, finding 2)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "must not contain U+0000"
            if not item.isascii():
                try:
                    item.encode()
                except UnicodeEncodeError:
                    return "must be valid Unicode (no lone surrogates)"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def stored_bytes(rows: Sequence[Row]) -> int:
    """The bytes the rows' strings take (UTF-8): what a per-user byte quota counts. One join
    and one length: a loop over each string cost as much as encoding the data."""
    text = "".join([t for row in rows for t in row[:7] if t is not None])
    return len(text) if text.isascii() else len(text.encode(errors="replace"))


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DateTime storage: naive UTC with microseconds (isoformat is C code;
    strftime was a tenth of a durable event's cost)."""
    if value.tzinfo is not None:
        value = (value if value.utcoffset() == _ZERO else value.astimezone(UTC)).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


_seconds: dict[int, str] = {}


def _sqlite_unix_time(ts: float) -> str:
    """`_sqlite_time(datetime.fromtimestamp(ts, UTC))` at a third of the cost: the date and time
    of day are formatted once per second, and the microseconds rounded exactly as datetime
    rounds them (half to even; `ts - whole` is exact)."""
    if not 0.0 <= ts < 1e11:  # outside what a socket client may send (docs/protocol.md §7.3)
        return _sqlite_time(datetime.fromtimestamp(ts, UTC))
    whole = int(ts)
    micro = round((ts - whole) * 1e6)
    if micro >= 1_000_000:
        whole += 1
        micro -= 1_000_000
    prefix = _seconds.get(whole)
    if prefix is None:
        if len(_seconds) >= 4096:
            _seconds.clear()
        prefix = _seconds[whole] = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%d %H:%M:%S.")
    return prefix + str(1_000_000 + micro)[1:]


def _event_row(e: Event) -> Row:
    return (e["user_id"], e.get("client_event_id"), e["event_type"], e.get("session_id"), e.get("world_id"),
            e.get("experience_id"), data_json(e.get("data")), e["timestamp"], e["received_at"])


@functools.lru_cache(maxsize=32)
def _sqlite_insert(rows: int) -> str:
    """`_INSERT` of `rows` rows as SQLite's driver takes it: parameters by position, row by row
    in `_COLUMNS` order (`Row`'s)."""
    sql, names = qmark_sql(_INSERT.values([{c: bindparam(f"{c}_{i}") for c in _COLUMNS} for i in range(rows)]))
    assert names == tuple(f"{c}_{i}" for i in range(rows) for c in _COLUMNS)
    return sql


@functools.cache
def _sqlite_added() -> str:
    """The keys of the last `n` rows this connection inserted (SQLite only: `_insert_sqlite`)."""
    last = func.last_insert_rowid()
    stmt = select(_table.c.user_id, _table.c.client_event_id).where(_table.c.id > last - bindparam("n"),
                                                                       _table.c.id <= last)
    sql, names = qmark_sql(stmt)
    assert names == ("n",)
    return sql


def _sqlite_statements(rows: Sequence[Row]) -> Iterator[tuple[str, list[Any], Sequence[Row]]]:
    """(statement, flat parameters, the rows they hold) covering `rows`, with the times as SQLite
    stores them."""
    start, total = 0, len(rows)
    last_at, stamp = None, ""  # the rows of a frame share one received_at object
    last_ts: Any = None  # and events stamped in one tick one timestamp: each formatted once in a row
    when = ""
    while start < total:
        left = total - start
        size = _SQLITE_ROWS if left >= _SQLITE_ROWS else 1 << (left.bit_length() - 1)
        params: list[Any] = []
        part = rows[start:start + size]
        for user, cid, kind, sid, world, exp, data, ts, at in part:
            if at is not last_at:
                last_at, stamp = at, _sqlite_time(at)
            if ts is None:
                params += (user, cid, kind, sid, world, exp, data, stamp, stamp)
                continue
            if ts != last_ts:
                last_ts, when = ts, _sqlite_time(ts) if isinstance(ts, datetime) else _sqlite_unix_time(ts)
            params += (user, cid, kind, sid, world, exp, data, when, stamp)
        yield _sqlite_insert(size), params, part
        start += size


def _pg_params(row: Row) -> dict[str, Any]:
    user, cid, kind, sid, world, exp, data, ts, at = row
    stamp = at if ts is None else datetime.fromtimestamp(ts, UTC) if isinstance(ts, float | int) else ts
    return {"user_id": user, "client_event_id": cid, "event_type": kind, "session_id": sid, "world_id": world,
            "experience_id": exp, "data_json": data, "timestamp": stamp, "received_at": at}


async def _driver(conn: AsyncConnection) -> Any:
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None  # an open aiosqlite connection
    return raw


async def _insert_sqlite(raw: Any, frames: Sequence[Sequence[Row]]) -> list[set[Key]]:
    """Insert every row, straight to the driver (aiosqlite) with flat parameters; for each
    frame, the keys of its rows that were stored before (by an earlier transaction or an
    earlier frame of this flush). SQLAlchemy's per-row processing was most of the cost of a
    durable event.

    Statements of one size go in one `executemany`: each trip to the driver's thread waits for
    the event loop and the GIL, which under load bounded the writer more than SQLite did. No
    RETURNING (it costs SQLite a third more per row): the row count says whether every row went
    in, the common case, at no extra statement. When some did not, the rows this transaction
    added are read back by id: SQLite gives each new row the largest id plus one and the writer
    is ours alone inside the transaction, so they are the `stored` ids ending at
    `last_insert_rowid()`. Each key is credited to the first row that carried it, in the order
    the rows were written, as ON CONFLICT DO NOTHING did. The flush is written once either way:
    a client that keeps resending stored events costs the others in its flush one small read.
    """
    batches: dict[str, list[tuple[list[Any], int, Sequence[Row]]]] = {}
    for f, rows in enumerate(frames):
        for sql, params, part in _sqlite_statements(rows):
            batches.setdefault(sql, []).append((params, f, part))
    stored = 0
    for sql, entries in batches.items():
        stored += (await raw.executemany(sql, [params for params, _, _ in entries])).rowcount
    if stored == sum(len(rows) for rows in frames):
        return [set() for _ in frames]
    added: set[Key] = set()
    if stored:  # else last_insert_rowid() is an earlier transaction's
        added = {(user, cid) for user, cid in await raw.execute_fetchall(_sqlite_added(), (stored,))}
    first: dict[Key, int] = {}  # key -> the frame whose row stored it
    for entries in batches.values():
        for _, f, part in entries:
            for user, cid, *_ in part:
                if cid is not None and (user, cid) in added:
                    first.setdefault((user, cid), f)
    return [{(user, cid) for user, cid, *_ in rows if cid is not None and first.get((user, cid)) != f}
            for f, rows in enumerate(frames)]


def _duplicates(rows: Sequence[Row], inserted: set[Key]) -> set[Key]:
    if len(inserted) == len(rows):  # every row went in (the common case)
        return set()
    return {(r[0], r[1]) for r in rows if r[1] is not None} - inserted


# The data column arrives as JSON text: cast, not encoded again by the JSON type; RETURNING
# names what went in (on SQLite the row count does: `_insert_sqlite`).
_PG_INSERT = (_INSERT.values(data=cast(bindparam("data_json", type_=Text), _table.c.data.type))
              .returning(_table.c.user_id, _table.c.client_event_id))


class TelemetryRepo(Repo):

    async def insert(self, events: list[Event]) -> set[Key]:
        """Store events in one transaction; returns the (user, client id) keys that already existed."""
        return (await self.insert_frames([[_event_row(e) for e in events]]))[0]

    async def insert_frames(self, frames: Sequence[Sequence[Row]]) -> list[set[Key]]:
        """Store several submissions in one transaction; for each, the keys of its events that
        were stored before (by an earlier transaction or an earlier frame of this one).

        No lookup before the insert: the unique index refuses a stored key (the lookup per user
        was a fifth of SQLite's time per event). On SQLite the rows go in optimistically; see
        `_insert_sqlite`.
        """
        async with self._tx() as s:
            conn = await s.connection()
            if conn.dialect.name != "sqlite":
                return [await self._insert_pg(s, rows) for rows in frames]
            return await _insert_sqlite(await _driver(conn), frames)

    @staticmethod
    async def _insert_pg(s: AsyncSession, rows: Sequence[Row]) -> set[Key]:
        if not rows:
            return set()
        # ON CONFLICT also covers a concurrent writer (another node) storing the same key.
        result = await s.execute(_PG_INSERT, [_pg_params(r) for r in rows])
        return _duplicates(rows, {(user, cid) for user, cid in result})

    async def purge_received_before(self, cutoff: datetime, batch: int) -> int:
        """Delete at most `batch` events received before `cutoff` in one short transaction;
        how many went. By received_at, the server's clock: a client's `timestamp` could be
        set far ahead to keep events forever (index ix_telemetry_received_at, migration 0005)."""
        doomed = (select(TelemetryEvent.id).where(TelemetryEvent.received_at < cutoff)
                  .limit(batch).scalar_subquery())
        async with self._tx() as s:
            result = await s.execute(delete(TelemetryEvent).where(TelemetryEvent.id.in_(doomed)))
            return int(getattr(result, "rowcount", 0) or 0)

    async def for_user(self, user_id: str, limit: int) -> list[TelemetryEvent]:
        async with self._sessions() as s:
            q = (select(TelemetryEvent).where(TelemetryEvent.user_id == user_id)
                 .order_by(TelemetryEvent.timestamp.desc(), TelemetryEvent.id.desc()).limit(limit))
            return list(await s.scalars(q))

    async def count(self, user_id: str | None = None) -> int:
        async with self._sessions() as s:
            q = select(func.count()).select_from(TelemetryEvent)
            if user_id is not None:
                q = q.where(TelemetryEvent.user_id == user_id)
            return int(await s.scalar(q) or 0)


def _store_unavailable(exc: BaseException) -> bool:
    """Whether an insert failed because the store could not be reached or was busy (retrying
    parts of the flush would only wait again), rather than on the rows it was given."""
    return isinstance(exc, OSError | asyncio.TimeoutError | sqlite3.OperationalError | sa_exc.OperationalError
                      | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError)


@dataclass
class _Pending:
    rows: list[Row]
    done: asyncio.Future[set[Key]]
    divisible: bool = True  # its rows may be stored apart (see RowsNotStored)


class WriterClosed(RuntimeError):
    """The writer is closing (the process is shutting down): it takes no more submissions."""


class RowsNotStored(Exception):
    """Some rows of a divisible submission cannot be stored: `keys` names them, `duplicates`
    are the stored-before keys among the rest, which are now stored. The store refused these
    rows for what they hold, so retrying them would fail again: a socket rejects them."""

    def __init__(self, keys: set[Key], duplicates: set[Key], cause: BaseException) -> None:
        super().__init__(f"{len(keys)} telemetry events could not be stored: {type(cause).__name__}")
        self.keys = keys
        self.duplicates = duplicates


@dataclass
class WriterStats:
    flushes: int = 0
    events_written: int = 0
    last_flush_ms: float = 0.0
    failures: int = 0
    flush_ms: deque[float] = field(default_factory=lambda: deque(maxlen=256))


class TelemetryWriter:
    """Bounded write-behind buffer in front of TelemetryRepo.

    `submit` waits while the buffer is full (the caller stops reading its socket: that is
    the backpressure), then returns a future of the submission's duplicate keys, resolved
    once durable. Everything buffered when a flush starts (up to `batch` events) is written
    in one transaction.
    """

    def __init__(self, repo: TelemetryRepo, *, capacity: int, batch: int, flush_ms: float) -> None:
        self._repo = repo
        self._capacity = capacity
        self._batch = batch
        self._flush_s = flush_ms / 1000
        self._queue: deque[_Pending] = deque()
        self._buffered = 0
        self._wakeup = asyncio.Event()
        self._room = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._full = asyncio.Event()  # a batch is buffered, or the writer is closing
        self.stats = WriterStats()

    @property
    def depth(self) -> int:
        return self._buffered

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telemetry-writer")

    async def submit(self, rows: list[Row], *, divisible: bool = True) -> asyncio.Future[set[Key]]:
        """Buffer one submission's rows (see `Row`; `data_json` encodes the data). A divisible
        submission whose own rows fail the insert is written row group by row group; the future
        then raises RowsNotStored naming the rows the store refused (the rest are stored).
        `divisible=False`: all or none (a REST batch)."""
        if self._closing:
            raise WriterClosed("telemetry writer is closed")
        async with self._room:
            await self._room.wait_for(lambda: self._buffered + len(rows) <= self._capacity
                                      or self._buffered == 0)
            fut: asyncio.Future[set[Key]] = asyncio.get_running_loop().create_future()
            self._queue.append(_Pending(rows, fut, divisible))
            self._buffered += len(rows)
        self._wakeup.set()
        if self._buffered >= self._batch:
            self._full.set()
        return fut

    async def close(self) -> None:
        """Flush everything buffered, then stop."""
        self._closing = True
        self._full.set()
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._buffered < self._batch and not self._closing:
                # Let a batch form for at most flush_ms; a full batch or a close ends the wait.
                # (Waiting the whole interval capped the writer at a partial batch per interval.)
                self._full.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._flush_s)
            await self._flush_once()

    async def _write(self, taken: list[_Pending]) -> None:
        """Insert the submissions in one transaction. When the insert fails on what the rows
        hold (not on the store being unreachable), no submission fails for another's rows:
        the halves are written apart until the failing submission stands alone, at most
        2n - 1 inserts for n submissions (issue 15, finding 2). Validation refuses what cannot
        be stored (`unstorable`), so this is the net under it."""
        try:
            duplicates = await self._repo.insert_frames([p.rows for p in taken])
        except Exception as exc:
            if len(taken) > 1 and not _store_unavailable(exc):
                log.warning("telemetry flush of %d submissions failed (%s); writing them apart",
                            len(taken), type(exc).__name__)
                half = len(taken) // 2
                await self._write(taken[:half])
                await self._write(taken[half:])
                return
            if taken[0].divisible and len(taken[0].rows) > 1 and not _store_unavailable(exc):
                await self._write_rows_apart(taken[0], exc)
                return
            # the store failed, or this one submission cannot be stored: it alone learns it
            log.error("telemetry submission of %d events was not stored",
                      sum(len(p.rows) for p in taken), exc_info=exc)
            self.stats.failures += 1
            for p in taken:
                if not p.done.done():
                    p.done.set_exception(exc)
            return
        for p, dup in zip(taken, duplicates, strict=True):
            if not p.done.done():
                p.done.set_result(dup)
        self.stats.events_written += sum(len(p.rows) for p in taken)

    async def _write_rows_apart(self, p: _Pending, exc: BaseException) -> None:
        """One divisible submission failed on its own rows: store its halves apart, down to
        single rows, so only the rows the store refuses are left out (RowsNotStored)."""
        duplicates: set[Key] = set()
        refused: list[Row] = []

        async def write(rows: Sequence[Row]) -> None:
            try:
                duplicates.update((await self._repo.insert_frames([rows]))[0])
            except Exception as err:
                if _store_unavailable(err):
                    raise
                if len(rows) == 1:
                    refused.extend(rows)
                    return
                await write(rows[:len(rows) // 2])
                await write(rows[len(rows) // 2:])

        try:
            await write(p.rows)
        except Exception as err:  # the store went away meanwhile: the client retries it all
            log.error("telemetry submission of %d events was not stored", len(p.rows), exc_info=err)
            self.stats.failures += 1
            if not p.done.done():
                p.done.set_exception(err)
            return
        log.error("%d of %d telemetry events of one submission could not be stored", len(refused), len(p.rows),
                  exc_info=exc)
        self.stats.events_written += len(p.rows) - len(refused)
        if not p.done.done():
            keys = {(r[0], r[1]) for r in refused if r[1] is not None}
            p.done.set_exception(RowsNotStored(keys, duplicates, exc))

    async def _flush_once(self) -> None:
        taken: list[_Pending] = []
        count = 0
        while self._queue and (count == 0 or count + len(self._queue[0].rows) <= self._batch):
            item = self._queue.popleft()
            taken.append(item)
            count += len(item.rows)
        started = time.perf_counter()
        await self._write(taken)
        self.stats.flushes += 1
        self.stats.last_flush_ms = (time.perf_counter() - started) * 1000
        self.stats.flush_ms.append(self.stats.last_flush_ms)
        async with self._room:
            self._buffered -= count
            self._room.notify_all()
