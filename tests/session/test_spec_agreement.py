"""Places where the server once differed from docs/protocol.md, each over a real socket:
a second hello, liveness and idle closes, the protocol-violation budget, presence over its
limit, the snapshot header's status and Vector3 shape, identical edits, the slow
consumer's bye, and bye.reason."""

from __future__ import annotations

import asyncio

import msgpack
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from protocol.codes import CloseCode, ErrorCode
from server.node import NODE
from tests.conftest import TIMEOUT, AppFactory, bearer, login
from tests.session.peer import Connect, Peer, open_peer, public_world, rid, stalled_member
from tests.session.test_worlds import join, make_world


def server_session(client: TestClient, user: str) -> object:
    return next(s for s in client.app[NODE].registry.sessions if s.user_id == user)


# -- §3.3 hello ---------------------------------------------------------------------------------
async def test_a_second_hello_on_a_hello_authenticated_session_is_already_authenticated(connect: Connect) -> None:
    peer = await connect("bob", header=False)
    await peer.send(type="hello", v=1, token="eyJ.e30.sig")
    frame = await peer.recv()
    assert frame["type"] == "error" and frame["code"] == ErrorCode.ALREADY_AUTHENTICATED, frame
    assert (await peer.request("ping"))["type"] == "pong"


async def test_header_then_hello_gets_one_replacing_welcome_and_no_third(connect: Connect) -> None:
    peer = await connect("carol")
    await peer.send(type="hello", v=1)
    second = await peer.recv()
    assert second["type"] == "welcome" and second["session_id"] == peer.welcome["session_id"]  # type: ignore[attr-defined]
    await peer.send(type="hello", v=1)
    assert (await peer.recv())["code"] == ErrorCode.ALREADY_AUTHENTICATED


# -- §4.2 liveness --------------------------------------------------------------------------------
async def test_a_silent_client_that_answers_pings_is_closed_4000_with_bye(make_client: AppFactory) -> None:
    # WebSocket pongs (sent by the client library on its own) are not activity: without the
    # fix, every pong restarted the idle timer and the session never ended. They do prove
    # the peer is there: the close is for idleness, not for a missing pong.
    client = await make_client(heartbeat_s=0.1, pong_timeout_s=0.3, idle_timeout_s=1.0)
    ws = await client.ws_connect("/ws", headers=bearer(await login(client)), autoping=True)
    peer = Peer(ws)
    assert (await peer.recv())["type"] == "welcome"
    assert await peer.closed() == CloseCode.IDLE_TIMEOUT
    bye = next(f for f in peer.seen if f.get("type") == "bye")
    assert (bye["code"], bye["reason"], bye["reconnect"]) == (4000, "idle_timeout", True)
    assert "no message" in bye["message"]


async def test_a_client_that_never_answers_pings_gets_bye_and_4000_not_1006(make_client: AppFactory) -> None:
    client = await make_client(heartbeat_s=0.1, pong_timeout_s=0.2, idle_timeout_s=60.0)
    ws = await client.ws_connect("/ws", headers=bearer(await login(client)), autoping=False)
    frames, pings = [], 0
    async with asyncio.timeout(TIMEOUT):
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.PING:
                pings += 1  # and deliberately not answered
            elif msg.type == WSMsgType.BINARY:
                frames.append(msgpack.unpackb(msg.data))
            else:
                break
    assert pings >= 1 and ws.close_code == CloseCode.IDLE_TIMEOUT
    assert frames[-1]["type"] == "bye" and frames[-1]["reason"] == "idle_timeout"
    assert "pong" in frames[-1]["message"]


# -- §8.1 the violation budget ------------------------------------------------------------------------
async def test_five_empty_prompts_are_invalid_value_errors_not_a_protocol_violation(connect: Connect) -> None:
    peer = await connect()
    for _ in range(8):
        err = await peer.request("prompt", prompt="")
        assert (err["type"], err["code"]) == ("error", ErrorCode.INVALID_VALUE)
    assert (await peer.request("ping"))["type"] == "pong"


async def test_violations_older_than_the_window_do_not_count(make_client: AppFactory) -> None:
    client = await make_client(bad_frames_before_close=2, bad_frames_window_s=0.05)
    peer = await open_peer(client)
    session = server_session(client, "alice")
    for _ in range(3):
        await peer.send_raw(b"\xc1")
        assert (await peer.recv())["code"] == ErrorCode.BAD_FRAME
        # the next violation comes after this one left the window
        when = session.violations[-1]  # type: ignore[attr-defined]
        async with asyncio.timeout(TIMEOUT):
            while asyncio.get_running_loop().time() <= when + 0.05:
                await asyncio.sleep(0.01)
    assert (await peer.request("ping"))["type"] == "pong"


