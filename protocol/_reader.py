"""Validation helpers for decoding: the whole-frame walk and a field reader.

The walk enforces what must hold everywhere in a client frame (docs/protocol.md §2.3): depth,
string map keys, only JSON-like value types, finite floats. The reader then checks the known
fields of one map and records *every* problem with its path before the decoder gives up, so a
developer sees all mistakes of a frame at once (docs/protocol.md §8.1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from .codes import ErrorCode
from .errors import ProtocolError

__all__ = ["FieldErrors", "Reader", "passes", "walk"]

_LEAVES = frozenset({str, int, bool, type(None)})


def walk(obj: dict[str, Any], max_depth: int) -> None:
    """Raise ProtocolError if the decoded tree breaks a frame-wide rule."""
    found = _walk(obj, 1, max_depth)
    if found is not None:
        path, code, reason = found
        path.reverse()
        where = _join(path) or "$"
        raise ProtocolError(code, fields={where: reason})


def passes(node: Any, depth: int, max_depth: int) -> bool:
    """Whether `walk` finds nothing inside `node`, a map or array at `depth` of a frame (the
    top-level map is depth 1). The same rules as `_walk`, without building a problem's path:
    the telemetry fast path checks every event's data with it."""
    if depth > max_depth:
        return False
    if type(node) is dict:
        for key, value in node.items():
            if type(key) is bytes:
                return False
            kind = type(value)
            if not (kind in _LEAVES or (kind is float and value - value == 0.0)  # NaN, ±inf: not 0
                    or ((kind is dict or kind is list) and passes(value, depth + 1, max_depth))):
                return False
        return True
    for value in node:
        kind = type(value)
        if not (kind in _LEAVES or (kind is float and value - value == 0.0)
                or ((kind is dict or kind is list) and passes(value, depth + 1, max_depth))):
            return False
    return True


def _walk(node: Any, depth: int, max_depth: int) -> tuple[list[str | int], ErrorCode, str] | None:
    # Recursion is bounded by max_depth: containers below it are never entered.
    if depth > max_depth:
        return [], ErrorCode.TOO_DEEP, f"nested deeper than {max_depth}"
    items: Any = node.items() if type(node) is dict else enumerate(node)
    for key, value in items:
        if type(key) is bytes:
            return [repr(key)], ErrorCode.UNSUPPORTED_TYPE, "map keys must be strings"
        kind = type(value)
        if kind in _LEAVES:
            continue
        if kind is float:
            if not math.isfinite(value):
                return [key], ErrorCode.NON_FINITE_NUMBER, "must be finite"
            continue
        if kind is dict or kind is list:
            found = _walk(value, depth + 1, max_depth)
            if found is not None:
                found[0].append(key)
                return found
            continue
        return [key], ErrorCode.UNSUPPORTED_TYPE, f"{kind.__name__} values are not allowed"
    return None


