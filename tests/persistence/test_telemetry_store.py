"""Telemetry rows on both backends: duplicates per submission, long frames, times and data as sent.

`TelemetryRepo.insert_frames` writes several submissions (socket frames, REST requests) in one
transaction with INSERT … ON CONFLICT DO NOTHING, once; every submission learns which of its
events were stored before, by an earlier transaction or another frame of the same one (the row
written first keeps the key). The writer groups what is buffered into one such transaction.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from persistence.clock import as_utc
from persistence.store import Store
from persistence.telemetry import Row, TelemetryWriter, _sqlite_time, _sqlite_unix_time, data_json
from tests.conftest import TIMEOUT

NOW = datetime(2026, 11, 25, 23, 0, 0, 123456, tzinfo=UTC)


def frame(user: str, ids: list[str | None], ts: float | datetime | None = 1_767_222_001.5,
          data: dict[str, Any] | None = None, at: datetime = NOW) -> list[Row]:
    return [(user, i, "teleport", "s_1", "w_1", None, data_json(data or {"i": n}), ts, at)
            for n, i in enumerate(ids)]


async def test_each_frame_learns_its_own_duplicates_within_one_transaction(store: Store) -> None:
    first = frame("alice", ["a", "b"])
    second = frame("alice", ["b", "c"])  # "b" is stored by the frame before it, same transaction
    other_user = frame("bob", ["a", "b"])
    assert await store.telemetry.insert_frames([first, second, other_user]) == [set(), {("alice", "b")}, set()]
    again = await store.telemetry.insert_frames([frame("alice", ["c", "d", None, None])])
    assert again == [{("alice", "c")}]
    assert (await store.telemetry.count("alice"), await store.telemetry.count("bob")) == (6, 2)
    # a flush that stores nothing: every key is a duplicate of its own frame
    assert await store.telemetry.insert_frames([frame("bob", ["a"]), frame("alice", ["a", "b"])]) == [
        {("bob", "a")}, {("alice", "a"), ("alice", "b")}]


async def test_a_frame_longer_than_one_statement_is_stored_whole(store: Store) -> None:
    ids: list[str | None] = [f"e{i}" for i in range(1234)]
    assert await store.telemetry.insert_frames([frame("carol", ids)]) == [set()]
    retry = ids[495:505] + ids[1000:1003] + ["new-1", "new-2"]  # across statement boundaries
    dup = await store.telemetry.insert_frames([frame("carol", retry)])
    assert dup == [{("carol", i) for i in retry if i and not i.startswith("new")}]
    assert await store.telemetry.count("carol") == 1236


async def test_every_stored_key_is_new_to_exactly_one_frame_of_a_flush(store: Store) -> None:
    """Random flushes over a small id pool, some ids stored before: a key stored before is a
    duplicate for every frame that carries it; a new key is new to exactly one of its frames
    (the one whose row stored it) and a duplicate for the others; the store then holds each key
    once. Frames of 1 … 700 rows cross the statement sizes (500, then powers of two)."""
    rnd = random.Random(7)
    for case in range(12):
        user = f"u{case}"
        pool = [f"e{n}" for n in range(rnd.randint(5, 900))]
        before = set(rnd.sample(pool, rnd.randint(0, len(pool) // 3)))
        await store.telemetry.insert_frames([frame(user, sorted(before))] if before else [])
        frames = [[rnd.choice(pool) if rnd.random() > 0.05 else None for _ in range(rnd.randint(1, 700))]
                  for _ in range(rnd.randint(1, 5))]
        dups = await store.telemetry.insert_frames([frame(user, ids) for ids in frames])
        assert len(dups) == len(frames)
        for ids, dup in zip(frames, dups, strict=True):
            assert dup <= {(user, i) for i in ids if i is not None}
            assert {(user, i) for i in before if i in ids} <= dup
        for key in {i for ids in frames for i in ids if i is not None} - before:
            storers = [f for f, ids in enumerate(frames) if key in ids and (user, key) not in dups[f]]
            assert len(storers) == 1, (case, key, storers)
        stored = before | {i for ids in frames for i in ids if i is not None}
        nulls = sum(ids.count(None) for ids in frames)
        assert await store.telemetry.count(user) == len(stored) + nulls


async def test_times_and_data_read_back_as_sent(store: Store) -> None:
    data = {"to": [1.0, 0.1 + 0.2, -3.5e-7], "n": 2**62, "name": "é–✓", "deep": {"ok": [True, None]}}
    local = datetime(2024, 5, 1, 14, 30, 0, 500, tzinfo=UTC).astimezone()
    rows = (frame("dan", ["unix"], ts=1_767_222_001.000_001_5, data=data)
            + frame("dan", ["aware"], ts=local) + frame("dan", ["none"], ts=None))
    await store.telemetry.insert_frames([rows])
    got = {e.client_event_id: e for e in await store.telemetry.for_user("dan", 10)}
    assert got["unix"].data == data
    assert as_utc(got["unix"].timestamp) == datetime.fromtimestamp(1_767_222_001.000_001_5, UTC)
    assert as_utc(got["aware"].timestamp) == local
    assert as_utc(got["none"].timestamp) == NOW and as_utc(got["none"].received_at) == NOW


async def test_the_stored_data_text_is_compact_json_of_the_data(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite keeps the text as written; on PostgreSQL the read-back test covers data")
    data = {"to": [1.0, 0.0, 7.0], "s": "x\"y\\z", "u": "é", "big": 2**64 - 1, "n": -(2**63)}
    await store.telemetry.insert_frames([frame("erin", ["j"], data=data)])
    async with store.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT data FROM telemetry_events"))).scalar_one()
    assert stored == data_json(data) == json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(stored) == data


async def test_the_writer_writes_what_is_buffered_in_one_flush_and_answers_each_frame(store: Store) -> None:
    writer = TelemetryWriter(store.telemetry, capacity=10_000, batch=10_000, flush_ms=1)
    first = await writer.submit(frame("fay", ["x", "y"]))
    second = await writer.submit(frame("fay", ["y", "z"]))
    writer.start()  # both frames are queued before the writer's first flush
    async with asyncio.timeout(TIMEOUT):
        assert (await first, await second) == (set(), {("fay", "y")})
    await writer.close()
    assert (writer.stats.flushes, writer.stats.events_written) == (1, 4)
    assert await store.telemetry.count("fay") == 3


async def test_a_full_batch_is_written_without_waiting_out_the_interval(store: Store) -> None:
    writer = TelemetryWriter(store.telemetry, capacity=10_000, batch=5, flush_ms=600_000)
    writer.start()
    partial = await writer.submit(frame("gil", ["p1", "p2"]))
    filling = await writer.submit(frame("gil", ["p3", "p4", "p5"]))  # now 5 = batch are buffered
    async with asyncio.timeout(TIMEOUT):  # far shorter than the ten-minute interval
        assert (await partial, await filling) == (set(), set())
    await writer.close()
    assert await store.telemetry.count("gil") == 5


@settings(max_examples=2000, deadline=None)
@given(st.floats(0, 1e11 - 1) | st.integers(0, 10**11 - 1).map(lambda s: s + 0.5e-6)
       | st.integers(0, 10**11 - 1).map(lambda s: math.nextafter(s + 1, 0)))
def test_unix_times_are_formatted_as_datetime_rounds_them(ts: float) -> None:
    assert _sqlite_unix_time(ts) == _sqlite_time(datetime.fromtimestamp(ts, UTC))
