"""Small geometric helpers shared by layout, the evaluator and the server's edit validation.

Footprints are axis-aligned bounding boxes of the scaled, yaw-rotated catalog width x depth. That
is conservative: if two AABBs are disjoint, the rotated rectangles are too, so "no AABB overlap"
implies "no footprint overlap" and a single fast test serves layout and evaluation alike.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

OVERLAP_EPS = 0.01  # metres: touching within 1 cm (rounding of stored floats) is not overlap


def half_extents(width: np.ndarray, depth: np.ndarray, scale: np.ndarray,
                 yaw_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half sizes along x and z of the AABB around a scaled, rotated footprint."""
    rad = np.radians(yaw_deg)
    c, s = np.abs(np.cos(rad)), np.abs(np.sin(rad))
    w, d = width * scale, depth * scale
    return 0.5 * (w * c + d * s), 0.5 * (w * s + d * c)


def yaw_quaternion(yaw_deg: float) -> tuple[float, float, float, float]:
    """Unity quaternion (x, y, z, w) for a rotation of yaw_deg about +Y."""
    half = math.radians(yaw_deg) / 2
    return (0.0, round(math.sin(half), 6), 0.0, round(math.cos(half), 6))


def quaternion_yaw(q: Sequence[float]) -> float:
    """Inverse of yaw_quaternion for pure-yaw rotations, in degrees."""
    return math.degrees(2 * math.atan2(q[1], q[3]))


def _bounds_dict(header_or_bounds: Any) -> Mapping[str, Mapping[str, float]]:
    bounds: Mapping[str, Mapping[str, float]]
    if hasattr(header_or_bounds, "bounds"):
        bounds = header_or_bounds.bounds  # WorldHeader
    elif isinstance(header_or_bounds, Mapping) and "bounds" in header_or_bounds:
        bounds = header_or_bounds["bounds"]  # header.to_dict()
    else:
        bounds = header_or_bounds  # {"min": {...}, "max": {...}}
    return bounds


def bounds_contains(header_or_bounds: Any, position: Any) -> bool:
    """True if a position lies inside a world's bounds (inclusive).

    Accepts a WorldHeader, its ``to_dict()``, or the bare ``{"min": {x,y,z}, "max": {x,y,z}}``;
    the position may be ``{"x","y","z"}`` or an (x, y, z) sequence. Meant for the server's edit
    validation (an ``edit`` that moves an instance outside the world is rejected).
    """
    b = _bounds_dict(header_or_bounds)
    if isinstance(position, Mapping):
        px, py, pz = (float(position[k]) for k in ("x", "y", "z"))
    else:
        px, py, pz = (float(v) for v in position)
    if not all(math.isfinite(v) for v in (px, py, pz)):
        return False
    lo, hi = b["min"], b["max"]
    return (lo["x"] <= px <= hi["x"] and lo["y"] <= py <= hi["y"] and lo["z"] <= pz <= hi["z"])
