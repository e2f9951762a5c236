"""Expired revocations and idle guest accounts are purged by a periodic job (issue 15, finding 12).

Both grew without bound: `purge_expired_revocations` existed but was never called, and every
guest id ever used stayed an account forever."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import jwt
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from persistence.clock import as_utc, utcnow
from persistence.models import RevokedSession, User
from server.context import SERVICES
from tests.conftest import TIMEOUT, AppFactory, bearer, login


async def _age(client: TestClient, user_id: str, days: int) -> None:
    """Pretend `user_id` last logged in `days` ago (the store's clock is the only way to get there)."""
    then = utcnow() - timedelta(days=days)
    async with client.app[SERVICES].store.sessions() as s:
        await s.execute(update(User).where(User.id == user_id).values(last_seen_at=then, created_at=then))
        await s.commit()


async def _until_gone(client: TestClient, user_ids: set[str]) -> None:
    users = client.app[SERVICES].store.users
    async with asyncio.timeout(TIMEOUT):
        while any([await users.get(u) is not None for u in user_ids]):
            await asyncio.sleep(0.05)


async def test_idle_guests_that_own_nothing_are_purged_and_others_are_kept(make_client: AppFactory) -> None:
    client = await make_client(maintenance_interval_s=0.05, guest_idle_days=30)
    for user in ("idle", "recent", "owner", "invited"):
        await login(client, user)
    owner = await login(client, "owner")
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(owner),
                             json={"prompt": "a meadow", "max_instances": 10, "seed": 3})
    world_id = (await resp.json())["world_blueprint"]["id"]
    await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(owner),
                      json={"user_id": "invited", "role": "viewer"})
    for user in ("idle", "owner", "invited"):
        await _age(client, user, 31)
    await _until_gone(client, {"idle"})
    users = client.app[SERVICES].store.users
    for kept in ("recent", "owner", "invited"):  # seen lately, owns a world, is invited to one
        assert await users.get(kept) is not None, kept


async def test_expired_revocations_are_purged(make_client: AppFactory) -> None:
    client = await make_client(maintenance_interval_s=0.05)
    token = await login(client, "leaver")
    assert (await client.post("/api/v1/auth/logout", headers=bearer(token))).status == 200
    store = client.app[SERVICES].store
    async with store.sessions() as s:
        await s.execute(update(RevokedSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        await s.commit()
    async with asyncio.timeout(TIMEOUT):
        while await store.users.revoked_since(None):
            await asyncio.sleep(0.05)


async def test_a_revocation_outlives_every_token_of_its_session(client: TestClient) -> None:
    """Purging by `expires_at` is only safe if no token of the session outlives it: a session
    refreshed with a short-lived token, then logged out with that same token, must stay revoked
    for the refreshed one."""
    services = client.app[SERVICES]
    await login(client, "refresher")
    short, ident = services.tokens.mint("refresher")
    claims = jwt.decode(short, options={"verify_signature": False})
    claims["exp"] = claims["iat"] + 5  # the old token of the session: about to expire
    short = jwt.encode(claims, services.settings.secret_key, algorithm=services.settings.jwt_algorithm)
    resp = await client.post("/api/v1/auth/refresh", headers=bearer(short))
    fresh = await resp.json()
    assert resp.status == 200 and fresh["session_id"] == ident.session_id
    assert (await client.post("/api/v1/auth/logout", headers=bearer(short))).status == 200
    async with services.store.sessions() as s:
        row = await s.get(RevokedSession, ident.session_id)
    assert row is not None
    assert as_utc(row.expires_at) >= datetime.fromisoformat(fresh["expires_at"].replace("Z", "+00:00"))
    resp = await client.get("/api/v1/auth/validate", headers=bearer(fresh["token"]))
    assert resp.status == 401
