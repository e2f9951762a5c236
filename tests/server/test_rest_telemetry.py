"""/api/v1/telemetry: single events, batches, reading your own events back."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.context import SERVICES
from tests.conftest import bearer, login


def _event(**changes: Any) -> dict[str, Any]:
    ev = {"event_type": "world_entered", "user_id": "alice", "session_id": "session456",
          "world_id": "world789", "data": {"action": "enter"}, **changes}
    return {k: v for k, v in ev.items() if v is not None}


async def _count(client: TestClient, user: str = "alice") -> int:
    return await client.app[SERVICES].store.telemetry.count(user)


async def _error(resp: Any, status: int, code: str) -> dict[str, Any]:
    body = await resp.json()
    assert resp.status == status, body
    assert body["success"] is False and body["error"] == code
    return dict(body)


async def test_a_single_event_is_stored(client: TestClient, token: str) -> None:
    resp = await client.post("/api/v1/telemetry/", json=_event(), headers=bearer(token))
    assert resp.status == 200
    assert await resp.json() == {"success": True, "message": "Telemetry event logged successfully"}
    assert await _count(client) == 1  # durable before the answer
    [row] = await client.app[SERVICES].store.telemetry.for_user("alice", 10)
    assert (row.event_type, row.session_id, row.world_id, row.data) == (
        "world_entered", "session456", "world789", {"action": "enter"})


async def test_only_event_type_is_required(client: TestClient, token: str) -> None:
    resp = await client.post("/api/v1/telemetry/", json={"event_type": "ping"}, headers=bearer(token))
    assert resp.status == 200 and await _count(client) == 1


async def test_a_batch_is_stored_and_counted_in_the_message(client: TestClient, token: str) -> None:
    batch = [_event(event_type=f"e{i}") for i in range(3)]
    resp = await client.post("/api/v1/telemetry/batch", json=batch, headers=bearer(token))
    assert resp.status == 200
    assert await resp.json() == {"success": True, "message": "Successfully logged 3 telemetry events"}
    assert await _count(client) == 3


async def test_an_empty_batch_logs_nothing(client: TestClient, token: str) -> None:
    resp = await client.post("/api/v1/telemetry/batch", json=[], headers=bearer(token))
    assert (await resp.json())["message"] == "Successfully logged 0 telemetry events"
    assert await _count(client) == 0


async def test_a_retried_event_id_is_stored_once(client: TestClient, token: str) -> None:
    for _ in range(2):
        resp = await client.post("/api/v1/telemetry/", json=_event(event_id="ev-1"), headers=bearer(token))
        assert resp.status == 200
    assert await _count(client) == 1


async def test_a_batch_with_a_bad_event_stores_nothing(client: TestClient, token: str) -> None:
    batch = [_event(), _event(event_type=""), _event(data=[1])]
    body = await _error(await client.post("/api/v1/telemetry/batch", json=batch, headers=bearer(token)),
                        422, "validation_error")
    assert set(body["details"]) == {"[1].event_type"}  # the first bad event is reported
    assert await _count(client) == 0


@pytest.mark.parametrize("payload", [{"event_type": "x"}, "events", 3])
async def test_a_batch_must_be_an_array(client: TestClient, token: str, payload: Any) -> None:
    body = await _error(await client.post("/api/v1/telemetry/batch", json=payload, headers=bearer(token)),
                        422, "validation_error")
    assert "body" in body["details"]


async def test_a_batch_over_the_event_limit_is_422(make_client: Any) -> None:
    client = await make_client(telemetry_max_events=2)
    token = await login(client)
    resp = await client.post("/api/v1/telemetry/batch", json=[_event()] * 3, headers=bearer(token))
    await _error(resp, 422, "validation_error")
    assert await _count(client) == 0


@pytest.mark.parametrize(("changes", "field"), [
    ({"event_type": None}, "event_type"), ({"event_type": ""}, "event_type"), ({"data": "x"}, "data"),
    ({"timestamp": "yesterday"}, "timestamp"), ({"world_id": 5}, "world_id"),
    ({"data": {"blob": "x" * 9000}}, "data"),
])
async def test_bad_events_are_422_naming_the_field(client: TestClient, token: str,
                                                   changes: dict[str, Any], field: str) -> None:
    body = await _error(await client.post("/api/v1/telemetry/", json=_event(**changes), headers=bearer(token)),
                        422, "validation_error")
    assert field in body["details"]


async def test_logging_for_another_user_is_403(client: TestClient, token: str) -> None:
    await _error(await client.post("/api/v1/telemetry/", json=_event(user_id="bob"), headers=bearer(token)),
                 403, "forbidden")
    batch = [_event(), _event(user_id="bob")]
    await _error(await client.post("/api/v1/telemetry/batch", json=batch, headers=bearer(token)), 403, "forbidden")
    assert await _count(client) == 0 and await _count(client, "bob") == 0


async def test_events_come_back_newest_first(client: TestClient, token: str) -> None:
    stamps = ["2024-01-01T11:00:00Z", "2024-01-01T09:00:00", "2024-01-01T12:00:00+02:00",  # = 10:00Z
              "2024-01-01T11:30:00.250Z"]
    batch = [_event(event_type=f"at-{i}", timestamp=s) for i, s in enumerate(stamps)]
    assert (await client.post("/api/v1/telemetry/batch", json=batch, headers=bearer(token))).status == 200
    resp = await client.get("/api/v1/telemetry/events/user/alice", headers=bearer(token))
    events = await resp.json()
    assert resp.status == 200 and isinstance(events, list)
    assert [e["event_type"] for e in events] == ["at-3", "at-0", "at-2", "at-1"]
    assert [e["timestamp"] for e in events] == ["2024-01-01T11:30:00.250000Z", "2024-01-01T11:00:00Z",
                                                "2024-01-01T10:00:00Z", "2024-01-01T09:00:00Z"]
    first = events[0]
    assert {"event_type", "user_id", "session_id", "world_id", "data", "timestamp"} <= set(first)
    assert (first["user_id"], first["session_id"], first["world_id"], first["data"]) == (
        "alice", "session456", "world789", {"action": "enter"})


async def test_events_are_limited_default_100(client: TestClient, token: str) -> None:
    batch = [_event(event_type=f"e{i}") for i in range(105)]
    assert (await client.post("/api/v1/telemetry/batch", json=batch, headers=bearer(token))).status == 200
    path = "/api/v1/telemetry/events/user/alice"
    assert len(await (await client.get(path, headers=bearer(token))).json()) == 100
    assert len(await (await client.get(path + "?limit=7", headers=bearer(token))).json()) == 7
    await _error(await client.get(path + "?limit=0", headers=bearer(token)), 422, "validation_error")


async def test_reading_another_users_events_is_403(client: TestClient, token: str) -> None:
    bob = await login(client, "bob")
    await client.post("/api/v1/telemetry/", json=_event(user_id="bob"), headers=bearer(bob))
    await _error(await client.get("/api/v1/telemetry/events/user/bob", headers=bearer(token)), 403, "forbidden")


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/v1/telemetry/"), ("POST", "/api/v1/telemetry/batch"),
                                              ("GET", "/api/v1/telemetry/events/user/alice")])
async def test_telemetry_needs_a_token(client: TestClient, method: str, path: str) -> None:
    await _error(await client.request(method, path, json=_event()), 401, "unauthorized")


@pytest.mark.parametrize("raw", ['{"event_type": "x", "data": {"v": NaN}}',
                                 '{"event_type": "x", "data": {"v": -Infinity}}',
                                 '{"event_type": "x", "data": {"v": 1e999}}'])
async def test_non_finite_numbers_are_not_json(client: TestClient, token: str, raw: str) -> None:
    """They would be stored, then break every later read of the user's events."""
    resp = await client.post("/api/v1/telemetry/", data=raw,
                             headers={**bearer(token), "Content-Type": "application/json"})
    await _error(resp, 400, "bad_request")
    resp = await client.get("/api/v1/telemetry/events/user/alice", headers=bearer(token))
    assert resp.status == 200 and await resp.json() == []
