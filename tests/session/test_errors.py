"""Every error frame and close path of docs/protocol.md §8–§9 over a real socket.

Each case also checks that the session survives (or closes with the documented code) and
that another user's session is unaffected.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest
from aiohttp.test_utils import TestClient

from protocol.codes import CloseCode, ErrorCode
from server.context import SERVICES
from server.node import NODE
from tests.conftest import AppFactory, login
from tests.session.peer import Connect, Peer, rid


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


DECODE_CASES = [
    ("bad_frame", b"\xc1", ErrorCode.BAD_FRAME),
    ("truncated", msgpack.packb({"type": "ping", "rid": 1})[:-1], ErrorCode.BAD_FRAME),
    ("not_a_map", msgpack.packb([1, 2, 3]), ErrorCode.NOT_A_MAP),
    ("invalid_utf8", b"\x82\xa4type\xa4ping\xa3rid\xa2\xff\xfe", ErrorCode.INVALID_UTF8),
    ("ext_type", msgpack.packb({"type": "ping", "rid": msgpack.ExtType(5, b"x")}), ErrorCode.UNSUPPORTED_TYPE),
    ("too_deep", msgpack.packb({"type": "ping", "rid": 1, "x": _deep(40)}), ErrorCode.TOO_DEEP),
    ("too_many_items", msgpack.packb({"type": "ping", "rid": 1, "x": list(range(20_000))}), ErrorCode.TOO_MANY_ITEMS),
    ("string_too_long", msgpack.packb({"type": "ping", "rid": 1, "x": "a" * 70_000}), ErrorCode.STRING_TOO_LONG),
    ("unknown_type", msgpack.packb({"type": "teleport", "rid": 1}), ErrorCode.UNKNOWN_TYPE),
    ("missing_field", msgpack.packb({"type": "cancel", "rid": 1}), ErrorCode.MISSING_FIELD),
    ("wrong_type", msgpack.packb({"type": "prompt", "rid": 1, "prompt": 5}), ErrorCode.WRONG_TYPE),
    ("invalid_value", msgpack.packb({"type": "prompt", "rid": 1, "prompt": "x", "max_instances": -3}),
     ErrorCode.INVALID_VALUE),
    ("non_finite", msgpack.packb({"type": "presence", "world_id": "w", "cursor": [float("nan"), 0.0, 0.0]}),
     ErrorCode.NON_FINITE_NUMBER),
]


@pytest.mark.parametrize(("name", "frame", "code"), DECODE_CASES, ids=[c[0] for c in DECODE_CASES])
async def test_bad_frames_get_documented_error_codes_and_the_session_goes_on(
        connect: Connect, name: str, frame: bytes, code: ErrorCode) -> None:
    peer, bystander = await connect("alice"), await connect("bob")
    await peer.send_raw(frame)
    err = await peer.until_type("error")
    assert err["code"] == code, err
    assert err["name"] == code.wire_name and err["message"]
    assert (await peer.request("ping"))["type"] == "pong"
    assert (await bystander.request("ping"))["type"] == "pong"


async def test_error_for_a_decodable_map_carries_its_rid(connect: Connect) -> None:
    peer = await connect()
    await peer.send(type="prompt", rid=4242, prompt=7)
    err = await peer.until_type("error")
    assert err["rid"] == 4242 and "prompt" in err["fields"]


async def test_text_frames_are_bad_frames(connect: Connect) -> None:
    peer = await connect()
    await peer.ws.send_str("hello")
    assert (await peer.until_type("error"))["code"] == ErrorCode.BAD_FRAME


async def test_repeated_malformed_frames_close_4503(connect: Connect) -> None:
    peer = await connect()
    for _ in range(5):
        await peer.send_raw(b"\xc1")
    assert await peer.closed() == CloseCode.PROTOCOL_VIOLATION
    bye = next(f for f in peer.seen if f.get("type") == "bye")
    assert bye["code"] == CloseCode.PROTOCOL_VIOLATION and bye["reconnect"] is False


async def test_frame_over_the_limit_closes_1009(make_client: AppFactory) -> None:
    client = await make_client(max_frame_bytes=4096)
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client)}"})
    await ws.receive()  # welcome
    await ws.send_bytes(msgpack.packb({"type": "ping", "rid": 1, "pad": "x" * 5000}))
    peer = Peer(ws)
    assert await peer.closed() == CloseCode.MESSAGE_TOO_BIG
    assert any(f.get("code") == ErrorCode.FRAME_TOO_LARGE for f in peer.seen if f["type"] == "error")


async def test_far_oversized_frame_is_refused_by_the_transport_with_1009(make_client: AppFactory) -> None:
    client = await make_client(max_frame_bytes=4096)
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client)}"})
    await ws.receive()
    await ws.send_bytes(b"\x00" * 20_000)
    assert await Peer(ws).closed() == CloseCode.MESSAGE_TOO_BIG


async def test_later_hello_is_already_authenticated(connect: Connect) -> None:
    peer = await connect()
    await peer.request("ping")
    await peer.send(type="hello", v=1)
    assert (await peer.until_type("error"))["code"] == ErrorCode.ALREADY_AUTHENTICATED


async def test_rate_limit_answers_retry_after_then_closes_4002(make_client: AppFactory) -> None:
    client = await make_client(msgs_per_s=1.0, msgs_burst=3)
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client)}"})
    peer = Peer(ws)
    await peer.recv()
    for _ in range(3 + 25):
        await peer.send(type="ping", rid=rid())
    limited = await peer.until(lambda f: f.get("code") == ErrorCode.RATE_LIMITED)
    assert limited["retry_after_s"] > 0
    assert await peer.closed() == CloseCode.RATE_LIMITED


async def test_prompt_budget_is_separate_and_smaller(make_client: AppFactory) -> None:
    client = await make_client(prompts_per_min=1)
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client)}"})
    peer = Peer(ws)
    await peer.recv()
    await peer.generate("a forest", max_instances=10)
    err = await peer.request("prompt", prompt="another forest", max_instances=10)
    assert err["code"] == ErrorCode.RATE_LIMITED and err["retry_after_s"] > 0
    assert (await peer.request("ping"))["type"] == "pong"


async def test_idle_session_is_closed_4000(make_client: AppFactory) -> None:
    client = await make_client(idle_timeout_s=0.3)
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client)}"})
    assert await Peer(ws).closed() == CloseCode.IDLE_TIMEOUT


async def test_expired_token_closes_4003(make_client: AppFactory) -> None:
    client = await make_client(token_ttl_s=1, revocation_poll_s=0.1)
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client)}"})
    peer = Peer(ws)
    await peer.recv()
    assert await peer.closed(timeout=5) == CloseCode.TOKEN_EXPIRED


async def test_connection_limit_per_user_closes_4004(make_client: AppFactory) -> None:
    client = await make_client(max_connections_per_user=1)
    token = await login(client)
    first = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"}))
    assert (await first.recv())["type"] == "welcome"
    second = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"}))
    bye = await second.recv()
    assert bye["type"] == "bye" and bye["retry_after_s"] > 0 and bye["reconnect"] is True
    assert await second.closed() == CloseCode.CONNECTION_LIMIT
    assert (await first.request("ping"))["type"] == "pong"


async def test_connection_limit_per_ip_closes_4004(make_client: AppFactory) -> None:
    client = await make_client(max_connections_per_ip=1)
    first = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, 'a')}"}))
    await first.recv()
    second = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, 'b')}"}))
    assert await second.closed() == CloseCode.CONNECTION_LIMIT


async def test_token_of_a_deleted_account_closes_4504(client: TestClient, connect: Connect) -> None:
    token = await login(client, "ghost")
    store = client.app[SERVICES].store
    from sqlalchemy import delete

    from persistence.models import User

    async with store.sessions() as s, s.begin():
        await s.execute(delete(User).where(User.id == "ghost"))
    peer = await connect(token=token, welcome=False)
    assert await peer.closed() == CloseCode.FORBIDDEN


async def test_handler_bug_is_an_internal_error_frame_and_the_session_survives(
        client: TestClient, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.session import Session

    async def broken(self: Session, msg: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Session, "_on_ping", broken)
    peer = await connect()
    err = await peer.request("ping")
    assert err["code"] == ErrorCode.INTERNAL and "secret" not in err["message"]
    assert (await peer.request("cancel", target=1))["code"] == ErrorCode.UNKNOWN_REQUEST


async def test_loop_bug_closes_1011_without_leaking(connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.session import Session

    async def broken(self: Session, data: bytes) -> None:
        raise RuntimeError("secret internals")

    peer = await connect()
    monkeypatch.setattr(Session, "_receive_frame", broken)
    await peer.send(type="ping", rid=1)
    assert await peer.closed() == CloseCode.INTERNAL_ERROR
    assert all("secret" not in str(f) for f in peer.seen)


async def test_draining_server_refuses_prompts_as_unavailable(client: TestClient, connect: Connect) -> None:
    peer = await connect()
    client.app[NODE].draining = True
    try:
        err = await peer.request("prompt", prompt="a forest")
        assert err["code"] == ErrorCode.UNAVAILABLE
    finally:
        client.app[NODE].draining = False


async def test_world_quota_refuses_generation_as_limit_exceeded(make_client: AppFactory) -> None:
    client = await make_client(max_worlds_per_user=1)
    token = await login(client)
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    peer = Peer(ws)
    await peer.recv()
    await peer.generate("a forest", max_instances=10)
    err = await peer.request("prompt", prompt="another forest", max_instances=10)
    assert err["code"] == ErrorCode.LIMIT_EXCEEDED
    # (the check runs beside the plan: a refusal still comes before anything is stored or sent)
    listed = await (await client.get("/api/v1/worlds", headers={"Authorization": f"Bearer {token}"})).json()
    assert listed["total_count"] == 1, listed


async def test_a_prompt_reusing_a_running_rid_is_a_conflict(connect: Connect) -> None:
    peer = await connect()
    await peer.send(type="prompt", rid=77, prompt="a vast forest", max_instances=20000)
    await peer.until_type("gen.start", rid=77)
    await peer.send(type="prompt", rid=77, prompt="again")
    err = await peer.until(lambda f: f.get("type") == "error" and f.get("rid") == 77)
    assert err["code"] == ErrorCode.CONFLICT
    await peer.send(type="cancel", rid=78, target=77)
    await peer.until_type("cancelled", rid=78)


async def test_shutdown_says_going_away_1001(make_client: AppFactory) -> None:
    client = await make_client()
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client)}"})
    peer = Peer(ws)
    await peer.recv()
    closing = asyncio.ensure_future(peer.closed())
    await client.server.runner.shutdown()  # the app's on_shutdown: drain
    assert await closing == CloseCode.GOING_AWAY
    bye = next(f for f in peer.seen if f.get("type") == "bye")
    assert bye["reconnect"] is True and bye["retry_after_s"] >= 0
