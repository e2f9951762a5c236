"""Alembic environment: async engines (aiosqlite / asyncpg) driven from a private loop."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from persistence.models import Base

config = context.config
target_metadata = Base.metadata

# PostgreSQL: several nodes may start at once; one advisory lock serialises their upgrades.
_PG_MIGRATION_LOCK = 7_316_001


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # persistence/db.py always sets it
        raise RuntimeError("alembic: sqlalchemy.url is not set")
    return url


async def _online() -> None:
    engine = create_async_engine(_url(), poolclass=NullPool)
    async with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.execute(text(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})"))
            await conn.commit()
        try:
            await conn.run_sync(_run)
            await conn.commit()
        finally:
            if postgres:
                await conn.execute(text(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})"))
                await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
