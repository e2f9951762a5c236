"""Connect and authenticate: header token, hello token, deadlines, versions, refresh, revocation."""

from __future__ import annotations

import jwt
import msgpack
from aiohttp.test_utils import TestClient

from protocol.codes import CloseCode, ErrorCode
from tests.conftest import AppFactory, bearer, login
from tests.session.peer import Connect


async def test_header_token_gets_welcome_with_session_and_limits(connect: Connect) -> None:
    peer = await connect("alice")
    w = peer.welcome  # type: ignore[attr-defined]
    assert w["user_id"] == "alice" and w["protocol"] == 1 and len(w["session_id"]) == 16
    assert w["limits"]["max_frame_bytes"] == 1_048_576 and w["heartbeat_s"] == 15.0


async def test_hello_token_authenticates_browsers(connect: Connect) -> None:
    peer = await connect("bob", header=False)
    assert peer.welcome["user_id"] == "bob"  # type: ignore[attr-defined]


async def test_no_hello_before_deadline_closes_unauthorized(make_client: AppFactory) -> None:
    client = await make_client(hello_timeout_s=0.2)
    ws = await client.ws_connect("/ws")
    msg = await ws.receive()
    assert msgpack.unpackb(msg.data)["type"] == "bye"
    await ws.receive()
    assert ws.close_code == CloseCode.UNAUTHORIZED


async def test_invalid_header_token_closes_unauthorized(client: TestClient, connect: Connect) -> None:
    token = await login(client, "mallory")
    forged = jwt.encode(jwt.decode(token, options={"verify_signature": False}), "wrong-key-" * 4, algorithm="HS256")
    peer = await connect(token=forged, welcome=False)
    bye = await peer.recv()
    assert bye["type"] == "bye" and bye["code"] == CloseCode.UNAUTHORIZED and bye["reconnect"] is False
    assert await peer.closed() == CloseCode.UNAUTHORIZED


async def test_unsupported_version_closes_4502_listing_supported(client: TestClient) -> None:
    token = await login(client, "carol")
    ws = await client.ws_connect("/ws")
    await ws.send_bytes(msgpack.packb({"type": "hello", "v": 99, "token": token}))
    bye = msgpack.unpackb((await ws.receive()).data)
    assert bye["type"] == "bye" and bye["supported_versions"] == [1]
    await ws.receive()
    assert ws.close_code == CloseCode.UNSUPPORTED_PROTOCOL_VERSION


async def test_ping_answers_pong_with_rid(connect: Connect) -> None:
    peer = await connect()
    pong = await peer.request("ping")
    assert pong["type"] == "pong" and pong["server_time"] > 0


async def test_refresh_replaces_the_token_in_place(client: TestClient, connect: Connect) -> None:
    peer = await connect("dave")
    fresh = await login(client, "dave")
    ok = await peer.request("auth.refresh", token=fresh)
    assert ok["type"] == "auth.ok" and ok["user_id"] == "dave"
    other = await login(client, "erin")
    err = await peer.request("auth.refresh", token=other)
    assert err["type"] == "error" and err["code"] == ErrorCode.FORBIDDEN
    err = await peer.request("auth.refresh", token=fresh[:-4] + "AAAA")
    assert err["type"] == "error" and err["code"] == ErrorCode.INVALID_TOKEN


async def test_logout_closes_open_socket_within_seconds(client: TestClient, connect: Connect) -> None:
    token = await login(client, "frank")
    peer = await connect(token=token)
    resp = await client.post("/api/v1/auth/logout", headers=bearer(token))
    assert resp.status == 200
    assert await peer.closed(timeout=5) == CloseCode.TOKEN_REVOKED


async def test_revoked_token_is_refused_at_connect(client: TestClient, connect: Connect) -> None:
    token = await login(client, "gina")
    await client.post("/api/v1/auth/logout", headers=bearer(token))
    peer = await connect(token=token, welcome=False)
    assert (await peer.recv())["code"] == CloseCode.TOKEN_REVOKED
