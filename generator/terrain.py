"""Seeded terrain: a height field plus region rasters (water, paths, occupancy, reservations).

Regions are analytic shapes (an ellipse-ish lake, a sine river, sine roads, a coast line) so that
layout and the evaluator can ask "is this point water?" exactly, and a fine raster (``flags``)
caches them per cell for vectorised footprint checks. Unity conventions: x east, z north, y up,
metres; the world is the square [-size/2, size/2]^2 centred on the origin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WATER, PATH, OCC, RES = 1, 2, 4, 8  # flag bits of Terrain.flags
HALO = 16  # only while landmarks are placed: around each landmark, kept free of the others
BRIDGE = 32  # a deck over water (a castle's drawbridge): walkable; never sent to clients
WATER_LEVEL = 0.0
# ground next to water: dry land stands at least DRY_MARGIN above the water level, the bed of a
# water cell at least WET_MARGIN below it (docs/protocol.md §6.6, "ground height")
DRY_MARGIN = 0.3
WET_MARGIN = 0.5
SEABED_DEPTH = 6.0  # metres of water over the highest point of a submerged floor
FORD_BANK = 6.0  # metres of each bank kept free at the river's ford
RELIEF = {"fantasy": 5.0, "sci_fi": 1.5, "realistic": 3.0, "surreal": 7.0, "historical": 2.5,
          "urban": 0.6, "nature": 6.0, "space": 4.0}


@dataclass
class Road:
    """x = x0 + amp*sin(freq*z + phase) (axis "z", runs north-south) or the transpose ("x")."""

    axis: str
    c0: float
    amp: float
    freq: float
    phase: float
    width: float

    def centre(self, t: np.ndarray) -> np.ndarray:
        return self.c0 + self.amp * np.sin(self.freq * t + self.phase)

    def slope(self, t: np.ndarray) -> np.ndarray:
        return self.amp * self.freq * np.cos(self.freq * t + self.phase)

    def distance(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Approximate distance to the centreline (exact for straight roads)."""
        along, across = (z, x) if self.axis == "z" else (x, z)
        dist: np.ndarray = np.abs(across - self.centre(along)) / np.sqrt(1 + self.slope(along) ** 2)
        return dist


@dataclass
class Terrain:
    size: float
    cell: float
    n: int
    heights: np.ndarray  # coarse height grid, spacing ``hstep``
    hstep: float
    flags: np.ndarray  # uint8 (n, n), index [i along x, j along z]
    lake: tuple[float, float, float, float, float, float] | None = None  # cx, cz, rx, rz, p1, p2
    river: Road | None = None  # axis "x": z = f(x)
    ford: tuple[float, float] | None = None  # (x_min, x_max) where the river is dry land
    roads: list[Road] = field(default_factory=list)
    coast: Road | None = None  # water where z < f(x)
    # True for a terrain decoded from a world header (terrain_wire.py): no analytic shapes,
    # water is what the raster says
    water_raster: bool = False
    # the whole world lies under water (an underwater reef): the ground is the seabed, and
    # everything, sea life included, stands on it (docs/protocol.md §6.6, feature "seabed")
    seabed: bool = False

    # -- queries ---------------------------------------------------------------------------
    @property
    def half(self) -> float:
        return self.size / 2

    def index(self, v: np.ndarray) -> np.ndarray:
        """Raster cell index of a coordinate (same formula on both axes)."""
        return np.floor((v + self.half) / self.cell).astype(np.int64)

    def water_at(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Analytic water test (lake, river minus ford, coast)."""
        x = np.asarray(x, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        out = np.zeros(np.broadcast(x, z).shape, dtype=bool)
        if self.seabed:
            return ~out
        if self.lake is not None:
            out |= self._in_lake(x, z)
        if self.river is not None:
            wet = self.river.distance(x, z) < self.river.width / 2
            if self.ford is not None:
                wet &= ~((x > self.ford[0]) & (x < self.ford[1]))
            out |= wet
        if self.coast is not None:
            out |= z < self.coast.centre(x)
        return out

    def _in_lake(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """dx^2 + dz^2 < rmod^2 with rmod = 1 + 0.12 sin(3 theta + p1) + 0.06 sin(5 theta + p2).

        rmod stays within 1 -/+ 0.18, so points well inside 0.81 or outside 1.19 are decided
        without the trigonometry; only the band between evaluates it (same formula)."""
        cx, cz, rx, rz, p1, p2 = self.lake  # type: ignore[misc]
        shape = np.broadcast(x, z).shape
        x, z = np.atleast_1d(x), np.atleast_1d(z)  # 0-d inputs: masks need arrays
        dx, dz = (x - cx) / rx, (z - cz) / rz
        r2 = dx * dx + dz * dz  # broadcast: a column and a row give the whole window
        out = r2 < 0.81 * 0.81
        band = ~out & (r2 < 1.19 * 1.19)  # a mask: inputs may be 0-d
        if band.any():
            theta = np.arctan2(np.broadcast_to(dz, r2.shape)[band],
                               np.broadcast_to(dx, r2.shape)[band])
            rmod = 1 + 0.12 * np.sin(3 * theta + p1) + 0.06 * np.sin(5 * theta + p2)
            out[band] = r2[band] < rmod * rmod
        return out.reshape(shape)

    def path_at(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast(x, z).shape, dtype=bool)
        for road in self.roads:
            out |= road.distance(x, z) < road.width / 2
        return out

    def height_at(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Bilinear terrain height; dry land is kept at least 0.3 m above the water."""
        x = np.asarray(x, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        g = self.heights.shape[0] - 1
        # np.clip's arithmetic (max, then min) without its wrapper; 2-D lookups as flat takes
        fx = np.minimum(np.maximum((x + self.half) / self.hstep, 0), g - 1e-9)
        fz = np.minimum(np.maximum((z + self.half) / self.hstep, 0), g - 1e-9)
        i, j = fx.astype(np.int64), fz.astype(np.int64)
        tx, tz = fx - i, fz - j
        ux, uz = 1 - tx, 1 - tz
        h = self.heights.ravel()
        k = i * (g + 1) + j
        y = ((h.take(k) * ux + h.take(k + g + 1) * tx) * uz
             + (h.take(k + 1) * ux + h.take(k + g + 2) * tx) * tz)
        if self.lake is None and self.river is None and self.coast is None \
                and not self.water_raster and not self.seabed:
            dry: np.ndarray = np.maximum(y, WATER_LEVEL + DRY_MARGIN)  # no water anywhere
            return dry
        n = self.n
        ii = np.minimum(np.maximum(self.index(x), 0), n - 1)
        jj = np.minimum(np.maximum(self.index(z), 0), n - 1)
        wet = (self.flags.ravel().take(ii * n + jj) & WATER) != 0
        out: np.ndarray = np.where(wet, np.minimum(y, WATER_LEVEL - WET_MARGIN),
                                   np.maximum(y, WATER_LEVEL + DRY_MARGIN))
        return out

    def summary(self) -> dict[str, Any]:
        """The header's ``terrain`` map: figures, plus the heightmap and masks a client builds
        the ground from (docs/protocol.md §6.6)."""
        from .terrain_wire import encode_heights, encode_masks  # it imports this module
        # exact counts over the raster size: the same value as the mean of a bool raster
        wet = np.count_nonzero(self.flags & np.uint8(WATER)) / self.flags.size
        paths = np.count_nonzero(self.flags & np.uint8(PATH)) / self.flags.size
        return {
            "size": self.size, "cell": self.cell, "water_level": WATER_LEVEL,
            "height_min": round(float(self.heights.min()), 3),
            "height_max": round(float(self.heights.max()), 3),
            "water_fraction": round(float(wet), 4), "path_fraction": round(float(paths), 4),
            "features": [n for n, on in (("lake", self.lake), ("river", self.river),
                                         ("road", self.roads), ("coast", self.coast),
                                         ("seabed", self.seabed)) if on],
            "heightmap": encode_heights(self.heights, self.hstep),
            "masks": encode_masks(self.flags, self.cell),
        }


def _fbm(rng: np.random.Generator, g: int, octaves: int = 4) -> np.ndarray:
    """Fractal value noise in [-1, 1] on a g x g grid (bilinear-upsampled random lattices)."""
    out = np.zeros((g, g))
    a, b = np.empty((g, g)), np.empty((g, g))  # reused: no g x g temporaries per octave
    amp, total = 1.0, 0.0
    for res, i, i1, w, w1 in _fbm_tables(g, octaves):
        lattice = rng.uniform(-1, 1, (res, res))
        rows = lattice[i] * w1[:, None] + lattice[i1] * w[:, None]
        # out += amp * (rows[:, i] * w1 + rows[:, i1] * w), operation for operation
        np.multiply(rows.take(i, axis=1), w1, out=a)
        np.multiply(rows.take(i1, axis=1), w, out=b)
        a += b
        a *= amp
        out += a
        total += amp
        amp *= 0.5
    return out / total


_Octave = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_FBM_TABLES: dict[tuple[int, int], list[_Octave]] = {}


def _fbm_tables(g: int, octaves: int) -> list[_Octave]:
    """Per octave: lattice size, left and right lattice index, weight and 1 - weight of each
    grid point (depend on g only, so computed once per grid size; at most 129 sizes)."""
    hit = _FBM_TABLES.get((g, octaves))
    if hit is None:
        t = np.linspace(0.0, 1.0, g)
        hit = []
        for k in range(octaves):
            res = 3 * 2**k + 1
            f = t * (res - 1)
            i = np.minimum(f.astype(np.int64), res - 2)
            w = f - i
            hit.append((res, i, i + 1, w, 1 - w))
        _FBM_TABLES[(g, octaves)] = hit
    return hit


_LAKE_REACH = 1.0 + 0.12 + 0.06 + 1e-6  # the lake's radius modulation never exceeds this


def _reach(road: Road) -> float:
    """Max distance across the line's axis from c0 at which a cell can be within width/2."""
    return abs(road.amp) + road.width / 2 * math.sqrt(1 + (road.amp * road.freq) ** 2)


def _window(centres: np.ndarray, c: float, r: float) -> tuple[int, int]:
    """Index range of the sorted cell centres within [c - r, c + r]."""
    return (int(np.searchsorted(centres, c - r, "left")),
            int(np.searchsorted(centres, c + r, "right")))


def _skirt(road: Road, lake: tuple[float, float, float, float, float, float], half: float) -> None:
    """Move a north-south road sideways so that its band keeps clear of the lake (4 m from
    its widest reach), on the side it was nearer to; the other side when that would leave
    the world."""
    cx, _, rx, rz, _, _ = lake
    reach = max(rx, rz) * _LAKE_REACH + 4.0 + _reach(road)
    if abs(road.c0 - cx) >= reach:
        return
    for side in ((-1.0, 1.0) if road.c0 <= cx else (1.0, -1.0)):
        c0 = cx + side * reach
        if abs(c0) + _reach(road) < half - 4.0:
            road.c0 = c0
            return


def build_terrain(rng: np.random.Generator, *, size: float, world_type: str, hilliness: float,
                  lake: bool, lake_central: bool, river: bool, road: bool, coast: bool,
                  coast_depth: float = 0.12, river_offset: float = 0.24,
                  seabed: bool = False) -> Terrain:
    """Create the height field and region rasters for one world. ``seabed``: the whole world
    is a submerged floor SEABED_DEPTH below the water (lake, river and coast are then moot)."""
    cell = max(1.0, size / 1024)
    n = int(math.ceil(size / cell))
    g = int(min(129, size // 4 + 1))
    hstep = size / (g - 1)
    relief = RELIEF[world_type] * hilliness
    heights = 0.8 + relief * (0.5 + 0.5 * _fbm(rng, g))
    half = size / 2
    ter = Terrain(size=size, cell=cell, n=n, heights=heights, hstep=hstep,
                  flags=np.zeros((n, n), dtype=np.uint8))
    if lake:
        rx = min(160.0, max(10.0, 0.13 * size))
        cx, cz = (0.0, 0.0) if lake_central else (0.22 * size, 0.16 * size)
        ter.lake = (cx, cz, rx, rx * float(rng.uniform(0.75, 1.0)),
                    float(rng.uniform(0, 6.28)), float(rng.uniform(0, 6.28)))
    if road:
        ter.roads.append(Road("z", float(rng.uniform(-0.08, 0.08)) * size,
                              0.04 * size * float(rng.uniform(0.3, 1.0)),
                              2 * math.pi / size * float(rng.uniform(0.6, 1.4)),
                              float(rng.uniform(0, 6.28)),
                              8.0 if world_type in ("urban", "realistic", "sci_fi") else 4.0))
        if world_type == "urban":
            ter.roads.append(Road("x", -0.12 * size, 0.0, 0.0, 0.0, 8.0))
        if ter.lake is not None:  # the road passes the lake by its nearer shore, not through it
            _skirt(ter.roads[0], ter.lake, half)
    if river:
        ter.river = Road("x", river_offset * size * (-1 if lake_central else 1),
                         0.05 * size, 2 * math.pi / size * float(rng.uniform(0.8, 1.6)),
                         float(rng.uniform(0, 6.28)), min(24.0, max(6.0, size * 0.03)))
        # a dry ford where the (first) road or the north-south walk line crosses, so the
        # two banks stay connected for the reachability guarantee
        fx = 0.0
        if ter.roads:
            for _ in range(4):
                fx = float(ter.roads[0].centre(ter.river.centre(np.array([fx])))[0])
        ter.ford = (fx - 7.0, fx + 7.0)
    if coast:
        ter.coast = Road("x", -half + coast_depth * size, 0.02 * size, 2 * math.pi / size * 2,
                         float(rng.uniform(0, 6.28)), 0.0)
    centres = (np.arange(n) + 0.5) * cell - half
    # each analytic shape is evaluated only on the raster window it can reach, and flagged
    # there (same per-cell arithmetic as water_at/path_at, so the raster is identical; ~10x
    # fewer cells for a lake). WATER is bit 1: a bool window viewed as bytes is its flags.
    flags = ter.flags
    if ter.lake is not None:
        cx, cz, rx, rz, _, _ = ter.lake
        i0, i1 = _window(centres, cx, rx * _LAKE_REACH + cell)
        j0, j1 = _window(centres, cz, rz * _LAKE_REACH + cell)
        flags[i0:i1, j0:j1] |= ter.water_at(centres[i0:i1, None],
                                            centres[None, j0:j1]).view(np.uint8)
    if ter.river is not None or ter.coast is not None:
        saved, ter.lake = ter.lake, None
        j0, j1 = 0, n
        if ter.coast is None and ter.river is not None:  # (no coast: then there is a river)
            j0, j1 = _window(centres, ter.river.c0, _reach(ter.river) + cell)
        flags[:, j0:j1] |= ter.water_at(centres[:, None], centres[None, j0:j1]).view(np.uint8)
        ter.lake = saved
    if ter.river is not None and ter.ford is not None:
        # the ford is the one dry crossing: reserve it and 6 m of either bank, so nothing solid
        # (an airship hovering there counts) can cut the banks apart (walk.py's reachability)
        f0, f1 = _window(centres, (ter.ford[0] + ter.ford[1]) / 2, (ter.ford[1] - ter.ford[0]) / 2)
        lane = ter.river.distance(centres[f0:f1, None], centres[None, :]) \
            < ter.river.width / 2 + FORD_BANK
        flags[f0:f1, :] |= lane.view(np.uint8) * np.uint8(RES)
    for way in ter.roads:  # paths only where there is no water
        a0, a1 = _window(centres, way.c0, _reach(way) + cell)
        if way.axis == "z":  # across = x = rows
            win = flags[a0:a1, :]
            on = way.distance(centres[a0:a1, None], centres[None, :]) < way.width / 2
        else:
            win = flags[:, a0:a1]
            on = way.distance(centres[:, None], centres[None, a0:a1]) < way.width / 2
        on &= (win & WATER) == 0
        win |= on.view(np.uint8) << np.uint8(1)  # PATH is bit 2
    if seabed:  # every cell is water; the floor keeps its relief, all of it under water
        ter.seabed = True
        flags |= np.uint8(WATER)
        ter.heights = WATER_LEVEL - SEABED_DEPTH - (heights - heights.min())
    elif ter.lake is not None or ter.river is not None or ter.coast is not None:
        gx = np.linspace(-half, half, g)
        ter.heights = np.where(ter.water_at(gx[:, None], gx[None, :]), WATER_LEVEL - 2.5,
                               heights)
    return ter


def swim_y(ground: np.ndarray, swim: np.ndarray, height: np.ndarray) -> np.ndarray:
    """y of a water prefab in a seabed world (docs/protocol.md §6.6): ``swim`` metres above the
    floor (placement.swim), never so high that its height breaks the surface, never below the
    floor: ``max(ground, min(ground + swim, water_level - height))``."""
    out: np.ndarray = np.maximum(ground, np.minimum(ground + swim, WATER_LEVEL - height))
    return out
