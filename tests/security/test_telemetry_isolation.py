"""One user's bad telemetry never fails another's (issue 15, findings 2 and 11).

Events the store cannot hold (a lone surrogate, U+0000) are refused alone at validation: REST
answers 422, the socket lists the event in `telemetry.ack.rejected`. Should a flush fail anyway,
the writer retries the submissions apart, so only the one that caused it fails. Times outside
datetime's range in UTC are a 422, and a client that aborts its upload is not an ERROR.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from persistence.clock import utcnow
from persistence.telemetry import RowsNotStored
from server.context import SERVICES
from tests.conftest import PG_URL, TIMEOUT, AppFactory, bearer, login, require_service
from tests.persistence.conftest import reset_postgres
from tests.security.traffic_util import connect, eventually, serve
from tests.security.traffic_util import login as login_raw
from tests.session.peer import Peer, rid

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def db(request: Any, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/t.db"
    require_service("PostgreSQL", 5432)
    await reset_postgres(PG_URL)
    return PG_URL


def good_events(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "type": "moved", "ts": 1_790_000_000.0 + i, "data": {"i": i}} for i in range(n)]


async def open_socket(client: Any, user: str) -> Peer:
    token = await login(client, user)
    peer = Peer(await client.ws_connect("/ws", headers=bearer(token)))
    assert (await peer.recv())["type"] == "welcome"
    return peer


# Raw JSON text: json.dumps would escape the lone surrogate the same way, but this is what an
# attacker sends, byte for byte.
BAD_REST_EVENTS = {
    "surrogate in data": b'{"event_type": "x", "data": {"s": "\\ud800"}}',
    "surrogate in a data key": b'{"event_type": "x", "data": {"\\udfff": 1}}',
    "surrogate in event_type": b'{"event_type": "\\ud800"}',
    "NUL in event_type": b'{"event_type": "a\\u0000b"}',
    "NUL in data": b'{"event_type": "x", "data": {"s": ["\\u0000"]}}',
}


@pytest.mark.parametrize("body", BAD_REST_EVENTS.values(), ids=BAD_REST_EVENTS.keys())
async def test_an_unstorable_rest_event_is_refused_alone_and_a_socket_batch_sharing_its_flush_is_acked(
        make_client: AppFactory, db: str, body: bytes) -> None:
    # A flush window long enough that, before the fix, the bad REST event and alice's frame
    # were written in one transaction, which failed for both.
    client = await make_client(database_url=db, telemetry_flush_ms=300)
    alice = await open_socket(client, "alice")
    mallory = await login(client, "mallory")
    r = rid()
    await alice.send(type="telemetry", rid=r, events=good_events("a", 50))
    resp = await client.post("/api/v1/telemetry/", data=body,
                             headers={**bearer(mallory), "Content-Type": "application/json"})
    assert resp.status == 422, await resp.text()
    ack = await alice.until(lambda f: f.get("rid") == r)
    assert ack["type"] == "telemetry.ack", ack
    assert sorted(ack["ids"]) == sorted(f"a-{i}" for i in range(50))
    store = client.app[SERVICES].store
    assert await store.telemetry.count("alice") == 50
    assert await store.telemetry.count("mallory") == 0
    await alice.ws.close()


async def test_a_rest_batch_naming_the_unstorable_event_is_refused_with_its_index(make_client: AppFactory) -> None:
    client = await make_client()
    token = await login(client, "mallory")
    body = b'[{"event_type": "ok"}, {"event_type": "x", "world_id": "w\\ud800"}]'
    resp = await client.post("/api/v1/telemetry/batch", data=body,
                             headers={**bearer(token), "Content-Type": "application/json"})
    assert resp.status == 422
    assert "[1].world_id" in (await resp.json())["details"]


async def test_a_socket_event_holding_nul_is_rejected_alone_in_the_ack(make_client: AppFactory, db: str) -> None:
    client = await make_client(database_url=db)
    peer = await open_socket(client, "alice")
    events = good_events("g", 3) + [{"id": "bad-data", "type": "t", "data": {"k": ["x\x00y"]}},
                                    {"id": "bad-type", "type": "t\x00"}]
    ack = await peer.request("telemetry", events=events)
    assert ack["type"] == "telemetry.ack", ack
    assert sorted(ack["ids"]) == ["g-0", "g-1", "g-2"]
    assert {x["id"]: x["code"] for x in ack["rejected"]} == {"bad-data": 1012, "bad-type": 1012}
    assert await client.app[SERVICES].store.telemetry.count("alice") == 3
    await peer.ws.close()


async def test_a_flush_that_fails_on_one_submission_fails_only_that_submission(
        make_client: AppFactory, db: str) -> None:
    """The net under validation: a row that reaches the writer and cannot be stored."""
    client = await make_client(database_url=db, telemetry_flush_ms=300)
    alice = await open_socket(client, "alice")
    r = rid()
    await alice.send(type="telemetry", rid=r, events=good_events("a", 20))
    now = utcnow()
    poisoned = ("mallory", "m-1", "x\ud800", None, None, None, "{}", now, now)
    bad = await client.app[SERVICES].telemetry.submit([poisoned], divisible=False)
    ack = await alice.until(lambda f: f.get("rid") == r)
    assert ack["type"] == "telemetry.ack" and len(ack["ids"]) == 20, ack
    with pytest.raises(Exception):  # noqa: B017 - the driver's own encoding error
        await asyncio.wait_for(bad, TIMEOUT)
    assert await client.app[SERVICES].store.telemetry.count("alice") == 20
    await alice.ws.close()


async def test_a_socket_frame_whose_own_rows_fail_stores_the_rest_and_names_the_refused(
        make_client: AppFactory, db: str) -> None:
    """Below a submission: a socket frame's rows are written apart, so only the rows the store
    refuses are left out, and the ack rejects them (the writer's side of it: the socket path
    validates first, so no frame can carry such a row)."""
    client = await make_client(database_url=db)
    now = utcnow()
    rows = [("alice", f"g-{i}", "moved", None, None, None, "{}", now, now) for i in range(6)]
    rows.insert(3, ("alice", "bad", "x\ud800", None, None, None, "{}", now, now))
    done = await client.app[SERVICES].telemetry.submit(rows)
    with pytest.raises(RowsNotStored) as refused:
        await asyncio.wait_for(done, TIMEOUT)
    assert refused.value.keys == {("alice", "bad")} and refused.value.duplicates == set()
    assert await client.app[SERVICES].store.telemetry.count("alice") == 6


async def test_an_event_the_store_refuses_is_rejected_in_the_ack_and_nobody_elses_fails(
        make_client: AppFactory) -> None:
    """Validation knows every value the store refuses today; should it miss one, the event is
    found by writing apart and rejected alone. A store that refuses one id stands in for that."""
    client = await make_client(telemetry_flush_ms=300)
    repo = client.app[SERVICES].store.telemetry
    insert_frames = repo.insert_frames

    async def refusing(frames: Any) -> Any:
        if any(row[1] == "poison" for rows in frames for row in rows):
            raise ValueError("the store refuses this row")
        return await insert_frames(frames)

    repo.insert_frames = refusing  # type: ignore[method-assign]
    alice, bob = await open_socket(client, "alice"), await open_socket(client, "bob")
    ra, rb = rid(), rid()
    await alice.send(type="telemetry", rid=ra, events=good_events("a", 5) + [{"id": "poison", "type": "t"}])
    await bob.send(type="telemetry", rid=rb, events=good_events("b", 5))
    ack_a = await alice.until(lambda f: f.get("rid") == ra)
    ack_b = await bob.until(lambda f: f.get("rid") == rb)
    assert ack_a["type"] == "telemetry.ack" and sorted(ack_a["ids"]) == [f"a-{i}" for i in range(5)], ack_a
    assert [(x["id"], x["code"]) for x in ack_a["rejected"]] == [("poison", 1012)]
    assert ack_b["type"] == "telemetry.ack" and len(ack_b["ids"]) == 5, ack_b
    assert await repo.count("alice") == 5 and await repo.count("bob") == 5
    for peer in (alice, bob):
        await peer.ws.close()


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
async def test_a_timestamp_outside_the_utc_range_is_a_422(make_client: AppFactory, stamp: str) -> None:
    client = await make_client()
    token = await login(client, "alice")
    resp = await client.post("/api/v1/telemetry/", json={"event_type": "x", "timestamp": stamp}, headers=bearer(token))
    assert resp.status == 422, await resp.text()
    assert "timestamp" in (await resp.json())["details"]


async def test_a_client_aborting_its_upload_is_not_logged_as_an_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The production runner: the test client's server cancels the handler on a disconnect,
    # `immersiverse serve` lets it see the broken body.
    async with serve(tmp_path) as srv:
        token = await login_raw(srv.port, "alice")
        caplog.set_level(logging.INFO, logger="immersiverse.http")
        reader, writer = await connect(srv.port)
        # Expect: 100-continue: the server's "100 Continue" says the request reached its
        # handler, which then waits for a body that never comes in full.
        writer.write((f"POST /api/v1/telemetry/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 5000\r\n"
                      "Expect: 100-continue\r\n\r\n").encode())
        async with asyncio.timeout(TIMEOUT):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
        writer.write(b'{"event_type": "x", "data": {"pad": "' + b"y" * 100)
        await writer.drain()
        writer.transport.abort()  # a reset mid-body, as a client that gives up
        await eventually(lambda: any(r.name == "immersiverse.http" for r in caplog.records), "the abort was logged")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
