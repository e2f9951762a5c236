"""Fixtures for the hardening suite: in-process servers with settings overrides (`peers`),
real `immersiverse serve` subprocesses (`spawn_server`: tests/support/serve.py's
ServerProcess, for signals, logs and /metrics)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import AppFactory
from tests.session.peer import Peer, open_peer
from tests.support.serve import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def server(make_client: AppFactory) -> AsyncIterator[Callable[..., Any]]:
    """server(**settings) → (client, open(user) → Peer); peers are closed at the end."""
    peers: list[Peer] = []

    async def factory(**overrides: Any) -> tuple[TestClient, Callable[..., Any]]:
        client = await make_client(**overrides)

        async def opener(user: str = "alice", token: str | None = None) -> Peer:
            peer = await open_peer(client, user, token)
            peers.append(peer)
            return peer
        return client, opener

    yield factory
    for peer in peers:
        await peer.ws.close()


@pytest.fixture
def spawn_server(tmp_path: Path) -> Any:
    """spawn_server(**settings) → a running ServerProcess; all are stopped at the end."""
    started: list[ServerProcess] = []

    def factory(**settings: Any) -> ServerProcess:
        proc = ServerProcess(tmp_path, **settings)
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop()
