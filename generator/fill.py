"""Bulk fill: jittered-grid slots, so the count is known after one vectorised check.

Scatter that has no exact count (the palette, "trees" without a number) is the bulk of a world.
Running it through the retrying Poisson engine costs ~0.1 ms per call; instead the world is cut
into square slots as wide as the largest footprint in a size class, every slot is checked
against the flag raster at once, and each chosen slot receives one instance jittered so that its
footprint (at any yaw) stays inside the slot. Slots are disjoint, so instances cannot overlap
each other, and a free slot cannot overlap anything placed earlier. The result is stratified
(blue-noise-like) sampling; clusters come from weighting slots by distance to random centres.
"""
from __future__ import annotations

import numpy as np

from .placement import PlacementEngine
from .terrain import OCC, PATH, RES, WATER

RADIUS_CLASSES = (1.5, 3.0, 6.0, float("inf"))


def fill(eng: PlacementEngine, rng: np.random.Generator, members: list[tuple[int, int]],
         group: int, scale_range: tuple[float, float] = (0.0, 1.0),
         clustered: bool = False, final: bool = False) -> int:
    """Place up to sum(counts) instances of (prefab number, count) members; returns placed.

    ``final``: nothing is placed after this fill, so its last size class need not mark the
    occupancy raster (its slots are disjoint from each other by construction).
    """
    cat = eng.cat
    placed = 0
    radius = 0.5 * np.hypot(cat.width, cat.depth) * cat.scale_max
    buckets: dict[tuple[int, bool], list[tuple[int, int]]] = {}
    for p, n in members:
        if n <= 0:
            continue
        cls = next(k for k, lim in enumerate(RADIUS_CLASSES) if radius[p] < lim)
        buckets.setdefault((cls, cat.surface[p] == "water"), []).append((p, n))
    keys = sorted(buckets, reverse=True)  # big first, small fill the gaps
    for n, key in enumerate(keys):
        placed += _fill_class(eng, rng, buckets[key], key[1], group, scale_range, clustered,
                              mark=not (final and n == len(keys) - 1))
    return placed


def _blocks_any(block: np.ndarray, mask: int, k: int, mi: int, mj: int,
                need: int) -> np.ndarray:
    """(mi, mj) bools: does any cell of each k x k block hit ``mask`` (or miss ``need``)?

    OR-ing k strided slices per axis is ~7x faster than reshape(mi, k, mj, k).any(axis=(1, 3)).
    """
    b = block & np.uint8(mask | need)
    if need:
        b = b ^ np.uint8(need)  # a cell without the needed bit now has it set: "bad"
    r = b[:, 0::k].copy()
    for q in range(1, k):
        r |= b[:, q::k]
    c = r[0::k].copy()
    for q in range(1, k):
        c |= r[q::k]
    return c != 0


def _fill_class(eng: PlacementEngine, rng: np.random.Generator, members: list[tuple[int, int]],
                water: bool, group: int, scale_range: tuple[float, float],
                clustered: bool, mark: bool = True) -> int:
    cat, ter = eng.cat, eng.ter
    pids = np.array([p for p, _ in members])
    counts = np.array([n for _, n in members])
    total = min(int(counts.sum()), eng.room)
    if total <= 0:
        return 0
    rmax = float((0.5 * np.hypot(cat.width[pids], cat.depth[pids]) * cat.scale_max[pids]).max())
    # slots are k x k raster cells, aligned to the raster, so "is this slot free?" is a few
    # strided ORs over the flag raster instead of a gather per slot
    k = int(np.ceil((2 * rmax + 0.05) / ter.cell))
    o = rng.integers(0, k, 2)
    mi, mj = (ter.n - o[0]) // k, (ter.n - o[1]) // k
    if mi <= 0 or mj <= 0:
        return 0
    mask = OCC | RES | PATH | (0 if water else WATER)
    free = np.nonzero(~_blocks_any(ter.flags[o[0]:o[0] + mi * k, o[1]:o[1] + mj * k], mask,
                                   k, mi, mj, WATER if water else 0).ravel())[0]
    if free.size == 0:
        return 0
    size = k * ter.cell
    h = size / 2
    x = -ter.half + (o[0] + (free // mj) * k) * ter.cell + h
    z = -ter.half + (o[1] + (free % mj) * k) * ter.cell + h
    if clustered:
        nc = int(min(24, max(1, total // 8)))
        cx = rng.uniform(-ter.half, ter.half, nc)
        cz = rng.uniform(-ter.half, ter.half, nc)
        sigma = max(6.0, 4 * rmax)
        # a Gaussian is separable: exp(-(dx2+dz2)) = exp(-dx2) * exp(-dz2), so exponentials
        # are taken per slot row and column (mi + mj) x nc, not per slot (free x nc)
        rows = -ter.half + (o[0] + np.arange(mi) * k) * ter.cell + h
        cols = -ter.half + (o[1] + np.arange(mj) * k) * ter.cell + h
        gx = np.exp(-(rows[:, None] - cx) ** 2 / (2 * sigma * sigma))
        gz = np.exp(-(cols[:, None] - cz) ** 2 / (2 * sigma * sigma))
        w = (gx[free // mj] * gz[free % mj]).sum(axis=1) + 0.02
        order = np.argsort(rng.exponential(size=free.size) / w, kind="stable")
    else:
        order = rng.permutation(free.size)
    slots = order[:total]
    m = slots.size
    pidx = rng.permutation(np.repeat(pids, counts))[:m]
    lo, hi = scale_range
    u = rng.uniform(lo, hi, m)
    scale = np.round(cat.scale_min[pidx] + (cat.scale_max[pidx] - cat.scale_min[pidx]) * u, 2)
    slack = np.maximum(0.0, h - 0.5 * np.hypot(cat.width[pidx], cat.depth[pidx]) * scale - 0.01)
    px = x[slots] + rng.uniform(-1, 1, m) * slack
    pz = z[slots] + rng.uniform(-1, 1, m) * slack
    yaw = rng.integers(0, 360, m)
    building = eng.is_building[pidx]
    yaw = np.where(building, (np.round(yaw / 90.0) * 90) % 360, yaw).astype(np.int64)
    solid = cat.solid[pidx]
    if mark and solid.any():
        fc = eng._cells(pidx, px, pz, yaw, scale)
        eng.mark(np.nonzero(solid)[0], fc)
    c = eng.cols
    c.pidx.append(pidx)
    c.x.append(px)
    c.z.append(pz)
    c.yaw.append(yaw)
    c.scale.append(scale)
    c.group.append(np.full(m, group))
    c.landmark.append(np.zeros(m, dtype=bool))
    eng.count += m
    return m
