"""Fixtures for SDK tests: the real server of tests/conftest.py (`client`), SDK sessions on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from client import Session, connect
from tests.client.sdkutil import SdkFactory, ws_url
from tests.conftest import login


@pytest.fixture
async def sdk(client: TestClient) -> AsyncIterator[SdkFactory]:
    """sdk(user="alice", **connect_options) → a connected SDK Session; closed at teardown."""
    sessions: list[Session] = []

    async def factory(user: str = "alice", **options: Any) -> Session:
        options.setdefault("base_delay", 0.02)
        options.setdefault("max_delay", 0.2)
        session = await connect(ws_url(client), await login(client, user), **options)
        sessions.append(session)
        return session

    yield factory
    for session in sessions:
        await session.close(flush_timeout=0)
