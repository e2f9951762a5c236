"""Weak secrets are refused at start, risky development set-ups are warned about (issue 15, finding 10).

Production accepted any key but the exact default (`a` let anyone forge tokens); an empty key
started and then answered 500 on every login, after register had stored the account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.config import DEFAULT_SECRET
from server.context import SERVICES
from tests.support.serve import ServerProcess


def _refused(tmp_path: Path, **settings: Any) -> str:
    """The output of an `immersiverse serve` that must exit at start."""
    with pytest.raises(RuntimeError, match="server exited early") as info:
        ServerProcess(tmp_path, **settings).stop()
    return str(info.value)


@pytest.mark.parametrize("key", ["a", "x" * 31, DEFAULT_SECRET])
def test_production_refuses_a_short_or_default_secret_key(tmp_path: Path, key: str) -> None:
    out = _refused(tmp_path, environment="production", secret_key=key)
    assert "configuration error: secret_key" in out


@pytest.mark.parametrize("environment", ["development", "production"])
def test_an_empty_secret_key_is_refused_everywhere(tmp_path: Path, environment: str) -> None:
    out = _refused(tmp_path, environment=environment, secret_key="")
    assert "secret_key: must not be empty" in out


def test_production_starts_with_a_long_secret_key(spawn_server: Any) -> None:
    proc = spawn_server(environment="production", secret_key="k" * 32)
    status, body = proc.request("POST", "/api/v1/auth/login", {"user_id": "device-1"})
    assert status == 200 and body["device_secret"]


def test_development_on_every_interface_with_the_default_key_warns_loudly(spawn_server: Any) -> None:
    # Bound to all interfaces only for the moments this test runs; it only talks to 127.0.0.1.
    proc = spawn_server(host="0.0.0.0", secret_key=DEFAULT_SECRET)
    assert proc.get("/health")[0] == 200
    out = proc.output()
    assert "WARNING" in out and "SECURITY: listening on 0.0.0.0 with the public default secret_key" in out
    assert "guest_secret_required off" in out


def test_development_on_loopback_does_not_warn(spawn_server: Any) -> None:
    proc = spawn_server(secret_key=DEFAULT_SECRET)
    assert proc.get("/health")[0] == 200
    assert "SECURITY:" not in proc.output()


async def test_register_stores_no_account_when_the_token_cannot_be_minted(client: TestClient,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    services = client.app[SERVICES]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("signing failed")

    monkeypatch.setattr(services.tokens, "mint", broken)
    resp = await client.post("/api/v1/auth/register", json={"username": "frank", "password": "correct horse"})
    assert resp.status == 500
    assert await services.store.users.get("frank") is None  # so the name is still free afterwards
    monkeypatch.undo()
    resp = await client.post("/api/v1/auth/register", json={"username": "frank", "password": "correct horse"})
    assert resp.status == 201
