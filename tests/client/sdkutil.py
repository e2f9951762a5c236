"""Helpers for SDK tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from client import Session
from server.node import NODE
from tests.conftest import TIMEOUT

SdkFactory = Callable[..., Awaitable[Session]]


def ws_url(client: TestClient) -> str:
    return f"ws://127.0.0.1:{client.port}/ws"


def server_session(client: TestClient, session_id: str) -> Any:
    """The server's Session object for an SDK session id."""
    for s in client.app[NODE].registry.sessions:
        if s.id == session_id:
            return s
    raise AssertionError(f"no server session {session_id}")


async def eventually(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> None:
    """Await a condition that has no event to wait on (server-side state), polling it."""
    async with asyncio.timeout(timeout):
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)
