"""Layout: turn an Intent plus matched prefabs into a placed world (column arrays).

Order (each step can only use space the previous steps left free):
1. landmarks (exact counts) -> 2. spawn point, and walk corridors from it to every landmark,
reserved so nothing solid can block them later -> 3. requested kinds, anchors before the things
related to them, exact counts honoured with retry rounds and a final exhaustive scan ->
4. road pieces -> 5. the world type's palette scattered to fill the budget.
Hard constraints are enforced by PlacementEngine; this module only decides *where to try*.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import samplers
from .archetypes import BY_NAME, FILL_MODES
from .catalog import Catalog
from .fill import Anchors, fill
from .intent import Intent
from .palette import filler_categories, palette_members
from .placement import PlacementEngine
from .retrieval import Match
from .terrain import OCC, PATH, RES, WATER, Terrain
from .walk import WALK_CELL

ROUNDS = 6
MAX_ANCHORS = 24  # points a filler category gathers round (more are thinned evenly)
TOP_UP_ENOUGH = 100  # a bulk fill that placed this many needs no Poisson top-up
STRUCTURE_GROUP = -5  # structure.STRUCTURE_GROUP (structure imports layout)
_SPAWN_DEPTHS = np.linspace(0.35, 0.9, 12)  # spawn candidates south of the centre (x half)


def sub_rng(key: bytes, *labels: object) -> np.random.Generator:
    """A generator seeded from blake2b(key, labels): independent of PYTHONHASHSEED and order."""
    h = hashlib.blake2b(key, digest_size=16)
    for label in labels:
        h.update(b"\x1f" + str(label).encode())
    return np.random.Generator(np.random.PCG64(int.from_bytes(h.digest(), "little")))


@dataclass(eq=False)
class Request:
    """A matched KindRequest as layout sees it (compared by identity: each is one request)."""

    index: int
    match: Match
    pidx: np.ndarray  # prefab numbers of the match
    weights: np.ndarray
    count: int | None
    exact: bool
    attributes: tuple[str, ...]
    landmark: bool
    placed: int = 0
    anchor_xz: tuple[float, float] | None = None
    anchor_extent: float = 0.0
    settlement: Any = None  # settlement.Settlement for "village", "town", ...


@dataclass
class LayoutResult:
    columns: dict[str, np.ndarray]
    spawn: tuple[float, float]
    warnings: list[str] = field(default_factory=list)
    relation_checks: list[dict[str, Any]] = field(default_factory=list)
    unreachable: int = 0


class Layout:
    def __init__(self, catalog: Catalog, terrain: Terrain, intent: Intent, key: bytes,
                 budget: int, excluded: np.ndarray | None = None) -> None:
        self.cat, self.ter, self.intent, self.key = catalog, terrain, intent, key
        # counted kinds (counts.py): no step but their own request may place them
        self.excluded = excluded if excluded is not None else np.zeros(len(catalog.prefabs),
                                                                        dtype=bool)
        self.arch = BY_NAME[intent.scene]
        self.centre: tuple[float, float, float] | None = None  # the scene's centre piece
        self.on_roads: set[int] = set()  # requests placed on road lanes (PATH allowed)
        self.clearings: list[tuple[float, float, float]] = []  # kept free of filler
        self.spawn: tuple[float, float] | None = None
        self.eng = PlacementEngine(catalog, terrain, budget)
        self.warnings: list[str] = []
        self.relation_checks: list[dict[str, Any]] = []
        self.is_building = catalog.is_building
        self.category = filler_categories(catalog)

    # -- helpers -------------------------------------------------------------------------
    def _extent(self, pidx: np.ndarray) -> float:
        p = pidx[0] if pidx.size else 0
        return 0.5 * float(max(self.cat.width[pidx].max(), self.cat.depth[pidx].max())) \
            * float(self.cat.scale_max[p])

    def _scales(self, rng: np.random.Generator, pidx: np.ndarray,
                attributes: tuple[str, ...]) -> np.ndarray:
        lo, hi = 0.0, 1.0
        if any(a in ("giant", "huge", "massive", "towering", "big", "large", "tall")
               for a in attributes):
            lo = 0.6
        if any(a in ("small", "tiny", "little", "short") for a in attributes):
            hi = 0.4
        u = rng.uniform(lo, hi, pidx.size)
        smin, smax = self.cat.scale_min[pidx], self.cat.scale_max[pidx]
        scales: np.ndarray = np.round(smin + (smax - smin) * u, 2)
        return scales

    def _choose(self, rng: np.random.Generator, req: Request, n: int) -> np.ndarray:
        if req.pidx.size == 1:
            return np.full(n, req.pidx[0])
        chosen: np.ndarray = req.pidx[samplers.choice(rng, n, req.weights)]
        return chosen

    # -- steps ---------------------------------------------------------------------------
    def place_request(self, req: Request, target: int, sampler_for: Any, exact: bool,
                      rounds: int = ROUNDS, halo: int = 0) -> int:
        """Retry rounds with a widening sampler, then (for exact counts) an exhaustive scan.

        ``halo`` (cells) applies to the rounds before the relaxed ones; the last rounds and the
        scan place without it, so exact counts still hold in a crowded world."""
        per_slot = getattr(sampler_for, "per_slot", 0)
        if per_slot:  # one instance per slot of a ring (_slot_ring), then the relaxed rounds
            placed = 0
            for k in range(per_slot):
                if placed >= target or self.eng.room <= 0:
                    break
                placed += self.place_request(
                    req, 1, lambda rng, n, rnd, k=k: sampler_for(rng, n, rnd, k), False,
                    rounds=ROUNDS - 2, halo=halo)
            if placed < target:
                placed += self.place_request(
                    req, target - placed, lambda rng, n, rnd: sampler_for(rng, n, rnd), exact,
                    rounds=2, halo=0)
            return placed
        placed = 0
        for rnd in range(rounds):
            need = target - placed
            if need <= 0 or self.eng.room <= 0:
                break
            rng = sub_rng(self.key, "req", req.index, rnd)
            n = need * 3 + 6 if rnd < ROUNDS - 1 else need * 8 + 16
            x, z, yaw = sampler_for(rng, n, rnd)
            pidx = self._choose(rng, req, x.size)
            yaw = self._snap(pidx, yaw)
            saved = self.ter.flags & PATH if req.index in self.on_roads else None
            if saved is not None:  # vehicles on street lanes (structure.road_lanes)
                self.ter.flags &= ~np.uint8(PATH)
            placed += self.eng.try_place(pidx, x, z, yaw, self._scales(rng, pidx, req.attributes),
                                         target=need, group=req.index, landmark=req.landmark,
                                         halo=halo if rnd < ROUNDS - 2 else 0)
            if saved is not None:
                self.ter.flags |= saved
        if exact and placed < target and self.eng.room > 0:
            placed += self._scan(req, target - placed)
        return placed

    def _snap(self, pidx: np.ndarray, yaw: np.ndarray) -> np.ndarray:
        """Buildings face a cardinal direction (streets look planned); the rest keep their yaw."""
        building = self.is_building[pidx]
        if not building.any():
            return yaw.astype(np.int64)
        return np.where(building, (np.round(yaw / 90.0) * 90) % 360, yaw).astype(np.int64)

    def _scan(self, req: Request, need: int) -> int:
        """Last resort for exact counts: try a grid of positions covering the whole world."""
        rng = sub_rng(self.key, "scan", req.index)
        step = max(self.ter.cell, 2 * self._extent(req.pidx) + 0.5)
        g = np.arange(-self.ter.half + step / 2, self.ter.half, step)
        x, z = np.meshgrid(g, g, indexing="ij")
        order = rng.permutation(x.size)
        x, z = x.ravel()[order], z.ravel()[order]
        if self.cat.surface[int(req.pidx[0])] == "water":  # every water cell is a candidate
            x, z, _ = samplers.water_cells(rng, self.ter, 4000)
        # the smallest variant: a ferry may not fit the pond a rowboat fits
        small = req.pidx[int(np.argmin(self.cat.width[req.pidx] * self.cat.depth[req.pidx]))]
        pidx = np.full(x.size, small)
        scale = np.round(self.cat.scale_min[pidx], 2)
        got = 0
        for turn in (0, 90):  # a long boat fits a narrow river only along it
            yaw = np.full(x.size, turn, dtype=np.int64)
            got += self.eng.try_place(pidx, x, z, yaw, scale, target=need - got,
                                      group=req.index, landmark=req.landmark)
            if got >= need or self.eng.room <= 0:
                break
        if got < need:
            phrase = self.intent.requests[req.index].phrase if req.index >= 0 \
                else req.match.prefab_ids[0]
            self.warnings.append(f"only {got + req.placed} of the requested "
                                 f"{req.count or need + req.placed} {phrase!r} could be placed")
        return got

    def anchor_of(self, req: Request) -> tuple[float, float, float]:
        """Centre and radius of a placed request, for relations: its first instance, or, once
        the spawn stands and the request is not a landmark, its instance nearest the spawn
        (the first one a client receives, and the one the evaluation measures from)."""
        if self.spawn is not None and not req.landmark and req.index >= 0:
            best: tuple[float, int, float, float, float] | None = None
            n = 0
            for pidx, xs, zs, _, scale, group, _ in self.eng.cols.parts:
                if group != req.index:
                    continue
                d = np.round(np.hypot(xs - self.spawn[0], zs - self.spawn[1]), 3)
                k = int(np.argmin(d))
                p = int(pidx[k])
                ext = 0.5 * float(max(self.cat.width[p], self.cat.depth[p]) * scale[k])
                cand = (float(d[k]), n + k, float(xs[k]), float(zs[k]), ext)
                best = cand if best is None or cand[:2] < best[:2] else best
                n += pidx.size
            if best is not None:
                return best[2], best[3], best[4]
        if req.anchor_xz is not None:
            return req.anchor_xz[0], req.anchor_xz[1], req.anchor_extent
        return 0.0, 0.0, 0.0

    def sampler_for(self, req: Request, rel: Any, requests: list[Request],
                    target: int | None = None) -> Any:
        """Pick the candidate sampler for a request from its relation, else its pattern.

        ``target``: how many will be placed (an uncounted plural's share), so a ring is wide
        enough for all of them rather than for a nominal eight."""
        ter, ext = self.ter, self._extent(req.pidx)
        n_hint = req.count or min(target or 8, 12)
        kind = rel.kind if rel is not None else None
        anchor = requests[rel.anchor] if rel is not None and rel.anchor is not None else None
        feature = rel.feature if rel is not None else None
        if feature == "lake" and ter.lake is None or feature == "river" and ter.river is None:
            feature = None
        if feature == "road" and not ter.roads or feature == "coast" and ter.coast is None:
            feature = None
        relaxed = ROUNDS - 2  # the last rounds ignore the relation (warned about below)

        def fallback(rng: np.random.Generator, n: int, rnd: int) -> samplers.Samples:
            pattern = self.cat.prefabs[int(req.pidx[0])].pattern
            surf = self.cat.surface[int(req.pidx[0])]
            if surf == "water" and ter.lake is not None:
                cx, cz, rx, rz, *_ = ter.lake
                return samplers.annulus(rng, n, cx, cz, 0.0, min(rx, rz) * 0.9)
            if surf == "water":  # a river, a coast, a moat: any water cell
                return samplers.water_cells(rng, ter, n)
            if pattern == "cluster" and rnd < 3:
                return samplers.cluster(rng, ter, n, ext, rnd)
            if pattern == "line" and ter.roads and rnd < 3:
                return samplers.along(rng, ter, ter.roads[0], n, ter.roads[0].width / 2 + ext, rnd)
            return samplers.uniform(rng, ter, n, ext)

        if kind in ("around", "near", "along") and feature in ("river", "road", "coast"):
            road = {"river": ter.river, "road": ter.roads[0] if ter.roads else None,
                    "coast": ter.coast}[feature]
            assert road is not None  # a feature the terrain lacks was dropped above
            off = road.width / 2 + ext
            return lambda rng, n, rnd: (samplers.along(rng, ter, road, n, off, rnd)
                                        if rnd < relaxed else fallback(rng, n, rnd))
        if kind in ("around", "along", "near", "ring", "center") and (feature == "lake"):
            cx, cz, rx, rz, *_ = ter.lake  # type: ignore[misc]
            r = max(rx, rz) * 1.25 + ext + 2
            if kind == "center":
                return lambda rng, n, rnd: samplers.annulus(rng, n, cx, cz, 0, 2 + 4 * rnd)
            if kind == "around" and req.count is not None and req.count >= 3:
                return self._slot_ring(req, cx, cz, r, ext, fallback)
            return lambda rng, n, rnd: (samplers.ring(rng, n, cx, cz, r, rnd)
                                        if rnd < relaxed else fallback(rng, n, rnd))
        if kind in ("around", "near", "ring", "direction", "line", "center"):
            if anchor is not None and anchor.anchor_xz is None:
                anchor = None
            cx, cz, aext = self.anchor_of(anchor) if anchor is not None else (0.0, 0.0, 0.0)
            if kind in ("around", "ring"):
                r = max(aext + ext + 2.0, ext * 2.2 * n_hint / (2 * math.pi) + 4)
                if req.count is not None and req.count >= 3:
                    return self._slot_ring(req, cx, cz, r, ext, fallback)
                return lambda rng, n, rnd: (samplers.ring(rng, n, cx, cz, r, rnd)
                                            if rnd < relaxed else fallback(rng, n, rnd))
            if kind == "near":
                r0 = aext + ext + 1.0
                return lambda rng, n, rnd: (samplers.annulus(rng, n, cx, cz, r0,
                                                             r0 + 15 + 10 * rnd)
                                            if rnd < relaxed else fallback(rng, n, rnd))
            if kind == "direction":
                return lambda rng, n, rnd: (samplers.direction(rng, ter, n, cx, cz,
                                                               aext + ext + 1, rel.direction, rnd)
                                            if rnd < relaxed else fallback(rng, n, rnd))
            if kind == "line":
                return lambda rng, n, rnd: samplers.line(rng, n, cx, cz, 2.2 * ext + 1, rnd)
            return lambda rng, n, rnd: samplers.annulus(rng, n, cx, cz, 0, ext + 3 + 8 * rnd)
        return fallback

    def _slot_ring(self, req: Request, cx: float, cz: float, r: float, ext: float,
                   fallback: Any) -> Any:
        """An exact count round a centre: one slot per instance, evenly spaced from a random
        start (samplers.ring_slots). place_request fills the slots one at a time (``per_slot``),
        so no slot takes two and a blocked slot searches wider round its own direction; what
        no slot could take is placed by the relaxed rounds as before."""
        slots = int(req.count or 1)
        base = float(sub_rng(self.key, "ring", req.index).uniform(0, 2 * math.pi))

        def sampler(rng: np.random.Generator, n: int, rnd: int, slot: int = -1) -> samplers.Samples:
            if slot < 0:
                out: samplers.Samples = fallback(rng, n, rnd)
                return out
            return samplers.ring_slots(rng, n, cx, cz, r, base, slots, slot, ext, rnd)
        sampler.per_slot = slots  # type: ignore[attr-defined]
        return sampler

    def place_landmark(self, req: Request, rel: Any, requests: list[Request], slot: int) -> None:
        """Landmarks: the first at the centre, the rest on a wide ring, unless a relation says."""
        target = req.count or 1
        if rel is not None:
            sampler = self.sampler_for(req, rel, requests)
        else:
            lake = self.ter.lake
            r = 0.0 if slot == 0 and not (lake and abs(lake[0]) < 1) else 0.3 * self.ter.half
            phase = slot * 2.39996  # golden angle: successive landmarks spread out

            def sampler(rng: np.random.Generator, n: int, rnd: int) -> samplers.Samples:
                if r == 0.0 and rnd == 0:
                    return samplers.annulus(rng, n, 0.0, 0.0, 0.0, 1.0 + 4 * rnd)
                x, z, yaw = samplers.ring(rng, n, 0.0, 0.0, max(r, 20.0), rnd, spread=False)
                c, s = math.cos(phase), math.sin(phase)
                return x * c - z * s, x * s + z * c, yaw
        # two walk cells (walk.py) between landmarks, so they cannot wall one another in
        halo = int(math.ceil(2 * WALK_CELL / self.ter.cell))
        req.placed += self.place_request(req, target, sampler, exact=True, halo=halo)

    def place_spawn(self) -> tuple[float, float]:
        """A free, dry 8 m square south of the centre (or anywhere), reserved for arrivals."""
        ter = self.ter
        rng = sub_rng(self.key, "spawn")
        half = 4.0
        h, cell = ter.half, ter.cell
        for x, z in self._spawn_candidates(rng):
            # Terrain.index, element by element (same float operations on Python floats)
            i0, i1 = math.floor((x - half + h) / cell), math.floor((x + half + h) / cell)
            j0, j1 = math.floor((z - half + h) / cell), math.floor((z + half + h) / cell)
            if i0 < 0 or j0 < 0 or i1 >= ter.n or j1 >= ter.n:
                continue
            block = ter.flags[i0:i1 + 1, j0:j1 + 1]
            if not (block & ((0 if ter.seabed else WATER) | OCC)).any():
                block |= RES
                # numpy's rounding, as on the float64 scalars this loop used to see
                return float(np.round(x, 3)), float(np.round(z, 3))
        self.warnings.append("no free spawn area found; spawning at the origin")
        return 0.0, 0.0

    def _spawn_candidates(self, rng: np.random.Generator) -> Iterator[tuple[float, float]]:
        """12 points due south of the centre, then 200 anywhere; the 200 are drawn only when
        the first 12 are all taken (same draws, in the same order, as drawing all at once)."""
        yield from zip(rng.normal(0, 4, 12).tolist(), (-(_SPAWN_DEPTHS * self.ter.half)).tolist(), strict=False)
        xs = rng.uniform(-0.9, 0.9, 200) * self.ter.half
        zs = rng.uniform(-0.9, 0.9, 200) * self.ter.half
        yield from zip(xs.tolist(), zs.tolist(), strict=True)

    def place_roads(self, match: Match | None, limit: int) -> None:
        """Road/path pieces end to end along every road centreline (non-solid decals)."""
        if match is None or not self.ter.roads or limit <= 0:
            return
        p = self.cat.index[match.prefab_ids[0]]
        for road in self.ter.roads:
            step = max(float(self.cat.depth[p]), self.ter.size / max(1, limit // len(self.ter.roads)))
            t = np.arange(-self.ter.half + step / 2, self.ter.half - step / 2, step)
            c, s = road.centre(t), road.slope(t)
            x, z = (c, t) if road.axis == "z" else (t, c)
            yaw = np.degrees(np.arctan2(s, 1.0)) if road.axis == "z" else np.degrees(np.arctan2(1.0, s))
            keep = ~self.ter.water_at(x, z)
            # road pieces may lie on the path raster (PATH forbids other ground objects only)
            saved = self.ter.flags & PATH
            self.ter.flags &= ~np.uint8(PATH)
            self.eng.try_place(np.full(int(keep.sum()), p), x[keep], z[keep],
                               np.round(yaw[keep]).astype(np.int64) % 360,
                               np.ones(int(keep.sum())), target=limit, group=-2)
            self.ter.flags |= saved

    def place_palette(self, target: int, has_water: bool, theme: frozenset[str],
                      words: frozenset[str], urban: bool) -> None:
        """Fill the rest of the budget with filler that fits the world (palette.py)."""
        arch = self.arch
        scene = None if arch.name == "meadow" else (tuple(sorted(arch.palette.items())),
                                                     arch.exclude, (arch.fits, arch.world_type))
        # what the structure laid (rows of gravestones, the ring of tents, the walls) is not
        # scattered again as filler
        banned = self.excluded.copy()
        for pidx, *_, group, _ in self.eng.cols.parts:
            if group == -5:  # structure.STRUCTURE_GROUP
                banned[pidx] = True
        members = palette_members(self.cat, self.intent.world_type, self.intent.environment,
                                  target, has_water, theme | arch.boost,
                                  words, urban, banned, scene)
        if members:
            # the archetype keeps a share of each category (open ground) and gathers it where
            # it is used (archetypes.py keep/anchor); the top-up passes fill only what the kept
            # shares could not place, never the rest of the budget
            members = [(p, int(round(n * arch.keep.get(self.category[p], 1.0))))
                       for p, n in members]
            goal = sum(n for _, n in members)
            rng = sub_rng(self.key, "palette")
            placed = self._fill_modes(rng, members, final=False)
            for last in (False, False, True):  # what is left: small, soft things in the gaps
                room = min(self.eng.room, goal - placed)
                if room <= 0:
                    break
                # anchored categories stay by their anchors: only the even spread tops up
                small = [(p, n) for p, n in palette_members(
                    self.cat, self.intent.world_type, self.intent.environment, room,
                    has_water, theme | arch.boost, words, urban, banned, scene)
                    if not self.cat.solid[p] and not arch.anchor.get(self.category[p])]
                got = self._fill_modes(rng, small, final=last) if small else 0
                if not got:
                    break
                placed += got

    def _fill_modes(self, rng: np.random.Generator, members: list[tuple[int, int]],
                    final: bool) -> int:
        """Fill members grouped by their category's anchor rule (archetypes.py ``anchor``)."""
        used = {self.arch.anchor.get(self.category[p], "") for p, n in members if n > 0}
        names: list[str] = [mode for mode in FILL_MODES if mode in used]
        rules = [(mode != "", self.anchors(mode)) for mode in names]
        index = {mode: k for k, mode in enumerate(names)}
        mode_of = {p: index[self.arch.anchor.get(self.category[p], "")] for p, n in members
                   if n > 0}
        return fill(self.eng, rng, [(p, n) for p, n in members if n > 0], group=-1,
                    final=final, modes=rules, mode_of=mode_of)

    def anchors(self, mode: str) -> Anchors | None:
        """Points a filler category gathers round (archetypes.py ``anchor``), or None for
        random cluster centres: a rule whose points the world lacks (a shore without water,
        a scene without buildings) falls back to clusters."""
        ter = self.ter
        if mode == "centre":
            cx, cz, ext = self.centre or (0.0, 0.0, 6.0)
            return np.array([cx]), np.array([cz]), max(10.0, 2.5 * ext, 0.07 * ter.size)
        xs: list[np.ndarray] = []
        zs: list[np.ndarray] = []
        sigma = 8.0
        if mode == "buildings":
            for pidx, x, z, _, _, group, landmark in self.eng.cols.parts:
                if group in (-1, -2):  # filler and road pieces are no anchors
                    continue
                # the structure's pieces, but not its traffic: a city's props gather by its
                # buildings, not on its lanes
                sel = self.is_building[pidx] | landmark | (
                    (group == STRUCTURE_GROUP) & ~self.cat.is_vehicle[pidx])
                xs.append(x[sel])
                zs.append(z[sel])
        elif mode == "shore" and not ter.seabed:
            w = (ter.flags & WATER) != 0
            edge = np.zeros_like(w)  # water cells beside dry land
            edge[1:] |= w[1:] & ~w[:-1]
            edge[:-1] |= w[:-1] & ~w[1:]
            edge[:, 1:] |= w[:, 1:] & ~w[:, :-1]
            edge[:, :-1] |= w[:, :-1] & ~w[:, 1:]
            i, j = np.nonzero(edge)
            xs.append(-ter.half + (i + 0.5) * ter.cell)
            zs.append(-ter.half + (j + 0.5) * ter.cell)
            sigma = 4.0
        x = np.concatenate(xs) if xs else np.zeros(0)
        z = np.concatenate(zs) if zs else np.zeros(0)
        if x.size == 0:
            return None
        if x.size > MAX_ANCHORS:  # evenly spread subset (deterministic: no draw)
            pick = np.linspace(0, x.size - 1, MAX_ANCHORS).astype(np.int64)
            x, z = x[pick], z[pick]
        return x.astype(np.float64), z.astype(np.float64), sigma

    def fill_request(self, req: Request, target: int) -> int:
        """Uncounted plural requests ("trees") are bulk: fill slots, clustered if the prefab is."""
        rng = sub_rng(self.key, "fill", req.index)
        n = len(req.pidx)
        shares = np.floor(req.weights * target).astype(np.int64)
        shares[: target - int(shares.sum())] += 1
        lo, hi = 0.0, 1.0
        if any(a in ("giant", "huge", "massive", "towering", "big", "large", "tall")
               for a in req.attributes):
            lo = 0.6
        if any(a in ("small", "tiny", "little", "short") for a in req.attributes):
            hi = 0.4
        clustered = self.cat.prefabs[int(req.pidx[0])].pattern == "cluster"
        # an uncounted kind gathers where its category does in this scene (palms round the
        # oasis, reeds along the shore)
        mode = self.arch.anchor.get(self.category[int(req.pidx[0])], "")
        anchors = self.anchors(mode) if mode else None
        # a counted kind ("pine trees": dozens, 24-60) is held to its number: no thinning
        counted = req.count is not None
        got = fill(self.eng, rng, [(int(req.pidx[k]), int(shares[k])) for k in range(n)],
                   group=req.index, scale_range=(lo, hi), clustered=clustered or bool(mode),
                   anchors=anchors, thin=not counted)
        water = self.cat.surface[int(req.pidx[0])] == "water"
        # (a big share - a stand's hundreds of trees - that placed a hundred and more is
        # bulk enough: the Poisson top-up would cost more than the whole fill)
        if got < min(target // 2, TOP_UP_ENOUGH) or (water or counted) and got < target:
            # big footprints rarely find a whole free slot: Poisson engine (a boat on a narrow
            # river needs every round: few water cells take its length)
            got += self.place_request(req, max(1, min(target - got, 40)),
                                      self.sampler_for(req, None, []), exact=False,
                                      rounds=ROUNDS if water or counted else 2)
        return got
