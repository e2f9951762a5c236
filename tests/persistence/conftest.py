"""Store fixtures parametrized by backend: SQLite in tmp_path, and PostgreSQL at PG_URL.

`store` is a migrated, empty `persistence.store.Store` on each backend; a test that takes it
runs once per backend. PostgreSQL skips when it is not listening (fails when CI is set, see
`require_service`). Each PostgreSQL test starts from an empty `public` schema, so tests never
see each other's rows. Add tests for more repositories (worlds, op log) by taking `store`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from persistence.db import migrate_async
from persistence.store import Store
from tests.conftest import PG_URL, require_service

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


async def reset_postgres(url: str) -> None:
    """Drop every table, type and the alembic_version row: the next migrate starts empty."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def store_url(request: Any, tmp_path: Path) -> str:
    """The URL of an empty store on this backend, migrated to head."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    else:
        require_service("PostgreSQL", 5432)
        await reset_postgres(PG_URL)
        url = PG_URL
    await migrate_async(url)
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = Store(store_url, pool_size=5)
    try:
        yield s
    finally:
        await s.close()
