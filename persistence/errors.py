"""Exceptions raised by the persistence layer."""


class PersistenceError(Exception):
    """Base for every error of this package."""


class NotFound(PersistenceError):
    """The row asked for does not exist."""


class Conflict(PersistenceError):
    """The write clashes with existing state (duplicate key, wrong account kind)."""


class CatalogInvalid(PersistenceError):
    """A catalog file has rows that fail validation; `problems` lists (index, row, reasons),
    index -1 for a problem of the file itself."""

    def __init__(self, problems: list[tuple[int, object, list[str]]]) -> None:
        first = "; ".join(f"{'file' if i < 0 else f'row {i}'}: {r}" for i, _, reasons in problems[:3] for r in reasons)
        more = f" and {len(problems) - 3} more invalid rows" if len(problems) > 3 else ""
        super().__init__(f"invalid catalog: {first}{more} (docs/catalog.md)")
        self.problems = problems


class LimitExceeded(PersistenceError):
    """The write would take a stored quantity past its configured limit; `fields` names the
    offending parts of the request when they are known (e.g. `ops[3].props`)."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields


class LeaseLost(PersistenceError):
    """A generation's write found its world no longer `generating`: the node's lease expired
    and another node marked the world `partial` (server/leases.py). Nothing was written."""


class CommitUnknown(PersistenceError):
    """The connection failed during COMMIT: the write may or may not be stored. Its cause is
    the driver's error (an outage, `is_outage`)."""


# sqlite3 OperationalError messages that mean "the file cannot be used now", not a bad statement.
_SQLITE_OUTAGE = ("database is locked", "unable to open database", "disk i/o error", "database is busy")


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the store cannot be reached or used right now —
    a refused or dropped connection, a server shutting down, a pool or lock timeout — as
    opposed to a bad statement or a bug. Callers report it as "unavailable, retry later"."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if _is_outage_one(cur):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _is_outage_one(exc: BaseException) -> bool:
    import sqlite3

    import sqlalchemy.exc as sae

    if isinstance(exc, sae.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sae.TimeoutError | sae.DisconnectionError | ConnectionError | TimeoutError):
        return True  # pool checkout timed out; refused, reset or lost sockets
    if isinstance(exc, sqlite3.OperationalError):
        return any(text in str(exc).lower() for text in _SQLITE_OUTAGE)
    if isinstance(exc, OSError) and exc.errno is not None:
        return True  # connect() failed at the socket level (refused, unreachable, reset)
    module = type(exc).__module__
    if module.startswith("asyncpg"):
        import asyncpg

        return isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError
                          | asyncpg.exceptions.OperatorInterventionError)
    return False
