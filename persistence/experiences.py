"""Published worlds (experience cards)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from .clock import utcnow
from .db import Repo
from .models import Experience


class ExperienceRepo(Repo):

    async def create(self, **fields: Any) -> Experience:
        now = utcnow()
        exp = Experience(created_at=now, updated_at=now, play_count=0, rating=0.0, **fields)
        async with self._tx() as s:
            s.add(exp)
        return exp

    async def get(self, experience_id: str) -> Experience | None:
        async with self._sessions() as s:
            return await s.get(Experience, experience_id)

    async def visible_to(self, user_id: str, limit: int, offset: int) -> list[Experience]:
        """Public experiences and the user's own, newest first."""
        async with self._sessions() as s:
            q = (select(Experience)
                 .where(or_(Experience.is_public.is_(True), Experience.author_id == user_id))
                 .order_by(Experience.created_at.desc(), Experience.id).limit(limit).offset(offset))
            return list(await s.scalars(q))

    async def has_public(self, world_id: str) -> bool:
        """Whether a public experience shows this world (its card's thumbnail is the world's map)."""
        async with self._sessions() as s:
            q = select(Experience.id).where(Experience.world_id == world_id, Experience.is_public.is_(True)).limit(1)
            return (await s.scalar(q)) is not None
