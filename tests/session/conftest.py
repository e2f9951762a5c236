"""Fixtures for end-to-end session tests: `connect(...)` opens an authenticated Peer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import login
from tests.session.peer import Connect, Peer


@pytest.fixture
async def connect(client: TestClient) -> AsyncIterator[Connect]:
    """connect(user="alice", header=True) → a Peer that has received `welcome`."""
    peers: list[Peer] = []

    async def factory(user: str = "alice", *, header: bool = True, token: str | None = None,
                      welcome: bool = True) -> Peer:
        tok = token or await login(client, user)
        headers = {"Authorization": f"Bearer {tok}"} if header else {}
        ws = await client.ws_connect("/ws", headers=headers, autoping=True)
        peer = Peer(ws)
        peers.append(peer)
        if not header:
            await peer.send(type="hello", v=1, token=tok)
        if welcome:
            first = await peer.recv()
            assert first["type"] == "welcome", first
            peer.welcome = first  # type: ignore[attr-defined]
        return peer

    yield factory
    for peer in peers:
        await peer.ws.close()
