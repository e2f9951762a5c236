"""Telemetry is bounded per user and in time (issue 15, finding 5): a quota of events and bytes per
user per minute, shared by every socket and REST request of the user, and a retention purge.

Over the quota the socket answers `error` `rate_limited` with the frame's rid and
`retry_after_s` (`limit_exceeded` when one frame is more than a minute's budget); REST
answers 429 with Retry-After. Nothing of a refused request is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from persistence.clock import utcnow
from server.context import SERVICES
from tests.conftest import AppFactory, bearer, login
from tests.security.traffic_util import eventually
from tests.session.peer import Peer


def events(prefix: str, n: int, pad: int = 0) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "type": "moved", "data": {"pad": "x" * pad}} for i in range(n)]


async def sockets(client: Any, user: str, n: int) -> list[Peer]:
    token = await login(client, user)
    peers = []
    for _ in range(n):
        peer = Peer(await client.ws_connect("/ws", headers=bearer(token)))
        assert (await peer.recv())["type"] == "welcome"
        peers.append(peer)
    return peers


async def test_the_event_quota_is_shared_by_a_users_sockets_and_rest_and_spares_other_users(
        make_client: AppFactory) -> None:
    client = await make_client(telemetry_events_per_user_min=100)
    a1, a2, a3 = await sockets(client, "alice", 3)
    for i, peer in enumerate((a1, a2)):
        ack = await peer.request("telemetry", events=events(f"s{i}", 40))
        assert ack["type"] == "telemetry.ack" and len(ack["ids"]) == 40, ack
    refused = await a3.request("telemetry", events=events("s3", 40))  # 120 > 100 in one minute
    assert refused["type"] == "error" and refused["name"] == "rate_limited", refused
    assert refused["retry_after_s"] > 0
    token = await login(client, "alice")
    resp = await client.post("/api/v1/telemetry/batch", json=[{"event_type": "x"}] * 30, headers=bearer(token))
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1, await resp.text()
    (bob,) = await sockets(client, "bob", 1)
    ack = await bob.request("telemetry", events=events("b", 40))
    assert ack["type"] == "telemetry.ack" and len(ack["ids"]) == 40, ack
    store = client.app[SERVICES].store
    assert await store.telemetry.count("alice") == 80
    for peer in (a1, a2, a3, bob):
        await peer.ws.close()


async def test_the_byte_quota_counts_what_would_be_stored(make_client: AppFactory) -> None:
    client = await make_client(telemetry_bytes_per_user_min=20_000)
    (peer,) = await sockets(client, "alice", 1)
    ack = await peer.request("telemetry", events=events("a", 4, pad=4000))
    assert ack["type"] == "telemetry.ack" and len(ack["ids"]) == 4, ack
    refused = await peer.request("telemetry", events=events("b", 2, pad=4000))
    assert refused["type"] == "error" and refused["name"] == "rate_limited", refused
    token = await login(client, "alice")
    resp = await client.post("/api/v1/telemetry/", json={"event_type": "x", "data": {"pad": "y" * 4000}},
                             headers=bearer(token))
    assert resp.status == 429, await resp.text()
    assert await client.app[SERVICES].store.telemetry.count("alice") == 4
    await peer.ws.close()


async def test_a_frame_larger_than_a_minutes_budget_is_limit_exceeded(make_client: AppFactory) -> None:
    client = await make_client(telemetry_events_per_user_min=10)
    (peer,) = await sockets(client, "alice", 1)
    refused = await peer.request("telemetry", events=events("a", 11))
    assert refused["type"] == "error" and refused["name"] == "limit_exceeded", refused
    await peer.ws.close()


async def test_the_purge_deletes_events_received_before_the_retention_and_keeps_the_rest(
        make_client: AppFactory) -> None:
    client = await make_client(telemetry_retention_days=30, telemetry_purge_interval_s=0.05)
    store = client.app[SERVICES].store
    old = utcnow() - timedelta(days=31)
    # Old rows as a previous month's server stored them; the client's own time says nothing
    # about when we received them (a far-future timestamp must not keep an event forever).
    await store.telemetry.insert([{"user_id": "alice", "client_event_id": f"old-{i}", "event_type": "x",
                                   "data": {}, "timestamp": utcnow() + timedelta(days=3650), "received_at": old}
                                  for i in range(30)])
    token = await login(client, "alice")
    resp = await client.post("/api/v1/telemetry/batch", json=[{"event_type": "new", "event_id": f"n-{i}"}
                                                               for i in range(5)], headers=bearer(token))
    assert resp.status == 200, await resp.text()

    async def only_new_left() -> bool:
        return await store.telemetry.count("alice") == 5

    await eventually(only_new_left, "the purge removed the 30 old events")
    resp = await client.get("/api/v1/telemetry/events/user/alice", headers=bearer(token))
    assert sorted(e["event_id"] for e in await resp.json()) == [f"n-{i}" for i in range(5)]
