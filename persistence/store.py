"""The store: one engine and the repositories built on it."""

from __future__ import annotations

from sqlalchemy import text

from .catalog import CatalogRepo
from .db import create_engine, is_sqlite, sessionmaker
from .edits import EditRepo
from .experiences import ExperienceRepo
from .telemetry import TelemetryRepo
from .users import UserRepo
from .worlds import WorldRepo


class Store:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine)
        self.users = UserRepo(self.sessions)
        self.catalog = CatalogRepo(self.sessions)
        self.worlds = WorldRepo(self.sessions)
        self.experiences = ExperienceRepo(self.sessions)
        self.telemetry = TelemetryRepo(self.sessions)
        self.edits = EditRepo(self.sessions)

    @property
    def dialect(self) -> str:
        return "sqlite" if is_sqlite(self.url) else "postgresql"

    async def ping(self) -> None:
        """Raises when the store cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
