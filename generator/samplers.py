"""Candidate position samplers, one per placement pattern or spatial relation.

Each returns ``(x, z, yaw_deg)`` numpy arrays of candidate positions; the placement engine then
decides which candidates survive. ``widen`` grows with each retry round, so a relation that is
hard to satisfy loosens gradually before layout falls back to free placement.
"""
from __future__ import annotations

import math

import numpy as np

from .terrain import WATER, Road, Terrain

Samples = tuple[np.ndarray, np.ndarray, np.ndarray]


def choice(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    """``rng.choice(len(p), n, p=p)`` draw for draw (same numbers, same stream position), without
    its argument checks, which cost more than the draw for the few weights used here."""
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return cdf.searchsorted(rng.random(n), side="right")


def _yaws(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 360, n)


def uniform(rng: np.random.Generator, ter: Terrain, n: int, margin: float = 1.0) -> Samples:
    lim = ter.half - margin
    return rng.uniform(-lim, lim, n), rng.uniform(-lim, lim, n), _yaws(rng, n)


def cluster(rng: np.random.Generator, ter: Terrain, n: int, extent: float,
            widen: int = 0) -> Samples:
    """Gaussian blobs of about six around random centres."""
    k = max(1, n // 6)
    lim = ter.half * 0.9
    cx, cz = rng.uniform(-lim, lim, k), rng.uniform(-lim, lim, k)
    pick = rng.integers(0, k, n)
    sigma = (3.0 * extent + 4.0) * (1 + widen)
    return (cx[pick] + rng.normal(0, sigma, n), cz[pick] + rng.normal(0, sigma, n),
            _yaws(rng, n))


GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))  # ~137.5 degrees


def ring(rng: np.random.Generator, n: int, cx: float, cz: float, radius: float,
         widen: int = 0, spread: bool = True) -> Samples:
    """Candidates around a centre, facing it; later rounds try wider radii.

    ``spread``: successive candidates step by the golden angle, so every prefix of them goes
    round the whole ring: placement accepts candidates in order, so "three towers around a
    lake" get three directions, not three neighbouring slots. Without it the candidates are
    evenly spaced in order, so the first accepted ones sit together (landmarks without a
    relation: spread round the centre they could wall it in)."""
    base = rng.uniform(0, 2 * math.pi)
    turns = GOLDEN_ANGLE * np.arange(n) if spread else 2 * math.pi * np.arange(n) / max(n, 1)
    ang = base + turns + rng.normal(0, 0.05, n)
    r = radius * (1 + 0.18 * widen) + rng.normal(0, 0.04 * radius + 0.3, n)
    x, z = cx + r * np.cos(ang), cz + r * np.sin(ang)
    yaw = np.round(np.degrees(np.arctan2(cx - x, cz - z))).astype(np.int64) % 360
    return x, z, yaw


def ring_slots(rng: np.random.Generator, n: int, cx: float, cz: float, radius: float,
               base: float, slots: int, slot: int, extent: float, widen: int = 0) -> Samples:
    """Candidates for one of ``slots`` evenly spaced directions round a centre (``slot``
    counted from ``base``): "three towers around a lake" face three directions 120 degrees
    apart instead of wherever the first candidates happened to fit. Later rounds widen the
    radius and the angle (up to most of the slot's width) to get round what stands there."""
    r = radius * (1 + 0.18 * widen) + rng.uniform(-0.5, 0.5, n) * extent
    half = min(0.9 * math.pi / slots, (0.3 + 0.3 * widen) * extent / max(radius, 1.0)
               + 0.12 * widen)
    ang = base + 2 * math.pi * slot / slots + rng.uniform(-half, half, n)
    x, z = cx + r * np.cos(ang), cz + r * np.sin(ang)
    yaw = np.round(np.degrees(np.arctan2(cx - x, cz - z))).astype(np.int64) % 360
    return x, z, yaw


def annulus(rng: np.random.Generator, n: int, cx: float, cz: float, r0: float,
            r1: float) -> Samples:
    ang = rng.uniform(0, 2 * math.pi, n)
    r = np.sqrt(rng.uniform(r0 * r0, r1 * r1, n))
    return cx + r * np.cos(ang), cz + r * np.sin(ang), _yaws(rng, n)


def along(rng: np.random.Generator, ter: Terrain, road: Road, n: int, offset: float,
          widen: int = 0) -> Samples:
    """Both banks/sides of a river, road or coast line, facing along it."""
    t = rng.uniform(-ter.half * 0.95, ter.half * 0.95, n)
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    if road.width == 0.0:  # a coast: only the land side
        side = np.ones(n)
    d = offset + rng.uniform(0.3, 2.5 + 3 * widen, n)
    centre, slope = road.centre(t), road.slope(t)
    norm = np.sqrt(1 + slope * slope)
    across = centre + side * d * norm
    heading = np.degrees(np.arctan2(1.0, slope))
    if road.axis == "z":
        x, z = across, t
        yaw = np.degrees(np.arctan2(slope, 1.0))
    else:
        x, z = t, across
        yaw = heading
    return x, z, np.round(yaw).astype(np.int64) % 360


def line(rng: np.random.Generator, n: int, cx: float, cz: float, spacing: float,
         widen: int = 0) -> Samples:
    """A straight row through a point, facing across the row."""
    ang = rng.uniform(0, math.pi)
    s = (np.arange(n) - (n - 1) / 2) * spacing * (1 + 0.15 * widen)
    off = rng.normal(0, 0.2 + widen, n)
    x = cx + s * math.cos(ang) - off * math.sin(ang)
    z = cz + s * math.sin(ang) + off * math.cos(ang)
    yaw = np.full(n, int(round(90 - math.degrees(ang))) % 360)
    return x, z, yaw


def direction(rng: np.random.Generator, ter: Terrain, n: int, cx: float, cz: float,
              gap: float, dirname: str, widen: int = 0) -> Samples:
    """Points in a box on one side (north = +z, east = +x) of an anchor."""
    depth = 0.25 * ter.size * (1 + 0.3 * widen)
    a = rng.uniform(gap, gap + depth, n)
    b = rng.normal(0, depth / 2, n)
    dx, dz = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}[dirname]
    return cx + dx * a + dz * b, cz + dz * a + dx * b, _yaws(rng, n)


def water_cells(rng: np.random.Generator, ter: Terrain, n: int) -> Samples:
    """Centres of random water cells (any lake, river, coast or moat), yaw along x or z."""
    wet = np.flatnonzero(ter.flags & np.uint8(WATER))
    if wet.size == 0:
        return uniform(rng, ter, n)
    pick = wet[rng.integers(0, wet.size, n)]
    i, j = np.divmod(pick, ter.n)
    x = -ter.half + (i + 0.5) * ter.cell
    z = -ter.half + (j + 0.5) * ter.cell
    return x, z, rng.integers(0, 2, n) * 90
