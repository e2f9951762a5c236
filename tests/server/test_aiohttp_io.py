"""server/aiohttp_io.py, the one module that touches aiohttp's internals: the pinned minor
version is the installed one, the private state it reads is there, its raw-frame invariant is
checked, and a WebSocket ping that aiohttp writes in the middle of a large broadcast (frames
written by the server's own writer, past aiohttp) reaches the client whole, between whole frames."""

from __future__ import annotations

import asyncio
import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, make_mocked_request

from server.aiohttp_io import AIOHTTP_MINOR, FramedRouter, GuardedHandlerBase, HookedRunner, SocketIO, handler_args
from server.app import create_app
from server.node import NODE
from server.writer import ws_frame
from tests.conftest import TIMEOUT, AppFactory, bearer, login, make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_aiohttp_is_pinned_to_the_minor_version_the_adapter_was_checked_against() -> None:
    assert aiohttp.__version__.startswith(f"{AIOHTTP_MINOR}."), aiohttp.__version__
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    major, minor = map(int, AIOHTTP_MINOR.split("."))
    assert f"aiohttp>={AIOHTTP_MINOR},<{major}.{minor + 1}" in deps
    for lock in ("runtime.txt", "test.txt"):
        pinned = re.search(r"^aiohttp==(\S+)", (ROOT / "requirements" / lock).read_text(), re.M)
        assert pinned is not None and pinned[1].startswith(f"{AIOHTTP_MINOR}."), lock


async def test_the_private_state_the_adapter_reads_is_there() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    server = web.Server(handler)
    loop, kwargs = handler_args(server)
    assert loop is asyncio.get_running_loop() and isinstance(kwargs, dict)
    conn = GuardedHandlerBase(server, loop=loop, **kwargs)
    assert conn.requests_started == 0 and conn.waiting_for_request is False and conn.event_loop is loop
    assert HookedRunner._make_server is not web.AppRunner._make_server  # (it overrides aiohttp's hook)
    await server.shutdown()


async def test_every_request_runs_in_the_frame_without_aiohttp_middlewares(aiohttp_client: Any,
                                                                          tmp_path: Path) -> None:
    """No middleware (aiohttp would run its own chain per request); a route added to the router
    directly, and a request no route takes, still get the frame (request id, JSON errors)."""
    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = create_app(make_settings(tmp_path))
    app.router.add_get("/plain", plain)
    client = await aiohttp_client(app)
    assert not app.middlewares and isinstance(app.router, FramedRouter)
    resp = await client.get("/plain", headers={"X-Request-Id": "req-plain"})
    assert resp.status == 200 and resp.headers["X-Request-Id"] == "req-plain"
    resp = await client.delete("/plain")
    assert resp.status == 405 and resp.headers["X-Request-Id"]
    assert (await resp.json())["error"] == "method_not_allowed" and "GET" in resp.headers["Allow"]


def test_raw_frames_are_refused_on_a_compressed_socket() -> None:
    with pytest.raises(ValueError, match="compress=False"):
        SocketIO(make_mocked_request("GET", "/ws"), web.WebSocketResponse(compress=True))


async def test_a_ping_written_during_a_large_broadcast_arrives_whole_between_whole_frames(
        make_client: AppFactory) -> None:
    client: TestClient = await make_client(send_queue_bytes=16 * 1024 * 1024)
    registry = client.app[NODE].registry
    ws = await client.ws_connect("/ws", headers=bearer(await login(client, "alice")), autoping=False)
    assert (await ws.receive(timeout=TIMEOUT)).type == WSMsgType.BINARY  # welcome
    (session,) = registry.sessions
    # A small kernel send buffer: loopback would otherwise take megabytes before the writer queues.
    session.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    payloads = [bytes([i]) * 100_000 for i in range(80)]  # 8 MB, framed once as a broadcast is
    for payload in payloads[:40]:
        session.send_bytes(payload, ws_frame(payload))
    assert session.writer.queued_bytes > 0  # the broadcast is in progress: frames wait in the queue
    await session.ws.ping(b"mid-broadcast")  # aiohttp's own frame, straight to the transport
    for payload in payloads[40:]:
        session.send_bytes(payload, ws_frame(payload))
    received, pings = [], []
    async with asyncio.timeout(TIMEOUT):
        while len(received) < len(payloads):
            msg = await ws.receive()
            if msg.type == WSMsgType.PING:
                pings.append(msg.data)
            else:
                assert msg.type == WSMsgType.BINARY, (msg.type, msg.data)
                received.append(msg.data)
    assert pings == [b"mid-broadcast"]
    assert received == payloads
    await ws.close()
