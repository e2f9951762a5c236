"""A small msgpack WebSocket client over aiohttp for end-to-end session tests."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable
from typing import Any

import msgpack
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from tests.conftest import TIMEOUT, login

_rids = itertools.count(1)


def rid() -> int:
    return next(_rids)


class Peer:
    """One client socket: send maps, receive decoded maps, wait for a matching frame."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}

    async def send(self, **fields: Any) -> None:
        await self.ws.send_bytes(msgpack.packb(fields))

    async def send_raw(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != WSMsgType.BINARY:
            raise ConnectionError(f"socket ended: {msg.type.name} {msg.data!r} {msg.extra!r}")
        frame = msgpack.unpackb(msg.data, raw=False)
        self.seen.append(frame)
        if frame.get("type") == "welcome":
            self.welcome = frame
        return frame  # type: ignore[no-any-return]

    async def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if pred(frame):
                    return frame

    async def until_type(self, type_: str, **match: Any) -> dict[str, Any]:
        return await self.until(lambda f: f.get("type") == type_ and all(f.get(k) == v for k, v in match.items()))

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send a request with a fresh rid; return the first reply frame carrying that rid."""
        r = rid()
        await self.send(type=type_, rid=r, **fields)
        return await self.until(lambda f: f.get("rid") == r)

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Read until the server closes; the close code."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                    return self.ws.close_code
                if msg.type == WSMsgType.BINARY:
                    self.seen.append(msgpack.unpackb(msg.data, raw=False))

    async def generate(self, prompt: str, **fields: Any) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        """gen.start, the chunks, gen.done of one prompt."""
        r = rid()
        await self.send(type="prompt", rid=r, prompt=prompt, **fields)
        start = await self.until(lambda f: f.get("rid") == r)
        assert start["type"] == "gen.start", start
        chunks = []
        while True:
            f = await self.until(lambda f: f.get("rid") == r)
            if f["type"] == "gen.chunk":
                chunks.append(f)
            else:
                assert f["type"] == "gen.done", f
                return start, chunks, f


Connect = Callable[..., Any]


async def stalled_member(client: TestClient, user: str, world_id: str, **ws_options: Any) -> tuple[Any, Any]:
    """A member that joins `world_id` and then stops reading: a raw socket with a 4 KiB receive
    buffer under a `websockets` client that queues one message. Returns the client socket and
    the server's Session for it, once the server has it in the room."""
    from websockets.asyncio.client import connect as ws_connect

    from server.node import NODE

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", client.port))
    token = await login(client, user)
    ws = await ws_connect(f"ws://127.0.0.1:{client.port}/ws", sock=sock, max_queue=1,
                          additional_headers={"Authorization": f"Bearer {token}"}, **ws_options)
    await ws.send(msgpack.packb({"type": "join", "rid": 1, "world_id": world_id}))
    registry = client.app[NODE].registry
    async with asyncio.timeout(TIMEOUT):
        while not any(s.user_id == user and world_id in s.rooms for s in registry.sessions):
            await asyncio.sleep(0.01)
    return ws, next(s for s in registry.sessions if s.user_id == user)
