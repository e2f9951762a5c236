"""Exceptions raised by the persistence layer."""


class PersistenceError(Exception):
    """Base for every error of this package."""


class NotFound(PersistenceError):
    """The row asked for does not exist."""


class Conflict(PersistenceError):
    """The write clashes with existing state (duplicate key, wrong account kind)."""


class CatalogInvalid(PersistenceError):
    """A catalog file has rows that fail validation; `problems` lists (index, row, reason)."""

    def __init__(self, problems: list[tuple[int, object, str]]) -> None:
        super().__init__(f"{len(problems)} invalid catalog rows")
        self.problems = problems


class LimitExceeded(PersistenceError):
    """The write would take a stored quantity past its configured limit; `fields` names the
    offending parts of the request when they are known (e.g. `ops[3].props`)."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields
