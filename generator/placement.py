"""The vectorised placement engine: accept candidate instances without breaking hard constraints.

Candidates arrive as numpy arrays (prefab number, x, z, yaw, scale). One call checks them all at
once against the terrain's flag raster (water, paths, occupancy, reservations) by gathering every
candidate's covering cells, then resolves conflicts *between* candidates with the phase-group
parallel Poisson-disk scheme (Wei 2008, "Parallel Poisson Disk Sampling"): candidates are
bucketed into a grid whose cell is the largest footprint, buckets are split into four parity
phases, and within one phase at most one candidate per bucket survives, so survivors of one phase
cannot overlap each other; each phase is then checked against what earlier phases marked.
The raster check is conservative (covering cells), so accepted solid footprints never overlap.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import cache
from .catalog import Catalog
from .geometry import half_extents
from .terrain import OCC, PATH, RES, WATER, Terrain

SURFACE_CODE = {"ground": 0, "water": 1, "wall": 2, "air": 3}


def surface_codes(catalog: Catalog) -> np.ndarray:
    """Surface code per prefab number (cached per catalog, cache.py)."""
    memo = cache.table(catalog, "static")
    hit = memo.get("surface_codes")
    if hit is None:
        hit = memo["surface_codes"] = np.array([SURFACE_CODE[s] for s in catalog.surface],
                                               dtype=np.int64)
    return hit
# |cos|, |sin| of every integer yaw, as geometry.half_extents computes them
_ABS_COS = np.abs(np.cos(np.radians(np.arange(360))))
_ABS_SIN = np.abs(np.sin(np.radians(np.arange(360))))
_GATHER_LIMIT = 1_500_000  # cells gathered per numpy call; keeps memory bounded
_ARANGE = np.arange(4096)  # footprints span at most 200 m * scale 10 / 1 m cells + 1


@dataclass
class Columns:
    """The placed world, column-wise (one entry per instance, in placement order)."""

    pidx: list[np.ndarray] = field(default_factory=list)
    x: list[np.ndarray] = field(default_factory=list)
    z: list[np.ndarray] = field(default_factory=list)
    yaw: list[np.ndarray] = field(default_factory=list)
    scale: list[np.ndarray] = field(default_factory=list)
    group: list[np.ndarray] = field(default_factory=list)
    landmark: list[np.ndarray] = field(default_factory=list)

    def concat(self) -> dict[str, np.ndarray]:
        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
        return {"pidx": cat(self.pidx, np.int64), "x": cat(self.x, np.float64),
                "z": cat(self.z, np.float64), "yaw": cat(self.yaw, np.int64),
                "scale": cat(self.scale, np.float64), "group": cat(self.group, np.int64),
                "landmark": cat(self.landmark, bool)}


class PlacementEngine:
    def __init__(self, catalog: Catalog, terrain: Terrain, budget: int) -> None:
        self.cat = catalog
        self.ter = terrain
        self.budget = budget
        self.count = 0
        self.cols = Columns()
        self.surface = surface_codes(catalog)
        self.is_building = catalog.is_building

    @property
    def room(self) -> int:
        return self.budget - self.count

    def _cells(self, pidx: np.ndarray, x: np.ndarray, z: np.ndarray, yaw: np.ndarray,
               scale: np.ndarray) -> tuple[np.ndarray, ...]:
        if yaw.dtype.kind in "iu":  # integer degrees (always, in layout): table lookup
            k = yaw % 360
            c, s = _ABS_COS[k], _ABS_SIN[k]
            w, d = self.cat.width[pidx] * scale, self.cat.depth[pidx] * scale
            hx, hz = 0.5 * (w * c + d * s), 0.5 * (w * s + d * c)
        else:
            hx, hz = half_extents(self.cat.width[pidx], self.cat.depth[pidx], scale, yaw)
        t, n = self.ter, self.ter.n
        h = t.half
        # the four edges in one (4, m) array: one floor/clip instead of four (same arithmetic
        # as Terrain.index, element by element)
        edges = np.stack((x - hx, x + hx, z - hz, z + hz))
        inb = (edges[0] >= -h) & (edges[1] <= h) & (edges[2] >= -h) & (edges[3] <= h)
        idx = np.floor((edges + h) / t.cell).astype(np.int64)
        np.minimum(idx, n - 1, out=idx)
        np.maximum(idx, 0, out=idx)
        return hx, hz, idx[0], idx[1], idx[2], idx[3], inb

    def _gather(self, sel: np.ndarray, i0: np.ndarray, i1: np.ndarray, j0: np.ndarray,
                j1: np.ndarray) -> np.ndarray:
        """Flat raster indices of the covering cells of each selected candidate, (m, ki * kj).

        Smaller footprints repeat their last row/column to fill the common width (a repeated
        cell changes neither an OR/AND over it nor a mark)."""
        a0, a1, b0, b1 = i0[sel], i1[sel], j0[sel], j1[sel]
        ki = int((a1 - a0).max()) + 1
        kj = int((b1 - b0).max()) + 1
        ii = np.minimum(a0[:, None] + _ARANGE[:ki], a1[:, None]) * self.ter.n
        jj = np.minimum(b0[:, None] + _ARANGE[:kj], b1[:, None])
        return (ii[:, :, None] + jj[:, None, :]).reshape(sel.size, ki * kj)

    def conflicts(self, sel: np.ndarray, cells: tuple[np.ndarray, ...], forbid: np.ndarray,
                  need_water: np.ndarray) -> np.ndarray:
        """Bool per selected candidate: touches a forbidden flag (or dry land when it needs water)."""
        if sel.size == 0:
            return np.zeros(0, dtype=bool)
        _, _, i0, i1, j0, j1, _ = cells
        span = int((i1[sel] - i0[sel]).max() + 1) * int((j1[sel] - j0[sel]).max() + 1)
        step = max(1, _GATHER_LIMIT // span)
        flat = self.ter.flags.reshape(-1)
        out = np.empty(sel.size, dtype=bool)
        for a in range(0, sel.size, step):
            part = sel[a:a + step]
            g = flat.take(self._gather(part, i0, i1, j0, j1))
            # one OR over each footprint's cells says which flags it touches; one AND says
            # which flags all its cells have (water things need water under every cell)
            bad = (np.bitwise_or.reduce(g, axis=1) & forbid[part]) != 0
            wet = need_water[part]
            if wet.any():
                bad |= wet & ((np.bitwise_and.reduce(g, axis=1) & WATER) == 0)
            out[a:a + step] = bad
        return out

    def mark(self, sel: np.ndarray, cells: tuple[np.ndarray, ...], bit: int = OCC) -> None:
        if sel.size == 0:
            return
        _, _, i0, i1, j0, j1, _ = cells
        flat = self.ter.flags.reshape(-1)
        idx = self._gather(sel, i0, i1, j0, j1).ravel()
        flat[idx] = flat.take(idx) | np.uint8(bit)

    def try_place(self, pidx: np.ndarray, x: np.ndarray, z: np.ndarray, yaw: np.ndarray,
                  scale: np.ndarray, *, target: int, group: int, landmark: bool = False) -> int:
        """Accept up to ``target`` candidates (in candidate order); returns how many were placed."""
        target = min(target, self.room)
        if target <= 0 or x.size == 0:
            return 0
        cells = self._cells(pidx, x, z, yaw, scale)
        hx, hz, *_, inb = cells
        solid = self.cat.solid[pidx]
        surf = self.surface[pidx]
        forbid = np.where(surf == 0, WATER | PATH, 0) | np.where(surf == 2, WATER, 0)
        forbid = forbid | np.where(solid, OCC | RES, 0)
        need_water = surf == 1
        cand = np.nonzero(inb)[0]
        cand = cand[~self.conflicts(cand, cells, forbid, need_water)]
        hard = cand[solid[cand]]
        soft = cand[~solid[cand]]
        accepted = self._phases(hard, x, z, hx, hz, cells, forbid, need_water, target)
        accepted = np.concatenate([accepted, soft[:target - accepted.size]])
        if accepted.size == 0:
            return 0
        accepted.sort(kind="stable")
        c = self.cols
        c.pidx.append(pidx[accepted])
        c.x.append(x[accepted])
        c.z.append(z[accepted])
        c.yaw.append(yaw[accepted])
        c.scale.append(scale[accepted])
        c.group.append(np.full(accepted.size, group))
        c.landmark.append(np.full(accepted.size, landmark))
        self.count += int(accepted.size)
        return int(accepted.size)

    def _phases(self, cand: np.ndarray, x: np.ndarray, z: np.ndarray, hx: np.ndarray,
                hz: np.ndarray, cells: tuple[np.ndarray, ...], forbid: np.ndarray,
                need_water: np.ndarray, target: int) -> np.ndarray:
        if cand.size == 0:
            return cand
        size = 2.0 * float(max(hx[cand].max(), hz[cand].max())) + 1e-6
        h = self.ter.half
        ci = np.floor((x[cand] + h) / size).astype(np.int64)
        cj = np.floor((z[cand] + h) / size).astype(np.int64)
        phase = (ci & 1) * 2 + (cj & 1)
        key = ci * 1_000_003 + cj
        out: list[np.ndarray] = []
        remaining = target
        for p in range(4):
            local = np.nonzero(phase == p)[0]
            if local.size == 0:
                continue
            _, first = np.unique(key[local], return_index=True)
            sel = cand[local[np.sort(first)]]
            if out:  # phase 0 was already checked against the raster by the caller
                sel = sel[~self.conflicts(sel, cells, forbid, need_water)]
            sel = sel[:remaining]
            self.mark(sel, cells)
            out.append(sel)
            remaining -= sel.size
            if remaining == 0:
                break
        return np.concatenate(out) if out else cand[:0]
