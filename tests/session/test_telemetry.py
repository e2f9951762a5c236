"""Telemetry on the socket: acked only once durable, duplicates ignored, nothing dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from persistence.store import Store
from server.context import SERVICES
from tests.conftest import AppFactory, login
from tests.session.peer import Connect, Peer, rid


def events(prefix: str, n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "type": "world_entered", "ts": 1_790_000_000.0 + i,
             "data": {"i": i}, **extra} for i in range(n)]


async def test_acked_ids_equal_rows_stored(client: TestClient, connect: Connect) -> None:
    peer = await connect("alice")
    ack = await peer.request("telemetry", events=events("a", 120, world_id="w1"))
    assert ack["type"] == "telemetry.ack" and sorted(ack["ids"]) == sorted(f"a-{i}" for i in range(120))
    store = client.app[SERVICES].store
    assert await store.telemetry.count("alice") == 120
    stored = await store.telemetry.for_user("alice", 500)
    assert {e.client_event_id for e in stored} == set(ack["ids"])
    assert all(e.world_id == "w1" and e.session_id == peer.welcome["session_id"] for e in stored)  # type: ignore[attr-defined]


async def test_duplicate_ids_are_stored_once_and_reported(client: TestClient, connect: Connect) -> None:
    peer = await connect("bob")
    await peer.request("telemetry", events=events("b", 10))
    ack = await peer.request("telemetry", events=events("b", 15))
    assert sorted(ack["duplicates"]) == sorted(f"b-{i}" for i in range(10))
    assert len(ack["ids"]) == 15
    assert await client.app[SERVICES].store.telemetry.count("bob") == 15


async def test_same_ids_from_another_user_are_not_duplicates(client: TestClient, connect: Connect) -> None:
    a, b = await connect("u1"), await connect("u2")
    await a.request("telemetry", events=events("x", 5))
    ack = await b.request("telemetry", events=events("x", 5))
    assert ack["duplicates"] == [] if "duplicates" in ack else True
    assert await client.app[SERVICES].store.telemetry.count() == 10


async def test_an_id_sent_on_two_sockets_into_one_flush_is_stored_once_and_reported_once(
        make_client: AppFactory) -> None:
    # The writer waits (up to a minute) for a batch of 6 events: both frames go in one transaction.
    client = await make_client(telemetry_flush_ms=60_000, telemetry_batch=6)
    token = await login(client, "gus")
    a, b = [Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})) for _ in range(2)]
    for p in (a, b):
        await p.recv()
    ra, rb = rid(), rid()
    await a.send(type="telemetry", rid=ra, events=events("a", 3))
    await b.send(type="telemetry", rid=rb, events=events("a", 1) + events("b", 2))
    acks = [await a.until(lambda f: f.get("rid") == ra), await b.until(lambda f: f.get("rid") == rb)]
    assert [len(ack["ids"]) for ack in acks] == [3, 3]
    assert sorted(acks[0]["duplicates"] + acks[1]["duplicates"]) == ["a-0"]
    assert client.app[SERVICES].telemetry.stats.flushes == 1
    assert await client.app[SERVICES].store.telemetry.count("gus") == 5


async def test_a_bad_event_is_rejected_alone(client: TestClient, connect: Connect) -> None:
    peer = await connect("carol")
    batch = events("c", 3)
    batch[1]["data"] = {"blob": "x" * 9000}  # over the per-event payload limit
    ack = await peer.request("telemetry", events=batch)
    assert [r["id"] for r in ack["rejected"]] == ["c-1"]
    assert sorted(ack["ids"]) == ["c-0", "c-2"]
    assert await client.app[SERVICES].store.telemetry.count("carol") == 2


async def test_a_tiny_buffer_applies_backpressure_and_drops_nothing(make_client: AppFactory) -> None:
    client = await make_client(telemetry_buffer_events=50, telemetry_batch=50, telemetry_flush_ms=1)
    writer = client.app[SERVICES].telemetry
    peak = 0
    original = writer.submit

    async def watched(rows: list[dict[str, Any]]) -> Any:
        nonlocal peak
        fut = await original(rows)
        peak = max(peak, writer.depth)
        return fut

    writer.submit = watched  # type: ignore[method-assign]
    peers = [Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, u)}"}))
             for u in ("p1", "p2", "p3")]
    for p in peers:
        await p.recv()
    rids: dict[int, Peer] = {}
    for n in range(10):
        for i, p in enumerate(peers):
            r = rid()
            rids[r] = p
            await p.send(type="telemetry", rid=r, events=events(f"{n}-{i}", 40))
    for r, p in rids.items():
        ack = await p.until(lambda f, r=r: f.get("rid") == r)
        assert ack["type"] == "telemetry.ack" and len(ack["ids"]) == 40
    assert await client.app[SERVICES].store.telemetry.count() == 3 * 10 * 40
    assert peak <= 50 + 40  # the bound holds (one batch may enter an empty buffer)


async def test_shutdown_flushes_buffered_telemetry(make_client: AppFactory, tmp_path: Path) -> None:
    client = await make_client(telemetry_flush_ms=60_000, telemetry_batch=100_000)
    peer = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, 'dan')}"}))
    await peer.recv()
    await peer.send(type="telemetry", rid=rid(), events=events("d", 37))
    writer = client.app[SERVICES].telemetry
    async with asyncio.timeout(5):
        while writer.depth < 37:  # buffered, not yet written (the flush interval is a minute)
            await asyncio.sleep(0.01)
    url = client.app[SERVICES].settings.database_url
    await client.close()  # graceful shutdown: drain sessions, flush the writer, close the store
    store = Store(url)
    try:
        assert await store.telemetry.count("dan") == 37
    finally:
        await store.close()
