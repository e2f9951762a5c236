"""/api/v1/auth: guest and password login, validate, refresh, logout, token forgery."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from server.config import DEFAULT_SECRET
from tests.conftest import bearer, login

# The HS512 forgery uses the (short) server key on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")

SESSION_FIELDS = {"user_id", "session_id", "token", "expires_at", "created_at"}
ERROR_KEYS = {"success", "error", "message", "details"}


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) <= ERROR_KEYS and body["success"] is False and isinstance(body["message"], str)
    if code is not None:
        assert body["error"] == code, body
    return dict(body)


async def test_guest_login_returns_the_contract_session(client: TestClient) -> None:
    resp = await client.post("/api/v1/auth/login", json={"user_id": "unity-device-42"})
    body = await resp.json()
    assert resp.status == 200, body
    assert SESSION_FIELDS <= set(body)
    assert body["user_id"] == "unity-device-42" and body["token"].count(".") == 2
    assert _iso(body["expires_at"]) > _iso(body["created_at"])
    assert (_iso(body["expires_at"]) - _iso(body["created_at"])).total_seconds() == 86400


@pytest.mark.parametrize("payload", [{}, {"user_id": ""}, {"user_id": "   "}, {"user_id": 7}, {"user_id": None}])
async def test_guest_login_without_a_user_id_is_400(client: TestClient, payload: dict[str, Any]) -> None:
    body = await _error(await client.post("/api/v1/auth/login", json=payload), 400, "bad_request")
    assert "user_id" in body["details"]


async def test_login_body_that_is_not_an_object_is_400(client: TestClient) -> None:
    await _error(await client.post("/api/v1/auth/login", json=["alice"]), 400, "bad_request")


async def test_validate_echoes_the_session(client: TestClient) -> None:
    resp = await client.post("/api/v1/auth/login", json={"user_id": "alice"})
    session = await resp.json()
    resp = await client.get("/api/v1/auth/validate", headers=bearer(session["token"]))
    body = await resp.json()
    assert resp.status == 200, body
    assert body == {"valid": True, "user_id": "alice", "session_id": session["session_id"],
                    "expires_at": session["expires_at"]}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not.a.jwt"},
                                     {"Authorization": "Basic YWxpY2U6eA=="}, {"Authorization": "garbage"}])
async def test_validate_without_a_good_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    resp = await client.get("/api/v1/auth/validate", headers=headers)
    await _error(resp, 401)
    assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_logout_kills_the_token(client: TestClient, token: str) -> None:
    resp = await client.post("/api/v1/auth/logout", headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200 and body["success"] is True and isinstance(body["message"], str)
    await _error(await client.get("/api/v1/auth/validate", headers=bearer(token)), 401, "token_revoked")
    await _error(await client.post("/api/v1/auth/logout", headers=bearer(token)), 401)
    other = await login(client, "alice")  # a new session of the same user is unaffected
    assert (await client.get("/api/v1/auth/validate", headers=bearer(other))).status == 200


async def test_logout_without_a_token_is_401(client: TestClient) -> None:
    await _error(await client.post("/api/v1/auth/logout"), 401, "unauthorized")


async def test_refresh_keeps_the_session_and_logout_kills_both_tokens(client: TestClient, token: str) -> None:
    resp = await client.post("/api/v1/auth/refresh", headers=bearer(token))
    fresh = await resp.json()
    assert resp.status == 200, fresh
    old = await (await client.get("/api/v1/auth/validate", headers=bearer(token))).json()
    assert fresh["session_id"] == old["session_id"] and fresh["token"] != token
    assert (await client.post("/api/v1/auth/logout", headers=bearer(fresh["token"]))).status == 200
    for t in (token, fresh["token"]):
        await _error(await client.get("/api/v1/auth/validate", headers=bearer(t)), 401, "token_revoked")


async def test_revocation_survives_a_restart(make_client: Any) -> None:
    first = await make_client()
    dead, alive = await login(first, "alice"), await login(first, "alice")
    assert (await first.post("/api/v1/auth/logout", headers=bearer(dead))).status == 200
    second = await make_client()  # a new process over the same SQLite file
    await _error(await second.get("/api/v1/auth/validate", headers=bearer(dead)), 401, "token_revoked")
    assert (await second.get("/api/v1/auth/validate", headers=bearer(alive))).status == 200


# -- forged tokens ----------------------------------------------------------------------------

def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "mallory", "sid": "forged-session", "jti": "forged-jti", "iat": now,
              "exp": now + 3600, "iss": "immersiverse", "aud": "immersiverse-clients"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _tampered() -> str:
    good = jwt.encode(_claims(sub="mallory"), DEFAULT_SECRET, algorithm="HS256")
    head, payload, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


FORGERIES = {
    "wrong key": lambda: jwt.encode(_claims(), "not-the-server-key-" * 3, algorithm="HS256"),
    "expired": lambda: jwt.encode(_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
                                  DEFAULT_SECRET, algorithm="HS256"),
    "alg none": lambda: jwt.encode(_claims(), None, algorithm="none"),
    "other algorithm": lambda: jwt.encode(_claims(), DEFAULT_SECRET, algorithm="HS512"),
    "tampered payload": _tampered,
    "wrong audience": lambda: jwt.encode(_claims(aud="someone-else"), DEFAULT_SECRET, algorithm="HS256"),
    "wrong issuer": lambda: jwt.encode(_claims(iss="evil"), DEFAULT_SECRET, algorithm="HS256"),
    "empty subject": lambda: jwt.encode(_claims(sub=""), DEFAULT_SECRET, algorithm="HS256"),
    **{f"missing {claim}": (lambda c=claim: jwt.encode(_claims(**{c: None}), DEFAULT_SECRET, algorithm="HS256"))
       for claim in ("sub", "sid", "jti", "iat", "exp", "iss", "aud")},
}


async def test_a_correctly_crafted_token_is_accepted(client: TestClient) -> None:
    """The forgeries below differ from this token in one thing each."""
    token = jwt.encode(_claims(), DEFAULT_SECRET, algorithm="HS256")
    resp = await client.get("/api/v1/auth/validate", headers=bearer(token))
    assert resp.status == 200 and (await resp.json())["user_id"] == "mallory"


@pytest.mark.parametrize("kind", sorted(FORGERIES))
async def test_forged_tokens_are_refused(client: TestClient, kind: str) -> None:
    resp = await client.get("/api/v1/auth/validate", headers=bearer(FORGERIES[kind]()))
    body = await _error(resp, 401)
    assert body["error"] == ("token_expired" if kind == "expired" else "invalid_token")
    resp = await client.get("/api/v1/prefab-catalog/", headers=bearer(FORGERIES[kind]()))
    await _error(resp, 401)


# -- password accounts --------------------------------------------------------------------------

async def _register(client: TestClient, username: str = "carol", password: str = "correct horse") -> Any:
    return await client.post("/api/v1/auth/register", json={"username": username, "password": password})


async def test_register_then_log_in_with_the_password(client: TestClient) -> None:
    resp = await _register(client)
    body = await resp.json()
    assert resp.status == 201, body
    assert SESSION_FIELDS <= set(body) and body["user_id"] == "carol"
    resp = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "correct horse"})
    session = await resp.json()
    assert resp.status == 200, session
    assert session["user_id"] == "carol" and session["session_id"] != body["session_id"]
    resp = await client.get("/api/v1/auth/validate", headers=bearer(session["token"]))
    assert (await resp.json())["user_id"] == "carol"


async def test_wrong_password_and_unknown_user_are_401(client: TestClient) -> None:
    await _register(client)
    for creds in ({"username": "carol", "password": "wrong password"},
                  {"username": "nobody", "password": "correct horse"}):
        await _error(await client.post("/api/v1/auth/login", json=creds), 401, "invalid_credentials")


async def test_duplicate_username_is_409(client: TestClient) -> None:
    assert (await _register(client)).status == 201
    await _error(await _register(client, password="another password"), 409, "conflict")


async def test_registering_over_a_guest_account_is_409(client: TestClient) -> None:
    await login(client, "dave")
    await _error(await _register(client, "dave"), 409, "conflict")


@pytest.mark.parametrize(("payload", "fields"), [
    ({}, {"username", "password"}),
    ({"username": "ab", "password": "short"}, {"username", "password"}),
    ({"username": "bad name!", "password": "long enough"}, {"username"}),
    ({"username": "erin", "password": 12345678}, {"password"}),
])
async def test_register_names_every_bad_field(client: TestClient, payload: dict[str, Any], fields: set[str]) -> None:
    body = await _error(await client.post("/api/v1/auth/register", json=payload), 422, "validation_error")
    assert set(body["details"]) == fields


async def test_guest_login_on_a_password_account_is_refused(client: TestClient) -> None:
    await _register(client)
    await _error(await client.post("/api/v1/auth/login", json={"user_id": "carol"}), 401, "invalid_credentials")


async def test_guest_login_can_be_disabled(make_client: Any) -> None:
    client = await make_client(guest_login=False)
    await _error(await client.post("/api/v1/auth/login", json={"user_id": "alice"}), 403, "forbidden")
    assert (await _register(client)).status == 201
    resp = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "correct horse"})
    assert resp.status == 200


async def test_failed_logins_are_throttled_with_retry_after(make_client: Any) -> None:
    client = await make_client(login_attempts_per_min=3)
    await _register(client)
    for _ in range(3):
        resp = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "guess guess"})
        await _error(resp, 401, "invalid_credentials")
    resp = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "correct horse"})
    await _error(resp, 429, "rate_limited")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
