"""Walkability: a coarse grid over the terrain, BFS from the spawn, and reserved corridors.

Layout reserves (flag RES) the BFS path from the spawn to every ground landmark *before* the
bulk of objects is placed; solid objects may not touch reserved cells, so the landmarks stay
reachable by construction. The evaluator re-runs the same BFS on the finished world to prove it.
"""
from __future__ import annotations

import numpy as np

from .terrain import BRIDGE, OCC, RES, WATER, Terrain

WALK_CELL = 3.0  # metres; wide enough for an avatar


def coarse_factor(ter: Terrain) -> int:
    return max(1, int(round(WALK_CELL / ter.cell)))


def blocked_grid(ter: Terrain, occupied: np.ndarray | None = None) -> np.ndarray:
    """Coarse cells containing water or (given / flagged) occupied fine cells."""
    f = coarse_factor(ter)
    nc = ter.n // f
    window = ter.flags[:nc * f, :nc * f]
    wet = 0 if ter.seabed else WATER  # on a seabed one walks (swims) everywhere
    if occupied is None:
        fine = window & np.uint8(wet | OCC)  # one pass; nonzero = blocked
    else:
        fine = ((window & wet) != 0) | occupied[:nc * f, :nc * f]
    deck = window & np.uint8(BRIDGE)
    if deck.any():  # one walks over a bridge's deck, whatever is under or on it
        fine = (fine != 0) & (deck == 0)
    if f > 1:
        # OR of f strided slices per axis: several times faster than reshape(...).any(axis=(1, 3))
        r = fine[:, 0::f].copy()
        for q in range(1, f):
            r |= fine[:, q::f]
        fine = r[0::f].copy()
        for q in range(1, f):
            fine |= r[q::f]
    return fine if fine.dtype == bool else fine != 0


def bfs(blocked: np.ndarray, start: tuple[int, int],
        targets: list[np.ndarray] | None = None) -> np.ndarray:
    """Grid distances from start (-1 = unreachable); 4-neighbour, frontier-vectorised.

    The grid is padded with a blocked border, so a cell's neighbours are four fixed offsets
    in the flat array with no edge tests. With ``targets``, the search stops (checked every
    8 steps) once every target has a reached cell; cells beyond stay -1."""
    nc = blocked.shape[0]
    w = nc + 2
    free = np.zeros((w, w), dtype=bool)
    free[1:-1, 1:-1] = ~blocked
    free = free.ravel()
    dist = np.full(w * w, -1, dtype=np.int32)
    s = (start[0] + 1) * w + start[1] + 1
    dist[s] = 0
    free[s] = False
    frontier = np.array([s], dtype=np.int64)
    offsets = np.array([-w, w, -1, 1], dtype=np.int64)
    stamp = np.zeros(w * w, dtype=np.int64)
    d = 0
    pending = list(targets or [])
    padded = [(t // nc + 1) * w + t % nc + 1 for t in pending]
    while frontier.size:
        d += 1
        nb = (frontier[:, None] + offsets).ravel()
        nb = nb[free[nb]]
        # drop repeats (a cell reached from two sides) without sorting: the last write wins
        k = np.arange(nb.size)
        stamp[nb] = k
        nb = nb[stamp[nb] == k]
        free[nb] = False
        dist[nb] = d
        frontier = nb
        if targets is not None and d % 8 == 0:
            padded = [t for t in padded if not (dist[t] >= 0).any()]
            if not padded:
                break
    return dist.reshape(w, w)[1:-1, 1:-1].copy()


def landmark_targets(ter: Terrain, boxes: list[tuple[float, float, float, float]],
                     blocked: np.ndarray) -> list[np.ndarray]:
    """For each landmark AABB (x0, z0, x1, z1): flat indices of free coarse cells touching it."""
    f = coarse_factor(ter)
    nc = blocked.shape[0]
    size = ter.cell * f
    out = []
    for x0, z0, x1, z1 in boxes:
        i0 = int(max(0, (x0 + ter.half) // size - 1))
        i1 = int(min(nc - 1, (x1 + ter.half) // size + 1))
        j0 = int(max(0, (z0 + ter.half) // size - 1))
        j1 = int(min(nc - 1, (z1 + ter.half) // size + 1))
        flat = (np.arange(i0, i1 + 1)[:, None] * nc + np.arange(j0, j1 + 1)[None, :]).ravel()
        out.append(flat[~blocked.ravel()[flat]])
    return out


def start_cell(ter: Terrain, x: float, z: float) -> tuple[int, int]:
    size = ter.cell * coarse_factor(ter)
    nc = ter.n // coarse_factor(ter)
    return (int(min(nc - 1, (x + ter.half) // size)), int(min(nc - 1, (z + ter.half) // size)))


def reserve_corridors(ter: Terrain, spawn: tuple[float, float],
                      boxes: list[tuple[float, float, float, float]]) -> int:
    """Reserve walk paths spawn -> each landmark; returns how many landmarks are unreachable."""
    if not boxes:
        return 0
    blocked = blocked_grid(ter)
    s = start_cell(ter, *spawn)
    blocked[s] = False
    targets = landmark_targets(ter, boxes, blocked)
    dist = bfs(blocked, s, targets).ravel()
    nc = blocked.shape[0]
    f = coarse_factor(ter)
    blocks = ter.flags[:nc * f, :nc * f].reshape(nc, f, nc, f)  # a view: coarse cell blocks
    unreachable = 0
    for tgt in targets:
        reached = tgt[dist[tgt] >= 0]
        if reached.size == 0:
            unreachable += 1
            continue
        cur = int(reached[np.argmin(dist[reached])])
        path = [cur]
        k = int(dist[cur])
        while k > 0:  # walk back down the distances to the spawn
            c = cur % nc
            for nb in (cur - nc, cur + nc, cur - 1, cur + 1):
                if 0 <= nb < nc * nc and abs(nb % nc - c) <= 1 and dist[nb] == k - 1:
                    cur = nb
                    break
            path.append(cur)
            k -= 1
        rows, cols = np.divmod(np.array(path), nc)
        blocks[rows, :, cols, :] |= np.uint8(RES)  # every f x f fine block on the path
    return unreachable
