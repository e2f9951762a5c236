"""Helpers for the fairness and bounds tests (issue 15): real servers on 127.0.0.1, real
sockets, a real SQLite file; every wait is bounded by the suite's one TIMEOUT."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import msgpack
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from server.context import SERVICES
from server.node import NODE
from tests.conftest import TIMEOUT, login
from tests.session.peer import Peer, rid


async def open_peer(client: TestClient, user: str, *, server_sndbuf: int | None = None) -> Peer:
    """An authenticated Peer (header token) that has read its `welcome`. `server_sndbuf` sets
    the kernel send buffer of the server's side of the connection: on loopback the kernel takes
    megabytes before the server's send queue sees a byte; a real network path does not."""
    registry = client.app[NODE].registry
    before = set(registry.sessions)
    token = await login(client, user)
    peer = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"}))
    first = await peer.recv()
    assert first["type"] == "welcome", first
    if server_sndbuf is not None:
        (session,) = set(registry.sessions) - before
        session.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, server_sndbuf)
    return peer


async def eventually(pred: Callable[[], Any], what: str) -> None:
    """Wait (bounded) until `pred()` is true: for server-side facts with no frame of their own."""
    async with asyncio.timeout(TIMEOUT):
        while not await _value(pred()):
            await asyncio.sleep(0.01)


async def _value(v: Any) -> Any:
    return await v if asyncio.iscoroutine(v) else v


async def stalled_socket(client: TestClient, user: str) -> tuple[Any, Any]:
    """A socket of `user` that stops reading once a few KiB are buffered: a raw socket with a
    4 KiB receive buffer under a `websockets` client that queues one message, and a 4 KiB send
    buffer on the server's side of it (loopback would otherwise absorb megabytes before the
    server's own send queue sees any of it). Returns the client connection (it can still send)
    and the server's Session for it; end it with `abort`."""
    from websockets.asyncio.client import connect as ws_connect

    registry = client.app[NODE].registry
    before = set(registry.sessions)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", client.port))
    token = await login(client, user)
    ws = await ws_connect(f"ws://127.0.0.1:{client.port}/ws", sock=sock, max_queue=1,
                          additional_headers={"Authorization": f"Bearer {token}"})
    await eventually(lambda: set(registry.sessions) - before, "the session is registered")
    session = next(iter(set(registry.sessions) - before))
    session.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return ws, session


def abort(ws: Any) -> None:
    """Drop a stalled connection at once (a close handshake would wait behind what it never read)."""
    ws.transport.abort()


async def send_prompt(ws: Any, prompt: str, **fields: Any) -> int:
    """A prompt on a `websockets` connection; its rid."""
    r = rid()
    await ws.send(msgpack.packb({"type": "prompt", "rid": r, "prompt": prompt, **fields}))
    return r


async def world_rows(client: TestClient) -> list[tuple[str, str, str]]:
    """(id, owner_id, status) of every world, in the order their rows were created."""
    engine = client.app[SERVICES].store.engine
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, owner_id, status FROM worlds ORDER BY created_at, rowid"))).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def oplog_bytes(client: TestClient, world_id: str) -> tuple[int, int]:
    """(ops kept, their stored JSON bytes) of a world's op log."""
    engine = client.app[SERVICES].store.engine
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT count(*), coalesce(sum(length(ops)), 0) FROM world_ops "
                                       "WHERE world_id = :w"), {"w": world_id})).one()
    return int(row[0]), int(row[1])
