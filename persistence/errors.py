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
