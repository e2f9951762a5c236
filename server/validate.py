"""Field validation for JSON bodies and query strings.

Small on purpose: each field names its kind and bounds; every problem of a request is
reported at once as {field: reason}, which becomes a 422 body's `details`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import validation

_MISSING = object()
_CONTROL = frozenset(chr(c) for c in (*range(32), 127))


def storable(text: str) -> bool:
    """True when `text` can be encoded as UTF-8: JSON's "\\ud800" escape decodes to a lone
    surrogate, which no database column (nor a log line) can take (issue 15, finding 11)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_control(text: str) -> bool:
    """True when `text` holds a control character (NUL, newline, escape...): refused in ids."""
    return not _CONTROL.isdisjoint(text)


@dataclass(frozen=True, slots=True)
class F:
    name: str
    kind: str  # str | int | float | bool | list | dict | str_list
    required: bool = True
    min: float | None = None  # length for str/list, value for numbers
    max: float | None = None
    choices: tuple[str, ...] | None = None
    default: Any = None
    nullable: bool = False


def _check(f: F, value: Any) -> tuple[Any, str | None]:
    if value is None and f.nullable:
        return None, None
    kind = f.kind
    if kind == "str":
        if not isinstance(value, str):
            return None, "must be a string"
        if not storable(value):
            return None, "must be valid Unicode text (no lone surrogates)"
        if f.choices is not None and value not in f.choices:
            return None, f"must be one of {', '.join(f.choices)}"
        size: float = len(value)
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be an integer"
        size = value
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, "must be a finite number"
        size = value
    elif kind == "bool":
        return (value, None) if isinstance(value, bool) else (None, "must be a boolean")
    elif kind == "dict":
        return (value, None) if isinstance(value, dict) else (None, "must be an object")
    elif kind in ("list", "str_list"):
        if not isinstance(value, list):
            return None, "must be an array"
        if kind == "str_list" and not all(isinstance(v, str) and 0 < len(v) <= 64 and storable(v) for v in value):
            return None, "must be an array of strings of 1..64 characters"
        size = len(value)
    else:  # pragma: no cover - a programming error in a field table
        raise ValueError(kind)
    unit = "characters" if kind == "str" else "items" if kind in ("list", "str_list") else ""
    if f.min is not None and size < f.min:
        return None, f"must be at least {f.min:g} {unit}".rstrip()
    if f.max is not None and size > f.max:
        return None, f"must be at most {f.max:g} {unit}".rstrip()
    return value, None


def validate(data: Any, fields: tuple[F, ...]) -> dict[str, Any]:
    """Checked values for `fields` from a JSON object; 422 listing every bad field."""
    if not isinstance(data, Mapping):
        raise validation({"body": "must be a JSON object"})
    out: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in fields:
        value = data.get(f.name, _MISSING)
        if value is _MISSING:
            if f.required:
                problems[f.name] = "field required"
            else:
                out[f.name] = f.default
            continue
        checked, problem = _check(f, value)
        if problem:
            problems[f.name] = problem
        else:
            out[f.name] = checked
    if problems:
        raise validation(problems)
    return out


def query(params: Mapping[str, str], fields: tuple[F, ...]) -> dict[str, Any]:
    """Like `validate` for query-string values, converting numbers first."""
    converted: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in fields:
        if f.name not in params:
            continue
        raw = params[f.name]
        if f.kind == "int":
            try:
                converted[f.name] = int(raw)
            except ValueError:
                problems[f.name] = "must be an integer"
        elif f.kind == "bool":
            converted[f.name] = raw.lower() in ("1", "true", "yes")
        else:
            converted[f.name] = raw
    if problems:
        raise validation(problems)
    return validate(converted, fields)


MAX_OFFSET = 2**31 - 1  # larger offsets overflow SQLite's integer binding (a 500, found by fuzzing)


def paging(default_limit: int, max_limit: int) -> tuple[F, F]:
    """The `limit` / `offset` query fields of a paged list."""
    return (F("limit", "int", required=False, min=1, max=max_limit, default=default_limit),
            F("offset", "int", required=False, min=0, max=MAX_OFFSET, default=0))
