"""Telemetry events: batched idempotent inserts and the write-behind writer.

Clients retry; (user_id, client_event_id) is unique, so a retried event is stored once and
reported as a duplicate. The writer buffers events from many connections and writes them
in large batches; a submitter gets a future that resolves only once its events are
committed, which is when the session may acknowledge them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from .db import Repo
from .models import TelemetryEvent

log = logging.getLogger(__name__)
Event = dict[str, Any]  # the TelemetryEvent columns, minus id
_EVENT_COLUMNS = ("user_id", "client_event_id", "event_type", "session_id", "world_id", "experience_id",
                  "data", "timestamp", "received_at")
_SQLITE_INSERT = (f"INSERT OR IGNORE INTO telemetry_events ({', '.join(_EVENT_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})")
_dumps = json.JSONEncoder().encode
_ZERO = timedelta(0)


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DateTime storage: naive UTC with microseconds (isoformat is C code;
    strftime was a tenth of a durable event's cost)."""
    if value.tzinfo is not None:
        value = (value if value.utcoffset() == _ZERO else value.astimezone(UTC)).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def _event_tuples(events: list[Event]) -> list[tuple[Any, ...]]:
    received: dict[int, str] = {}  # one received_at object is shared by a whole frame
    out = []
    for e in events:
        r = e["received_at"]
        stamp = received.get(id(r))
        if stamp is None:
            stamp = received[id(r)] = _sqlite_time(r)
        data = e.get("data")
        out.append((e["user_id"], e.get("client_event_id"), e["event_type"], e.get("session_id"),
                    e.get("world_id"), e.get("experience_id"), _dumps(data) if data else "{}",
                    _sqlite_time(e["timestamp"]), stamp))
    return out


class TelemetryRepo(Repo):

    async def insert(self, events: list[Event]) -> set[tuple[str, str]]:
        """Store events in one transaction; returns the (user, client id) keys that already existed.

        The lookup is `user_id = ? AND client_event_id IN (...)` per user, which walks the
        unique index; a row-value IN over (user, id) pairs made SQLite scan the whole index
        (bench/RESULTS.md, telemetry). Inserts go through Core, not the ORM.
        """
        by_user: dict[str, list[str]] = {}
        for e in events:
            if e.get("client_event_id"):
                by_user.setdefault(e["user_id"], []).append(e["client_event_id"])
        table = TelemetryEvent.__table__
        async with self._tx() as s:
            existing: set[tuple[str, str]] = set()
            for user, ids in by_user.items():
                unique = list(dict.fromkeys(ids))
                for i in range(0, len(unique), 500):  # stay under SQLite's variable limit
                    q = select(table.c.client_event_id).where(
                        table.c.user_id == user, table.c.client_event_id.in_(unique[i:i + 500]))
                    existing.update((user, c) for c in (await s.scalars(q)).all())
            fresh, seen = [], set(existing)
            for e in events:
                key = (e["user_id"], e.get("client_event_id"))
                if key[1]:
                    if key in seen:
                        continue
                    seen.add(key)
                fresh.append(e)
            if fresh:
                conn = await s.connection()
                if conn.dialect.name == "sqlite":
                    # The driver's executemany over tuples (as for world instances): SQLAlchemy's
                    # per-row processing was most of the cost of a durable event.
                    raw = await conn.get_raw_connection()
                    await raw.driver_connection.executemany(_SQLITE_INSERT, _event_tuples(fresh))
                else:
                    # A concurrent writer (another node) may have stored the same key meanwhile.
                    await s.execute(postgresql.insert(table).on_conflict_do_nothing(), fresh)
        return existing

    async def for_user(self, user_id: str, limit: int) -> list[TelemetryEvent]:
        async with self._sessions() as s:
            q = (select(TelemetryEvent).where(TelemetryEvent.user_id == user_id)
                 .order_by(TelemetryEvent.timestamp.desc(), TelemetryEvent.id.desc()).limit(limit))
            return list(await s.scalars(q))

    async def count(self, user_id: str | None = None) -> int:
        from sqlalchemy import func

        async with self._sessions() as s:
            q = select(func.count()).select_from(TelemetryEvent)
            if user_id is not None:
                q = q.where(TelemetryEvent.user_id == user_id)
            return int(await s.scalar(q) or 0)


@dataclass
class _Pending:
    events: list[Event]
    done: asyncio.Future[set[tuple[str, str]]]


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
    the backpressure), then returns a future of the duplicate keys, resolved once durable.
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
        self._close_requested = asyncio.Event()
        self.stats = WriterStats()

    @property
    def depth(self) -> int:
        return self._buffered

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telemetry-writer")

    async def submit(self, events: list[Event]) -> asyncio.Future[set[tuple[str, str]]]:
        if self._closing:
            raise RuntimeError("telemetry writer is closed")
        async with self._room:
            await self._room.wait_for(lambda: self._buffered + len(events) <= self._capacity
                                      or self._buffered == 0)
            fut: asyncio.Future[set[tuple[str, str]]] = asyncio.get_running_loop().create_future()
            self._queue.append(_Pending(events, fut))
            self._buffered += len(events)
        self._wakeup.set()
        return fut

    async def close(self) -> None:
        """Flush everything buffered, then stop."""
        self._closing = True
        self._close_requested.set()
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
                # Let a batch form; a close cuts the wait short.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._close_requested.wait(), self._flush_s)
            await self._flush_once()

    async def _flush_once(self) -> None:
        taken: list[_Pending] = []
        count = 0
        while self._queue and (count == 0 or count + len(self._queue[0].events) <= self._batch):
            item = self._queue.popleft()
            taken.append(item)
            count += len(item.events)
        started = time.perf_counter()
        try:
            duplicates = await self._repo.insert([e for p in taken for e in p.events])
        except Exception as exc:  # the store failed: every submitter learns it, none is acked
            log.exception("telemetry flush of %d events failed", count)
            self.stats.failures += 1
            for p in taken:
                if not p.done.done():
                    p.done.set_exception(exc)
        else:
            for p in taken:
                if not p.done.done():
                    p.done.set_result(duplicates)
            self.stats.events_written += count
        self.stats.flushes += 1
        self.stats.last_flush_ms = (time.perf_counter() - started) * 1000
        self.stats.flush_ms.append(self.stats.last_flush_ms)
        async with self._room:
            self._buffered -= count
            self._room.notify_all()
