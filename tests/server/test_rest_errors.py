"""The error contract of every REST route, and the seed README's curl examples."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.context import SERVICES
from tests.conftest import bearer, login, make_settings

ERROR_KEYS = {"success", "error", "message", "details"}
JSON_ROUTES = [("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/publish/"),
               ("POST", "/api/v1/telemetry/"), ("POST", "/api/v1/telemetry/batch")]


async def _error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) <= ERROR_KEYS and {"success", "error", "message"} <= set(body), body
    assert body["success"] is False and body["error"] == code and isinstance(body["message"], str)
    assert resp.headers.get("X-Request-Id")
    return dict(body)


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@pytest.mark.parametrize("raw", [b'{"user_id": "alice"', b"not json", b"\xff\xfe", b"", b'{"a": NaN}',
                                 b"[" * 100_000])
async def test_malformed_json_is_400(client: TestClient, token: str, method: str, path: str, raw: bytes) -> None:
    resp = await client.request(method, path, data=raw,
                                headers={**bearer(token), "Content-Type": "application/json"})
    await _error(resp, 400, "bad_request")


async def test_missing_and_wrong_fields_are_422_naming_each_field(client: TestClient, token: str) -> None:
    resp = await client.post("/api/v1/publish/", json={"title": 5, "tags": "x"}, headers=bearer(token))
    body = await _error(resp, 422, "validation_error")
    assert set(body["details"]) == {"world_blueprint_id", "title", "description", "tags"}
    assert body["details"]["world_blueprint_id"] == "field required"
    assert "world_blueprint_id" in body["message"] and "title" in body["message"]


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_a_body_over_max_body_bytes_is_413(make_client: Any, method: str, path: str) -> None:
    client = await make_client(max_body_bytes=1024)
    token = await login(client)
    big = {"event_type": "x", "user_id": "alice", "data": {"blob": "x" * 2000}}
    resp = await client.request(method, path, json=big, headers=bearer(token))
    body = await _error(resp, 413, "payload_too_large")
    assert "1024" in body["message"]
    assert await client.app[SERVICES].store.telemetry.count() == 0


async def test_a_body_just_under_the_limit_is_accepted(make_client: Any) -> None:
    client = await make_client(max_body_bytes=1024)
    token = await login(client)
    event = {"event_type": "x", "data": {"blob": "x" * 900}}
    assert len(json.dumps(event)) < 1024
    resp = await client.post("/api/v1/telemetry/", json=event, headers=bearer(token))
    assert resp.status == 200, await resp.text()


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v1/publish/experiences/a/b", "/api/v2/health"])
async def test_unknown_routes_are_404_json(client: TestClient, path: str) -> None:
    body = await _error(await client.get(path), 404, "not_found")
    assert path in body["message"]


async def test_a_wrong_method_is_405_json_with_allow(client: TestClient) -> None:
    resp = await client.delete("/api/v1/auth/login")
    await _error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


async def test_a_client_request_id_is_echoed(client: TestClient) -> None:
    resp = await client.get("/nope", headers={"X-Request-Id": "unity-req-17"})
    assert resp.headers["X-Request-Id"] == "unity-req-17"
    resp = await client.get("/health", headers={"X-Request-Id": "unity-req-18"})
    assert resp.status == 200 and resp.headers["X-Request-Id"] == "unity-req-18"


async def test_a_handler_bug_is_500_without_internals(aiohttp_client: Any, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    secret = "db password is hunter2 at /srv/app/secret.py"

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError(secret)

    app = create_app(make_settings(tmp_path))
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="immersiverse.http"):
        resp = await client.get("/boom")
    text = await resp.text()
    body = await _error(resp, 500, "internal_error")
    request_id = resp.headers["X-Request-Id"]
    assert request_id in body["message"]
    for leak in ("hunter2", "RuntimeError", "Traceback", "secret.py"):
        assert leak not in text
    assert secret in caplog.text and request_id in caplog.text  # the operator still sees it


# -- the seed README's examples (original-README.md, "Example Usage"), same bodies ---------------

async def test_readme_example_generate_a_world(client: TestClient) -> None:
    token = await login(client, "user123")
    resp = await client.post("/api/v1/prompt2world/", headers={**bearer(token), "Content-Type": "application/json"},
                             data=json.dumps({"prompt": "A mystical forest with ancient trees and glowing mushrooms",
                                              "user_id": "user123"}))
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is True and isinstance(body["message"], str)
    assert isinstance(body["processing_time_ms"], int | float)
    world = body["world_blueprint"]
    assert {"id", "prompt", "world_type", "title", "description", "environment_settings", "prefab_instances",
            "spawn_points", "created_at", "updated_at", "processing_time_ms"} <= set(world)
    assert world["prefab_instances"] and world["spawn_points"]
    inst = world["prefab_instances"][0]
    assert {"id", "prefab_id", "prefab_type", "position", "rotation", "scale", "properties"} <= set(inst)
    assert set(inst["rotation"]) == {"x", "y", "z", "w"} and set(inst["position"]) == {"x", "y", "z"}


async def test_readme_example_get_prefab_catalog(client: TestClient) -> None:
    token = await login(client, "user123")
    resp = await client.get("/api/v1/prefab-catalog/", headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200 and body["success"] is True and len(body["prefabs"]) == 50


async def test_readme_example_log_telemetry_event(client: TestClient) -> None:
    token = await login(client, "user123")
    resp = await client.post("/api/v1/telemetry/", headers={**bearer(token), "Content-Type": "application/json"},
                             data=json.dumps({"event_type": "world_entered", "user_id": "user123",
                                              "session_id": "session456", "world_id": "world789",
                                              "data": {"action": "enter"}}))
    assert resp.status == 200
    assert await resp.json() == {"success": True, "message": "Telemetry event logged successfully"}
    assert await client.app[SERVICES].store.telemetry.count("user123") == 1


async def test_readme_example_login(client: TestClient) -> None:
    resp = await client.post("/api/v1/auth/login", json={"user_id": "user123"})
    assert resp.status == 200 and (await resp.json())["user_id"] == "user123"


async def test_root_and_health_need_no_token(client: TestClient) -> None:
    for path in ("/", "/health"):
        resp = await client.get(path)
        assert resp.status == 200 and resp.content_type == "application/json"
