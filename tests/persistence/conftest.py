"""Store fixtures parametrized by backend: SQLite in tmp_path, and PostgreSQL at PG_URL.

`store` is a migrated, empty `persistence.store.Store` on each backend; a test that takes it
runs once per backend. PostgreSQL skips when it is not listening (fails when CI is set, see
`require_service`). Each PostgreSQL test starts from an empty `public` schema, so tests never
see each other's rows. Add tests for more repositories (worlds, op log) by taking `store`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from persistence.db import migrate_async
from persistence.store import Store


def _root_conftest() -> ModuleType:
    """tests/conftest.py as a module of its own name.

    pytest imports every rootless conftest.py as the module `conftest`, and the latest one
    wins in sys.modules; re-exporting the root helpers here keeps `from conftest import
    login, bearer, PG_URL` working in every test module, whichever conftest came last.
    """
    name = "_immersiverse_tests_root_conftest"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


_root = _root_conftest()
TIMEOUT = _root.TIMEOUT
PG_URL: str = _root.PG_URL
REDIS_URL: str = _root.REDIS_URL
require_service = _root.require_service
make_settings = _root.make_settings
login = _root.login
bearer = _root.bearer

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
