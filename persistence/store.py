"""The store: one engine and the repositories built on it."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from .analytics import AnalyticsRepo
from .catalog import CatalogRepo
from .db import create_engine, is_sqlite, sessionmaker
from .discovery import DiscoveryRepo
from .edits import EditRepo
from .experiences import ExperienceRepo
from .sqlite_writer import SqliteWriter, sqlite_file
from .telemetry import TelemetryRepo
from .users import UserRepo
from .worlds import WorldRepo


class Store:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine)
        # SQLite has one writer at a time: write transactions queue on one lock (db.Repo),
        # which the hot paths' one-hop writer takes too (sqlite_writer.py).
        gate = asyncio.Lock() if is_sqlite(url) else None
        path = sqlite_file(url)
        self._writer = SqliteWriter(path, gate) if path and gate else None
        self.users = UserRepo(self.sessions, gate, writer=self._writer)
        self.catalog = CatalogRepo(self.sessions, gate)
        self.worlds = WorldRepo(self.sessions, gate, writer=self._writer)
        self.experiences = ExperienceRepo(self.sessions, gate)
        self.telemetry = TelemetryRepo(self.sessions, gate)
        self.edits = EditRepo(self.sessions, gate, writer=self._writer)
        self.discovery = DiscoveryRepo(self.sessions, gate, dialect=self.dialect, writer=self._writer)
        self.analytics = AnalyticsRepo(self.sessions, gate, dialect=self.dialect)

    @property
    def dialect(self) -> str:
        return "sqlite" if is_sqlite(self.url) else "postgresql"

    async def ping(self) -> None:
        """Raises when the store cannot answer a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._writer.close)
        await self.engine.dispose()
