"""An `edit` frame's ops checked against the catalog and the world's bounds, and turned into
the rows the store applies (docs/protocol.md §6.1, §7.4). Pure: no I/O, no session."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from typing import Any

from generator import bounds_contains
from protocol import messages as m
from protocol.codes import ErrorCode

from .failures import RequestRefused

EDIT_ROLES = ("owner", "editor")
# A rotation's length may be off by float rounding (0.7071² × 2 = 0.99998), not by more.
QUAT_TOLERANCE = 1e-3
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def validated_ops(msg: m.Edit, bounds: Any, catalog: Mapping[str, Mapping[str, Any]]
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """The ops as store rows, and the id of each add ("" for other ops); RequestRefused names
    the first op that is not valid, by its index."""
    ops: list[dict[str, Any]] = []
    new_ids: list[str] = []
    for i, op in enumerate(msg.ops):
        kind = op.OP
        out: dict[str, Any] = {"op": kind}
        for name in ("id", "prefab_id", "pos", "rot", "scale", "props"):
            value = getattr(op, name, None)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        if kind == "add":
            prefab = catalog.get(out["prefab_id"])
            if prefab is None:
                raise RequestRefused(ErrorCode.UNKNOWN_PREFAB, f"prefab {out['prefab_id']} is not in the catalog",
                                     fields={f"ops[{i}].prefab_id": "unknown prefab"})
            out["prefab_type"] = prefab["type"]
            new_id = out.get("id") or f"e{secrets.token_hex(6)}"
            if not _INSTANCE_ID.match(new_id):
                raise RequestRefused(ErrorCode.INVALID_VALUE, fields={f"ops[{i}].id": "invalid instance id"})
            new_ids.append(new_id)
        else:
            new_ids.append("")
        _check_transform(i, out, bounds)
        ops.append(out)
    return ops, new_ids


def _check_transform(i: int, out: dict[str, Any], bounds: Any) -> None:
    for key in ("pos", "rot", "scale"):
        if key in out and not all(math.isfinite(v) for v in out[key]):
            raise RequestRefused(ErrorCode.NON_FINITE_NUMBER, fields={f"ops[{i}].{key}": "must be finite"})
    if "rot" in out and abs(math.hypot(*out["rot"]) - 1.0) > QUAT_TOLERANCE:
        # docs/protocol.md §6.1: rotations are unit quaternions; [1e308, 1e308, 0, 0] is not one
        raise RequestRefused(ErrorCode.INVALID_VALUE, fields={f"ops[{i}].rot": "must be a unit quaternion"})
    if "scale" in out and not all(0 < v <= 100 for v in out["scale"]):
        raise RequestRefused(ErrorCode.INVALID_VALUE, fields={f"ops[{i}].scale": "must be in (0, 100]"})
    if "pos" in out and bounds and not bounds_contains(bounds, out["pos"]):
        raise RequestRefused(ErrorCode.OUT_OF_BOUNDS, f"ops[{i}] lies outside the world bounds",
                             fields={f"ops[{i}].pos": "outside the world bounds"})