def _join(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if type(part) is int else (f".{part}" if out else str(part))
    return out


class FieldErrors:
    """Problems found in one frame, keyed by field path, first problem first."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: dict[str, tuple[ErrorCode, str]] = {}

    def add(self, path: str, code: ErrorCode, reason: str) -> None:
        self.items.setdefault(path, (code, reason))

    def raise_if_any(self, what: str) -> None:
        if self.items:
            code = next(iter(self.items.values()))[0]
            raise ProtocolError(
                code,
                f"invalid {what}",
                fields={path: reason for path, (_, reason) in self.items.items()},
            )


class Reader:
    """Typed access to the fields of one map; problems go to ``errors``, never raise.

    ``req_*`` return a placeholder when the field is bad; decoders call
    ``errors.raise_if_any`` before building a message, so placeholders never escape.
    """

    __slots__ = ("errors", "obj", "prefix")

    def __init__(self, obj: Mapping[str, Any], errors: FieldErrors, prefix: str = "") -> None:
        self.obj = obj
        self.errors = errors
        self.prefix = prefix

    def path(self, name: str | int) -> str:
        if type(name) is int:
            return f"{self.prefix}[{name}]"
        return f"{self.prefix}.{name}" if self.prefix else str(name)

    def raw(self, name: str, required: bool) -> Any:
        # A nil value means "absent" for optional fields (docs/protocol.md §2.4).
        value = self.obj.get(name)
        if value is None and required:
            self.errors.add(self.path(name), ErrorCode.MISSING_FIELD, "required")
        return value

    def wrong(self, name: str, expected: str) -> None:
        self.errors.add(self.path(name), ErrorCode.WRONG_TYPE, f"expected {expected}")

    def invalid(self, name: str, reason: str) -> None:
        self.errors.add(self.path(name), ErrorCode.INVALID_VALUE, reason)

    # -- scalars --

    def opt_int(self, name: str, lo: int, hi: int, required: bool = False) -> int | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if type(value) is not int:
            self.wrong(name, "integer")
            return None
        if not lo <= value <= hi:
            self.invalid(name, f"must be between {lo} and {hi}")
            return None
        return value

    def req_int(self, name: str, lo: int, hi: int) -> int:
        value = self.opt_int(name, lo, hi, required=True)
        return 0 if value is None else value

    def opt_str(
        self, name: str, max_chars: int, min_chars: int = 1, required: bool = False
    ) -> str | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if type(value) is not str:
            self.wrong(name, "string")
            return None
        if not min_chars <= len(value) <= max_chars:
            self.invalid(name, f"length must be between {min_chars} and {max_chars}")
            return None
        return value

    def req_str(self, name: str, max_chars: int, min_chars: int = 1) -> str:
        value = self.opt_str(name, max_chars, min_chars, required=True)
        return "" if value is None else value

    def opt_bool(self, name: str) -> bool | None:
        value = self.raw(name, False)
        if value is None:
            return None
        if type(value) is not bool:
            self.wrong(name, "boolean")
            return None
        return value

    def opt_number(self, name: str, lo: float, hi: float) -> float | None:
        value = self.raw(name, False)
        if value is None:
            return None
        if type(value) is not float and type(value) is not int:
            self.wrong(name, "number")
            return None
        if not lo <= value <= hi:
            self.invalid(name, f"must be between {lo} and {hi}")
            return None
        return float(value)

    def opt_choice(self, name: str, choices: Sequence[str]) -> str | None:
        value = self.opt_str(name, 64)
        if value is not None and value not in choices:
            self.invalid(name, "must be one of " + ", ".join(choices))
            return None
        return value

    # -- containers --

    def opt_vector(self, name: str, size: int, required: bool = False) -> tuple[float, ...] | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if type(value) is not list or not all(type(x) in (int, float) for x in value):
            self.wrong(name, f"array of {size} numbers")
            return None
        if len(value) != size:
            self.invalid(name, f"must have {size} numbers")
            return None
        # NaN/Inf were already refused by the frame walk (§2.3); convert ints to floats.
        return tuple(float(x) for x in value)

    def opt_list(
        self, name: str, max_items: int, min_items: int = 0, required: bool = False
    ) -> list[Any] | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if type(value) is not list:
            self.wrong(name, "array")
            return None
        if not min_items <= len(value) <= max_items:
            self.invalid(name, f"must have between {min_items} and {max_items} items")
            return None
        return value

    def opt_map(self, name: str, max_bytes: int, required: bool = False) -> dict[str, Any] | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if type(value) is not dict:
            self.wrong(name, "map")
            return None
        # Measured packed, as it will be stored and re-sent (§5, limits).
        if len(msgpack.packb(value)) > max_bytes:
            self.invalid(name, f"larger than {max_bytes} bytes packed")
            return None
        return value

    def sub(self, name: str | int, value: Any) -> Reader | None:
        """A reader for a nested map, or None (and an error) when it is not a map."""
        if type(value) is not dict:
            self.errors.add(self.path(name), ErrorCode.WRONG_TYPE, "expected map")
            return None
        return Reader(value, self.errors, self.path(name))
