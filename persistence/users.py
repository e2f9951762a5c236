"""Accounts and revoked sessions."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from .clock import utcnow
from .db import Repo
from .errors import Conflict
from .models import Experience, RevokedSession, User, World, WorldMember
from .statements import rows, scalar, single

_USERS = cast(Table, User.__table__)
_DISPLAY_NAME = select(_USERS.c.display_name).where(_USERS.c.id == bindparam("user_id"))
_DISPLAY_NAMES = (select(_USERS.c.id, _USERS.c.display_name)
                  .where(_USERS.c.id.in_(bindparam("user_ids", expanding=True))))


class UserRepo(Repo):
    """Accounts; on a SQLite file the per-connect lookup is one hop on the `SqliteWriter`'s reader."""

    async def get(self, user_id: str) -> User | None:
        async with self._sessions() as s:
            return await s.get(User, user_id)

    async def display_name(self, user_id: str) -> str | None:
        """The account's display name; None when there is no such account (asked on every connect)."""
        name = await self._read(lambda: single(scalar(_DISPLAY_NAME, {"user_id": user_id})))
        return None if name is None else str(name)

    async def display_names(self, user_ids: list[str]) -> dict[str, str]:
        """`display_name` of several accounts in one query; absent accounts are not in it."""
        names = await self._read(lambda: single(rows(_DISPLAY_NAMES, {"user_ids": sorted(set(user_ids))})))
        return {str(user_id): str(name) for user_id, name in names}

    async def get_many(self, user_ids: list[str]) -> dict[str, User]:
        async with self._sessions() as s:
            rows = await s.scalars(select(User).where(User.id.in_(user_ids)))
            return {u.id: u for u in rows}

    async def ensure_guest(self, user_id: str, display_name: str | None = None) -> User:
        """The guest account `user_id`, created (without a device secret) on first use.
        Conflict if it has a password. For operators' tools (`immersiverse token`)."""
        user = await self.get(user_id)
        if user is None:
            user = await self.create_guest(user_id, display_name or user_id, None) or await self.get(user_id)
            assert user is not None
        if user.kind != "guest":
            raise Conflict("this account requires a password")
        return user

    async def create_guest(self, user_id: str, display_name: str, secret_hash: str | None) -> User | None:
        """A new guest account; None when `user_id` exists already (also when created concurrently)."""
        now = utcnow()
        user = User(id=user_id, display_name=display_name, kind="guest", password_hash=None,
                    created_at=now, secret_hash=secret_hash, last_seen_at=now)
        try:
            async with self._tx() as s:
                s.add(user)
        except IntegrityError:  # the id exists (perhaps created concurrently by another request)
            return None
        return user

    async def bind_guest_secret(self, user_id: str, secret_hash: str) -> bool:
        """Give a guest created before device secrets its secret; False when it has one already."""
        async with self._tx() as s:
            result = await s.execute(update(User).where(User.id == user_id, User.kind == "guest",
                                                        User.secret_hash.is_(None)).values(secret_hash=secret_hash))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def seen(self, user_id: str) -> None:
        """Record a login or refresh (idle guests are purged by it)."""
        async with self._tx() as s:
            await s.execute(update(User).where(User.id == user_id).values(last_seen_at=utcnow()))

    async def purge_idle_guests(self, idle_before: datetime) -> int:
        """Delete guests last seen before `idle_before` that own no world or card and are
        invited nowhere: nothing of anyone's refers to them. A returning device gets a new account."""
        async with self._tx() as s:
            owned = select(World.owner_id)
            authored = select(Experience.author_id)
            invited = select(WorldMember.user_id)
            seen = or_(User.last_seen_at < idle_before,
                       and_(User.last_seen_at.is_(None), User.created_at < idle_before))
            result = await s.execute(delete(User).where(
                User.kind == "guest", seen, User.id.not_in(owned), User.id.not_in(authored),
                User.id.not_in(invited)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def create_password_user(self, username: str, password_hash: str, display_name: str) -> User:
        async with self._sessions() as s:
            now = utcnow()
            user = User(id=username, display_name=display_name, kind="password",
                        password_hash=password_hash, created_at=now, last_seen_at=now)
            s.add(user)
            try:
                await s.commit()
            except IntegrityError:
                raise Conflict("username already taken") from None
            return user

    async def revoke_session(self, session_id: str, user_id: str, expires_at: datetime) -> None:
        async with self._sessions() as s:
            if await s.get(RevokedSession, session_id) is None:
                s.add(RevokedSession(session_id=session_id, user_id=user_id, revoked_at=utcnow(),
                                     expires_at=expires_at))
                try:
                    await s.commit()
                except IntegrityError:  # revoked concurrently: same outcome
                    await s.rollback()

    async def revoked_since(self, since: datetime | None) -> list[tuple[str, datetime]]:
        """(session_id, revoked_at) of revocations at or after `since` (all when None)."""
        async with self._sessions() as s:
            q = select(RevokedSession.session_id, RevokedSession.revoked_at)
            if since is not None:
                q = q.where(RevokedSession.revoked_at >= since)
            return [(sid, at) for sid, at in (await s.execute(q)).all()]

    async def is_revoked(self, session_id: str) -> bool:
        async with self._sessions() as s:
            return await s.get(RevokedSession, session_id) is not None

    async def purge_expired_revocations(self) -> int:
        async with self._tx() as s:
            result = await s.execute(delete(RevokedSession).where(RevokedSession.expires_at < utcnow()))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