# -- §4.3 presence over its limit -------------------------------------------------------------------
async def test_presence_over_the_message_limit_is_dropped_without_errors_or_strikes(make_client: AppFactory) -> None:
    client = await make_client(msgs_per_s=0.001, msgs_burst=4)
    peer = await open_peer(client)
    session = server_session(client, "alice")
    start, _, _ = await peer.generate("a small forest", seed=1, max_instances=5)  # frame 1
    await peer.send(type="ping", rid=rid())  # frames 2-4: the bucket is now empty
    await peer.send(type="ping", rid=rid())
    await peer.send(type="ping", rid=rid())
    await peer.until_type("pong")
    await peer.until_type("pong")
    await peer.until_type("pong")
    sent = session.writer.frames_sent  # type: ignore[attr-defined]
    for _ in range(30):  # more than RATE_STRIKES_BEFORE_CLOSE
        await peer.send(type="presence", world_id=start["world_id"], cursor=[1.0, 0.0, 1.0])
    async with asyncio.timeout(TIMEOUT):
        while session.frames_seen < 4 + 30:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
    assert session.writer.frames_sent == sent and session.rate_strikes == 0  # type: ignore[attr-defined]


# -- §7.4 snapshot header and identical edits ----------------------------------------------------------
async def test_snapshot_header_has_status_and_vector3_arrays(client: TestClient, connect: Connect) -> None:
    owner = await connect("ada")
    start, _, _ = await owner.generate("a pine forest", seed=3, max_instances=20)
    for point in start["header"]["spawn_points"]:
        assert isinstance(point, list) and len(point) == 3
    assert set(start["header"]["bounds"]) == {"min", "max"} and len(start["header"]["bounds"]["min"]) == 3
    r = rid()
    await owner.send(type="join", rid=r, world_id=start["world_id"])
    snap = await owner.until(lambda f: f.get("type") == "snapshot" and f.get("rid") == r)
    header = snap["header"]
    assert header["status"] == "complete"
    assert header["spawn_points"] == start["header"]["spawn_points"] and header["bounds"] == start["header"]["bounds"]
    # REST keeps the predecessor's {x, y, z} objects.
    resp = await client.get(f"/api/v1/worlds/{start['world_id']}", headers=bearer(await login(client, "ada")))
    world = await resp.json()
    body = world["world_blueprint"]
    assert set(body["spawn_points"][0]) == {"x", "y", "z"}


async def test_identical_move_and_set_are_noop_keep_seq_and_are_not_broadcast(client: TestClient,
                                                                              connect: Connect) -> None:
    owner = await connect("ada")
    world_id = await make_world(client, owner, n=20, bea="editor")
    other = await connect("bea")
    _, view = await join(owner, world_id)
    joined, _ = await join(other, world_id)
    inst = next(iter(view.instances.values()))
    same = [{"op": "move", "id": inst["id"], "pos": inst["pos"], "rot": inst["rot"]},
            {"op": "set", "id": inst["id"], "props": dict(inst["props"])}]
    ack = await owner.request("edit", world_id=world_id, ops=same)
    assert ack["type"] == "edit.ack" and ack["seq"] == joined["seq"]
    assert [res["outcome"] for res in ack["results"]] == ["noop", "noop"]
    real = await owner.request("edit", world_id=world_id, ops=[{"op": "set", "id": inst["id"], "props": {"k": 1}}])
    assert real["seq"] == joined["seq"] + 1
    op = await other.until_type("op")
    assert op["seq"] == joined["seq"] + 1  # the noop batch sent nothing before it


# -- §4.4 slow consumer ---------------------------------------------------------------------------------
async def test_a_slow_consumer_that_reads_again_sees_bye_4001_then_close_4001(make_client: AppFactory) -> None:
    import websockets

    client = await make_client(send_queue_bytes=128 * 1024, slow_close_grace_s=TIMEOUT,
                               msgs_per_s=10_000.0, msgs_burst=10_000)
    owner = await open_peer(client, "owner")
    world_id = await public_world(client, owner)
    slow, slow_session = await stalled_member(client, "slow", world_id)
    await owner.send(type="join", rid=rid(), world_id=world_id)
    await owner.until_type("joined")
    ids = [f"i{n:05d}" for n in range(1, 48)]
    for i in range(60):
        if slow_session.writer.slow:
            break
        ops = [{"op": "set", "id": inst, "props": {"note": "x" * 3800, "n": i}} for inst in ids]
        await owner.request("edit", world_id=world_id, ops=ops)
    assert slow_session.writer.slow
    frames = []
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                frames.append(msgpack.unpackb(await slow.recv()))
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == CloseCode.SLOW_CONSUMER
    finally:
        await slow.close()
    bye = frames[-1]
    assert (bye["type"], bye["code"], bye["reason"], bye["reconnect"]) == ("bye", 4001, "slow_consumer", True)


# -- §7.1 bye.reason --------------------------------------------------------------------------------------
async def test_bye_reason_is_the_close_code_name_and_detail_is_in_message(make_client: AppFactory) -> None:
    client = await make_client(hello_timeout_s=0.2)
    ws = await client.ws_connect("/ws")
    bye = msgpack.unpackb((await ws.receive()).data)
    assert (bye["reason"], bye["message"]) == ("unauthorized", "no hello before the deadline")
    await ws.receive()
    assert ws.close_code == CloseCode.UNAUTHORIZED
