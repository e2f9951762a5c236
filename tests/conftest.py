"""Shared fixtures: a real server on 127.0.0.1 backed by a real SQLite file in tmp_path.

PostgreSQL and Redis tests use the machine's services; when CI is set they are required
(a missing service fails the test), elsewhere they skip with the reason.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server import config
from server.app import create_app
from tests.support.serve import TIMEOUT

__all__ = ["TIMEOUT"]  # the one timeout every test waits with (defined beside the process helper, for bench/)
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, port: int) -> None:
    """Skip (laptop) or fail (CI) when a backing service is not listening."""
    if _reachable(port):
        return
    message = f"{name} is not reachable at 127.0.0.1:{port}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; it is required in CI")
    pytest.skip(message)


def make_settings(tmp_path: Path, **overrides: Any) -> Any:
    base = {"database_url": f"sqlite+aiosqlite:///{tmp_path}/test.db", "revocation_poll_s": 0.2,
            "telemetry_flush_ms": 5, "log_level": "WARNING",
            # plans in threads (each test app would start a worker per core otherwise);
            # tests/server/test_genpool.py runs worker processes
            "generation_processes": 0}
    base.update(overrides)
    return config.resolve(None, environ={}, overrides=base)[0]


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    return make_settings(tmp_path)


AppFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def make_client(aiohttp_client: Any, tmp_path: Path) -> AppFactory:
    """Start a server with settings overrides; returns a client bound to it."""
    async def factory(**overrides: Any) -> TestClient:
        return await aiohttp_client(create_app(make_settings(tmp_path, **overrides)))
    return factory


@pytest.fixture
async def client(make_client: AppFactory) -> TestClient:
    return await make_client()


async def login(client: TestClient, user_id: str = "alice") -> str:
    resp = await client.post("/api/v1/auth/login", json={"user_id": user_id})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def token(client: TestClient) -> str:
    return await login(client)
