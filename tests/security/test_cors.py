"""`cors_origins` is enforced and `ws_origins` guards the WebSocket upgrade (issue 15, finding 12).

`cors_origins` was declared and documented but did nothing: a preflight got 405 and no response
carried CORS headers, so no browser page on another origin could use the API, whatever the
setting said."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import AppFactory, bearer, login

APP = "https://app.example.com"
EVIL = "https://evil.example.net"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}


async def test_a_listed_origin_gets_its_preflight_answered_and_headers_on_responses(make_client: AppFactory) -> None:
    client = await make_client(cors_origins=f"{APP}, https://other.example.com")
    resp = await client.options("/api/v1/auth/login", headers={"Origin": APP, **PREFLIGHT})
    assert resp.status == 204, await resp.text()
    assert resp.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert set(resp.headers["Access-Control-Allow-Headers"].split(", ")) == {"authorization", "content-type"}
    assert "Origin" in resp.headers["Vary"]
    token = await login(client)
    resp = await client.get("/api/v1/worlds", headers={"Origin": APP, **bearer(token)})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == APP
    assert "X-Request-Id" in resp.headers["Access-Control-Expose-Headers"]
    resp = await client.get("/api/v1/worlds", headers={"Origin": APP})  # errors carry them too
    assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == APP


async def test_an_unlisted_origin_gets_no_cors_headers_and_a_403_preflight(make_client: AppFactory) -> None:
    client = await make_client(cors_origins=APP)
    resp = await client.options("/api/v1/auth/login", headers={"Origin": EVIL, **PREFLIGHT})
    assert resp.status == 403
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.post("/api/v1/auth/login", json={"user_id": "x"}, headers={"Origin": EVIL})
    assert resp.status == 200 and "Access-Control-Allow-Origin" not in resp.headers


async def test_star_allows_any_origin_and_empty_allows_none(make_client: AppFactory) -> None:
    star = await make_client(cors_origins="*")
    resp = await star.options("/api/v1/prefab-catalog/", headers={"Origin": EVIL, **PREFLIGHT})
    assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == "*"
    none = await make_client(cors_origins="")
    resp = await none.options("/api/v1/prefab-catalog/", headers={"Origin": APP, **PREFLIGHT})
    assert resp.status == 403


async def test_the_predecessors_json_list_form_is_accepted(make_client: AppFactory) -> None:
    client = await make_client(cors_origins='["http://localhost:3000"]')
    resp = await client.options("/api/v1/auth/login", headers={"Origin": "http://localhost:3000", **PREFLIGHT})
    assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


async def _upgrade(client: TestClient, token: str, origin: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}", **({"Origin": origin} if origin else {})}
    try:
        ws = await client.ws_connect("/ws", headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    first = await ws.receive()
    await ws.close()
    return first.type


@pytest.mark.parametrize(("origin", "allowed"), [(APP, True), (None, True), (EVIL, False)])
async def test_ws_origins_refuses_unlisted_browser_origins(make_client: AppFactory, origin: str | None,
                                                           allowed: bool) -> None:
    client = await make_client(ws_origins=APP)
    outcome = await _upgrade(client, await login(client), origin)
    assert (outcome == aiohttp.WSMsgType.BINARY) if allowed else (outcome == 403)


async def test_ws_origins_empty_allows_any_origin(client: TestClient) -> None:
    assert await _upgrade(client, await login(client), EVIL) == aiohttp.WSMsgType.BINARY
