"""Published worlds (experience cards).

A card is public only while its world is: `is_public` is the author's choice, and the card is
shown to others when that choice and the world's visibility both say public (issue 15).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select

from .clock import utcnow
from .db import Repo
from .models import Experience, World


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

    async def get_shown(self, experience_id: str) -> tuple[Experience, bool] | None:
        """The card and whether it is public now (its own flag and its world's visibility)."""
        async with self._sessions() as s:
            row = (await s.execute(select(Experience, World.visibility)
                                   .join(World, World.id == Experience.world_id)
                                   .where(Experience.id == experience_id))).first()
        return None if row is None else (row[0], bool(row[0].is_public and row[1] == "public"))

    async def visible_to(self, user_id: str, limit: int, offset: int) -> list[tuple[Experience, bool]]:
        """Public cards of public worlds and the user's own, newest first, each with whether it is public now."""
        public = and_(Experience.is_public.is_(True), World.visibility == "public")
        async with self._sessions() as s:
            q = (select(Experience, public)
                 .join(World, World.id == Experience.world_id)
                 .where(or_(public, Experience.author_id == user_id))
                 .order_by(Experience.created_at.desc(), Experience.id).limit(limit).offset(offset))
            return [(exp, bool(shown)) for exp, shown in (await s.execute(q)).all()]

    async def has_public(self, world_id: str) -> bool:
        """Whether a card shown to others points at this world (its thumbnail is the world's map).
        A card is shown only while its world is public, so this follows the world's visibility too."""
        async with self._sessions() as s:
            q = (select(Experience.id).join(World, World.id == Experience.world_id)
                 .where(Experience.world_id == world_id, Experience.is_public.is_(True),
                        World.visibility == "public").limit(1))
            return (await s.scalar(q)) is not None

    async def update(self, experience_id: str, **fields: Any) -> Experience | None:
        """Change a card's title, description, tags or public flag; the card after it."""
        async with self._tx() as s:
            exp = await s.get(Experience, experience_id)
            if exp is None:
                return None
            for name, value in fields.items():
                setattr(exp, name, value)
            exp.updated_at = utcnow()
        return exp

    async def delete(self, experience_id: str) -> bool:
        """Unpublish: the card goes, the world stays."""
        async with self._tx() as s:
            result = await s.execute(delete(Experience).where(Experience.id == experience_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]
