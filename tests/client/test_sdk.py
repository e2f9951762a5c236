"""The client SDK against a real server on 127.0.0.1: generation, errors, telemetry, reconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from client import GenerationInterrupted, ServerError, SessionClosed, connect
from protocol import messages as m
from protocol.codes import CloseCode, ErrorCode
from records import InstanceRecord
from server.context import SERVICES
from tests.client.sdkutil import SdkFactory, eventually, server_session, ws_url
from tests.conftest import TIMEOUT, login

PROMPT = "a snowy village with a dozen houses"


async def _stored(client: TestClient, world_id: str) -> tuple[str, list[dict[str, Any]]]:
    store = client.app[SERVICES].store
    world = await store.worlds.require(world_id)
    return world.status, [InstanceRecord.from_row(r).wire() for r in await store.worlds.instances(world_id)]


async def test_generate_yields_start_chunks_done_equal_to_the_stored_world(client: TestClient,
                                                                          sdk: SdkFactory) -> None:
    s = await sdk()
    gen = s.generate(PROMPT, seed=5, max_instances=300)
    frames = [msg async for msg in gen]
    assert isinstance(frames[0], m.GenStart) and isinstance(frames[-1], m.GenDone)
    chunks = frames[1:-1]
    assert chunks and all(isinstance(c, m.GenChunk) for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert gen.world_id == frames[0].world_id and gen.done is frames[-1]
    assert gen.done.status == "complete" and gen.done.instances == len(gen.instances) == gen.expected
    status, stored = await _stored(client, gen.world_id)
    assert status == "complete"
    assert [dict(i) for i in gen.instances] == stored  # same ids, order, transforms, props
    # the iterator is spent; a second pass yields nothing
    assert [msg async for msg in gen] == []


async def test_hello_frame_auth_ping_and_refresh(client: TestClient) -> None:
    token = await login(client, "bob")
    async with connect(ws_url(client), token, hello_in_frame=True) as s:
        assert s.welcome is not None and s.user_id == "bob" and s.welcome.protocol == 1
        assert (await s.ping()).server_time > 0
        fresh = await login(client, "bob")
        ok = await s.refresh(fresh)
        assert ok.user_id == "bob" and s.token == fresh
    assert s.closed is not None and s.closed.code == CloseCode.NORMAL_CLOSURE
    with pytest.raises(SessionClosed) as info:
        await s.ping()
    assert info.value.reconnect is False


async def test_an_invalid_token_is_a_terminal_close(client: TestClient) -> None:
    with pytest.raises(SessionClosed) as info:
        await connect(ws_url(client), "not-a-jwt")
    assert info.value.code == CloseCode.UNAUTHORIZED and info.value.reconnect is False


async def test_error_frames_raise_server_error_with_code_and_fields(client: TestClient, sdk: SdkFactory) -> None:
    s = await sdk()
    with pytest.raises(ServerError) as info:
        await s.generate("   ").collect()
    assert info.value.code is ErrorCode.INVALID_VALUE and info.value.name == "invalid_value"
    assert "prompt" in info.value.fields
    with pytest.raises(ServerError) as info:
        await s.join("no-such-world")
    assert info.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(ServerError) as info:
        await s.cancel(123_456)
    assert info.value.code is ErrorCode.UNKNOWN_REQUEST and not info.value.retryable
    with pytest.raises(ServerError) as info:
        await s.refresh(await login(client, "mallory"))  # another user's token
    assert info.value.code is ErrorCode.FORBIDDEN  # docs/protocol.md §3.4
    assert (await s.ping()).rid > 0  # errors never close the session


async def test_cancel_ends_the_stream_with_a_cancelled_done(client: TestClient, sdk: SdkFactory) -> None:
    s = await sdk()
    gen = s.generate(PROMPT, seed=1, max_instances=20000)
    cancelled = None
    async for msg in gen:
        if isinstance(msg, m.GenChunk) and cancelled is None:
            cancelled = asyncio.create_task(gen.cancel())
    assert gen.done is not None and gen.done.status == "cancelled" and gen.done.instances < 20000
    assert cancelled is not None and (await cancelled).target == gen.rid
    status, stored = await _stored(client, gen.world_id)  # type: ignore[arg-type]
    assert status == "partial" and [i["id"] for i in stored] == [i["id"] for i in gen.instances]


async def test_telemetry_is_flushed_acked_and_stored(client: TestClient, sdk: SdkFactory) -> None:
    s = await sdk(telemetry_interval=60)
    ids = [s.telemetry("teleport", {"to": [1.0, 0.0, float(i)]}, world_id="w1") for i in range(3)]
    assert s.telemetry_buffered == 3
    result = await s.flush_telemetry()
    assert sorted(result.acked) == sorted(ids) and result.duplicates == [] and result.rejected == []
    assert s.telemetry_buffered == 0
    rows = await client.app[SERVICES].store.telemetry.for_user("alice", 10)
    assert sorted(r.client_event_id for r in rows) == sorted(ids)
    assert {r.event_type for r in rows} == {"teleport"} and {r.world_id for r in rows} == {"w1"}


async def test_telemetry_is_flushed_in_the_background(client: TestClient, sdk: SdkFactory) -> None:
    s = await sdk(telemetry_interval=0.05)
    event_id = s.telemetry("open_menu")
    store = client.app[SERVICES].store.telemetry
    await eventually(lambda: s.telemetry_buffered == 0)
    assert [r.client_event_id for r in await store.for_user("alice", 10)] == [event_id]


async def test_unacked_telemetry_is_resent_after_a_reconnect_without_duplicates(
        client: TestClient, sdk: SdkFactory) -> None:
    s = await sdk(telemetry_interval=60)
    store = client.app[SERVICES].store.telemetry
    ids = {s.telemetry("step", {"n": i}) for i in range(5)}
    on_frame, lost = s._on_frame, []

    def lose_first_ack(data: bytes) -> None:  # the ack is "lost in the network"
        if not lost and b"telemetry.ack" in data:
            lost.append(data)
            return
        on_frame(data)

    s._on_frame = lose_first_ack  # type: ignore[method-assign]
    flush = asyncio.create_task(s.flush_telemetry())
    await eventually(lambda: lost)  # stored and acked by the server, never seen by the SDK
    assert await store.count("alice") == 5 and not flush.done()
    first_session = s.session_id
    server_session(client, first_session).close_soon(CloseCode.GOING_AWAY)
    async with asyncio.timeout(TIMEOUT):
        result = await flush  # survives the reconnect: the batch is resent on the new socket
    assert s.reconnects == 1 and s.session_id != first_session
    assert set(result.acked) == ids and set(result.duplicates) == ids
    assert await store.count("alice") == 5 and s.telemetry_buffered == 0


async def test_reconnects_after_a_server_close_and_stops_on_a_terminal_one(client: TestClient,
                                                                            sdk: SdkFactory) -> None:
    s = await sdk()
    first = s.session_id
    server_session(client, first).close_soon(CloseCode.SLOW_CONSUMER)
    await eventually(lambda: s.reconnects == 1 and s.connected)
    assert s.session_id != first and (await s.ping()).rid > 0
    server_session(client, s.session_id).close_soon(CloseCode.TOKEN_REVOKED)
    await eventually(lambda: s.closed is not None)
    assert s.closed is not None and s.closed.code == CloseCode.TOKEN_REVOKED and not s.closed.reconnect
    assert s.reconnects == 1
    with pytest.raises(SessionClosed):
        await s.ping()


async def test_no_reconnect_when_disabled(client: TestClient, sdk: SdkFactory) -> None:
    s = await sdk(reconnect=False)
    server_session(client, s.session_id).close_soon(CloseCode.GOING_AWAY)
    await eventually(lambda: s.closed is not None)
    assert s.closed is not None and s.closed.code == CloseCode.GOING_AWAY and s.closed.reconnect
    assert s.reconnects == 0


async def test_gives_up_after_max_attempts(client: TestClient, sdk: SdkFactory) -> None:
    attempts = []

    async def provider() -> str:
        attempts.append(1)
        raise OSError("no network")

    s = await sdk(max_attempts=3, token_provider=provider)
    server_session(client, s.session_id).close_soon(CloseCode.GOING_AWAY)
    await eventually(lambda: s.closed is not None)
    assert len(attempts) == 3 and s.closed is not None and not s.closed.reconnect
    assert "gave up after 3" in s.closed.reason


async def test_a_generation_in_flight_at_a_disconnect_raises(client: TestClient, sdk: SdkFactory) -> None:
    s = await sdk()
    gen = s.generate(PROMPT, seed=2, max_instances=20000)
    with pytest.raises(GenerationInterrupted) as info:
        async for msg in gen:
            if isinstance(msg, m.GenChunk) and msg.index == 0:
                server_session(client, s.session_id).close_soon(CloseCode.GOING_AWAY)
    assert info.value.world_id == gen.world_id and info.value.closed.code == CloseCode.GOING_AWAY
    await eventually(lambda: s.connected)
    done = await s.generate(PROMPT, seed=2, max_instances=50).collect()  # usable again
    assert done.status == "complete"
