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

from dataclasses import dataclass, field, replace

import numpy as np

from . import cache
from .catalog import Catalog
from .geometry import half_extents
from .terrain import HALO, OCC, PATH, RES, WATER, Terrain

SURFACE_CODE = {"ground": 0, "water": 1, "wall": 2, "air": 3}


def surface_codes(catalog: Catalog) -> np.ndarray:
    """Surface code per prefab number (cached per catalog, cache.py)."""
    return prefab_table(catalog).surface


@dataclass(frozen=True)
class PrefabTable:
    """Per-prefab columns that layout derives from the catalog alone (built once, cache.py)."""

    surface: np.ndarray  # SURFACE_CODE per prefab
    forbid: np.ndarray  # raster flags a footprint of this prefab must not touch
    need_water: np.ndarray  # bool: every covered cell must be water
    half_diag: np.ndarray  # 0.5 * hypot(width, depth): footprint radius at scale 1
    radius: np.ndarray  # half_diag * scale_max: the largest footprint radius
    radius_list: list[float]  # the same, as Python floats (per-member lookups)
    scale_span: np.ndarray  # scale_max - scale_min


def prefab_table(catalog: Catalog) -> PrefabTable:
    memo = cache.table(catalog, "static")
    hit = memo.get("prefab_table")
    if hit is None:
        surf = np.array([SURFACE_CODE[s] for s in catalog.surface], dtype=np.int64)
        forbid = np.where(surf == 0, WATER | PATH, 0) | np.where(surf == 2, WATER, 0)
        forbid = forbid | np.where(catalog.solid, OCC | RES, 0)
        half_diag = 0.5 * np.hypot(catalog.width, catalog.depth)
        radius = half_diag * catalog.scale_max
        hit = memo["prefab_table"] = PrefabTable(
            surf, forbid, surf == 1, half_diag, radius, radius.tolist(),
            catalog.scale_max - catalog.scale_min)
    return hit


# |cos|, |sin| of every integer yaw, as geometry.half_extents computes them
_ABS_COS = np.abs(np.cos(np.radians(np.arange(360))))
_ABS_SIN = np.abs(np.sin(np.radians(np.arange(360))))
_GATHER_LIMIT = 1_500_000  # cells gathered per numpy call; keeps memory bounded
_ARANGE = np.arange(4096)  # footprints span at most 200 m * scale 10 / 1 m cells + 1


Part = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]


@dataclass
class Columns:
    """The placed world: one part (pidx, x, z, yaw, scale, group, landmark) per accepted
    batch, in placement order; ``concat()`` gives one column per field."""

    parts: list[Part] = field(default_factory=list)

    def add(self, pidx: np.ndarray, x: np.ndarray, z: np.ndarray, yaw: np.ndarray,
            scale: np.ndarray, group: int, landmark: bool) -> None:
        self.parts.append((pidx, x, z, yaw, scale, group, landmark))

    def concat(self) -> dict[str, np.ndarray]:
        if not self.parts:
            return {"pidx": np.zeros(0, np.int64), "x": np.zeros(0), "z": np.zeros(0),
                    "yaw": np.zeros(0, np.int64), "scale": np.zeros(0),
                    "group": np.zeros(0, np.int64), "landmark": np.zeros(0, bool)}
        pidx, x, z, yaw, scale, group, landmark = zip(*self.parts, strict=True)
        sizes = [p.size for p in pidx]
        return {"pidx": np.concatenate(pidx).astype(np.int64),
                "x": np.concatenate(x).astype(np.float64),
                "z": np.concatenate(z).astype(np.float64),
                "yaw": np.concatenate(yaw).astype(np.int64),
                "scale": np.concatenate(scale).astype(np.float64),
                "group": np.repeat(np.array(group, dtype=np.int64), sizes),
                "landmark": np.repeat(np.array(landmark, dtype=bool), sizes)}


