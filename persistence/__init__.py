"""Persistence: SQLAlchemy models, Alembic migrations, repositories, telemetry writer.

Knows nothing of sockets or frames. SQLite (WAL) by default, PostgreSQL by URL.
"""

from .errors import CatalogInvalid, Conflict, NotFound, PersistenceError
from .store import Store

__all__ = ["CatalogInvalid", "Conflict", "NotFound", "PersistenceError", "Store"]