class PlacementEngine:
    def __init__(self, catalog: Catalog, terrain: Terrain, budget: int) -> None:
        self.cat = catalog
        self.ter = terrain
        self.budget = budget
        self.count = 0
        self.cols = Columns()
        self.tab = prefab_table(catalog)
        if terrain.seabed:  # under water everywhere: ground things stand on the seabed
            self.tab = replace(self.tab, forbid=self.tab.forbid & ~np.int64(WATER))
        # (cells, candidates, footprint cell table) during one try_place call
        self._known: tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray] | None = None
        self.surface = self.tab.surface
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
        edges = np.empty((4, x.size))
        np.subtract(x, hx, out=edges[0])
        np.add(x, hx, out=edges[1])
        np.subtract(z, hz, out=edges[2])
        np.add(z, hz, out=edges[3])
        inb = (np.minimum(edges[0], edges[2]) >= -h) & (np.maximum(edges[1], edges[3]) <= h)
        edges += h
        if t.cell != 1.0:  # dividing by 1.0 changes nothing
            edges /= t.cell
        idx = np.floor(edges, out=edges).astype(np.int64)
        np.minimum(idx, n - 1, out=idx)
        np.maximum(idx, 0, out=idx)
        return hx, hz, idx[0], idx[1], idx[2], idx[3], inb

    def _gather(self, sel: np.ndarray, i0: np.ndarray, i1: np.ndarray, j0: np.ndarray,
                j1: np.ndarray) -> np.ndarray:
        """Flat raster indices of the covering cells of each selected candidate, (m, ki * kj).

        Smaller footprints repeat their last row/column to fill the common width (a repeated
        cell changes neither an OR/AND over it nor a mark)."""
        if sel.size == i0.size:  # sel is sorted and unique (flatnonzero/subsets): all rows
            a0, a1, b0, b1 = i0, i1, j0, j1
        else:
            a0, a1, b0, b1 = i0[sel], i1[sel], j0[sel], j1[sel]
        ki = int((a1 - a0).max()) + 1
        kj = int((b1 - b0).max()) + 1
        ii = np.minimum(a0[:, None] + _ARANGE[:ki], a1[:, None]) * self.ter.n
        jj = np.minimum(b0[:, None] + _ARANGE[:kj], b1[:, None])
        table: np.ndarray = (ii[:, :, None] + jj[:, None, :]).reshape(sel.size, ki * kj)
        return table

    def conflicts(self, sel: np.ndarray, cells: tuple[np.ndarray, ...], forbid: np.ndarray,
                  need_water: np.ndarray) -> np.ndarray:
        """Bool per selected candidate: touches a forbidden flag (or dry land when it needs water)."""
        if sel.size == 0:
            return np.zeros(0, dtype=bool)
        _, _, i0, i1, j0, j1, _ = cells
        flat = self.ter.flags.reshape(-1)
        known = self._footprints_of(sel, cells)
        if known is not None:
            step = sel.size
        else:
            span = int((i1[sel] - i0[sel]).max() + 1) * int((j1[sel] - j0[sel]).max() + 1)
            step = max(1, _GATHER_LIMIT // span)
        out = np.empty(sel.size, dtype=bool)
        for a in range(0, sel.size, step):
            part = sel[a:a + step]
            g = flat.take(known if known is not None else self._gather(part, i0, i1, j0, j1))
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
        known = self._footprints_of(sel, cells)
        idx = (known if known is not None else self._gather(sel, i0, i1, j0, j1)).ravel()
        flat[idx] = flat.take(idx) | np.uint8(bit)

    def _grown(self, cells: tuple[np.ndarray, ...], by: int) -> tuple[np.ndarray, ...]:
        """The same footprints' cell ranges grown by ``by`` cells on every side (clipped)."""
        hx, hz, i0, i1, j0, j1, inb = cells
        top = self.ter.n - 1
        return (hx, hz, np.maximum(i0 - by, 0), np.minimum(i1 + by, top),
                np.maximum(j0 - by, 0), np.minimum(j1 + by, top), inb)

    def _footprints_of(self, sel: np.ndarray, cells: tuple[np.ndarray, ...]) -> np.ndarray | None:
        """The rows of try_place's footprint table for candidates ``sel`` (sorted), if any:
        one gather per try_place call serves its raster check, its phases and its marks."""
        known = self._known
        if known is None or known[0] is not cells:
            return None
        cand, table = known[1], known[2]
        return table if sel.size == cand.size else table[np.searchsorted(cand, sel)]

    def try_place(self, pidx: np.ndarray, x: np.ndarray, z: np.ndarray, yaw: np.ndarray,
                  scale: np.ndarray, *, target: int, group: int, landmark: bool = False,
                  halo: int = 0) -> int:
        """Accept up to ``target`` candidates (in candidate order); returns how many were placed.

        ``halo``: cells round each accepted footprint flagged HALO, and HALO forbidden to the
        candidates (landmarks keep walking room between each other)."""
        target = min(target, self.room)
        if target <= 0 or x.size == 0:
            return 0
        cells = self._cells(pidx, x, z, yaw, scale)
        hx, hz, *_, inb = cells
        solid = self.cat.solid[pidx]
        forbid = self.tab.forbid[pidx]
        if halo:
            forbid = forbid | HALO
        need_water = self.tab.need_water[pidx]
        cand = np.flatnonzero(inb)
        _, _, i0, i1, j0, j1, _ = cells
        if cand.size and cand.size * int((i1 - i0).max() + 1) * int((j1 - j0).max() + 1) \
                <= _GATHER_LIMIT:  # (an upper bound of the table's size: bounded memory)
            self._known = (cells, cand, self._gather(cand, i0, i1, j0, j1))
        try:
            cand = cand[~self.conflicts(cand, cells, forbid, need_water)]
            hard = cand[solid[cand]]
            soft = cand[~solid[cand]]
            accepted = self._phases(hard, x, z, hx, hz, cells, forbid, need_water, target,
                                    halo)
        finally:
            self._known = None
        if soft.size:
            accepted = np.concatenate([accepted, soft[:target - accepted.size]])
        if accepted.size == 0:
            return 0
        accepted.sort(kind="stable")
        self.cols.add(pidx[accepted], x[accepted], z[accepted], yaw[accepted], scale[accepted],
                      group, landmark)
        self.count += int(accepted.size)
        return int(accepted.size)

    def _phases(self, cand: np.ndarray, x: np.ndarray, z: np.ndarray, hx: np.ndarray,
                hz: np.ndarray, cells: tuple[np.ndarray, ...], forbid: np.ndarray,
                need_water: np.ndarray, target: int, halo: int = 0) -> np.ndarray:
        if cand.size == 0:
            return cand
        size = 2.0 * float(max(hx[cand].max(), hz[cand].max())) + 1e-6
        h = self.ter.half
        ci = np.floor((x[cand] + h) / size).astype(np.int64)
        cj = np.floor((z[cand] + h) / size).astype(np.int64)
        phase = (ci & 1) * 2 + (cj & 1)
        key = ci * 1_000_003 + cj
        # the first candidate of every bucket (in candidate order), grouped by phase: one sort
        # for all four phases instead of a unique() per phase
        order = np.argsort(key, kind="stable")
        sk = key[order]
        first = np.ones(sk.size, dtype=bool)
        np.not_equal(sk[1:], sk[:-1], out=first[1:])
        pos = np.sort(order[first])
        pos = pos[np.argsort(phase[pos], kind="stable")]
        ends = np.cumsum(np.bincount(phase[pos], minlength=4)).tolist()
        out: list[np.ndarray] = []
        remaining = target
        start = 0
        for p in range(4):
            local = pos[start:ends[p]]
            start = ends[p]
            if local.size == 0:
                continue
            sel = cand[local]
            if out:  # phase 0 was already checked against the raster by the caller
                sel = sel[~self.conflicts(sel, cells, forbid, need_water)]
            sel = sel[:remaining]
            self.mark(sel, cells)
            if halo and sel.size:
                self.mark(sel, self._grown(cells, halo), HALO)
            out.append(sel)
            remaining -= sel.size
            if remaining == 0:
                break
        return np.concatenate(out) if out else cand[:0]
