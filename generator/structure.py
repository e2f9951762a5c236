"""Scene structure: what makes a harbour a harbour and a city a city (archetypes.py names it).

* ``grid`` - a street grid (straight roads both ways); vehicles only on the roads.
* ``main_road`` - one road through the scene; vehicles only on it.
* ``quay`` - piers out from the shore into the water, boats moored beside them.
* ``walls`` - a square curtain wall round the centre piece with a gate gap to the south,
  and (for a castle) a water moat outside it with the same gap as its bridge.
* ``plaza`` - a ring of stalls (market) or ruins round an open paved centre.
* ``fields`` - a fenced paddock east of the centre with crop rows in it.
* ``tent_ring`` - tents in a ring round the camp fire.
* ``lift`` - a ski lift's pylons up the slope north of the lodge, the piste beside it open.

Everything placed here goes through the placement engine (hard constraints hold) and never
uses a prefab of a counted kind (counts.py) or an excluded kind of the scene. A kind the prompt
asks for itself is not added here: the request takes the structure's slots instead
(``slot_sampler``), so "three tents" at a campsite are three tents round the fire.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from . import cache, samplers
from .archetypes import Archetype
from .palette import STRUCTURE_FIT, WORLD_FITS, fit_words, fits_scene
from .terrain import BRIDGE, OCC, PATH, RES, WATER, Road, Terrain
from .walk import WALK_CELL, coarse_factor

if TYPE_CHECKING:
    from .layout import Layout, Request

STRUCTURE_GROUP = -5  # instances laid by the scene structure (header trace: not a request)
Sampler = Callable[[np.random.Generator, int, int], samplers.Samples]
WATER_VEHICLE = ("boat", "ship", "kayak", "canoe", "yacht", "rowboat", "motorboat")


def add_streets(ter: Terrain, arch: Archetype) -> None:
    """A grid scene's streets are a grid: three straight north-south and three east-west
    streets 0.3 of the world apart. The main road build_terrain drew (a gentle sine) is
    straightened onto the grid (through the river's ford, if there is one), since a wavy road
    across the blocks reads as no grid at all; paths are flagged where there is no water."""
    if arch.structure != "grid":
        return
    s = ter.size
    centres = (np.arange(ter.n) + 0.5) * ter.cell - ter.half
    main = ter.roads[0] if ter.roads else Road("z", 0.0, 0.0, 0.0, 0.0, 8.0)
    c = (ter.ford[0] + ter.ford[1]) / 2 if ter.ford is not None else main.c0
    ter.flags &= ~np.uint8(PATH)  # only roads are paths yet: the grid draws them again
    ter.roads = []
    for axis, c0 in (("z", c), ("z", c - 0.3 * s), ("z", c + 0.3 * s),
                     ("x", -0.05 * s), ("x", -0.35 * s), ("x", 0.25 * s)):
        road = Road(axis, c0, 0.0, 0.0, 0.0, main.width if axis == "z" and c0 == c else 8.0)
        ter.roads.append(road)
        # a straight road is a band of rows (axis z: x = c0) or columns: no distance field
        band = np.flatnonzero(np.abs(centres - c0) < road.width / 2)
        win = ter.flags[band, :] if axis == "z" else ter.flags[:, band]
        win |= ((win & WATER) == 0).view(np.uint8) * np.uint8(PATH)
        if axis == "z":
            ter.flags[band, :] = win
        else:
            ter.flags[:, band] = win


def find(lay: Layout, tags: tuple[str, ...], surface: str | None = None) -> list[int]:
    """Prefabs with any of ``tags`` (first two tags or name), in-genre first, that neither a
    counted kind nor the scene's exclusions forbid."""
    cat, arch = lay.cat, lay.arch
    memo = cache.table(cat, "structure_find")
    key = (tags, surface, lay.intent.world_type, arch.name)
    ranked = memo.get(key)
    if ranked is None:  # depends on the catalog and the key only (cache.py)
        wanted = set(tags)
        hits = [i for i, p in enumerate(cat.prefabs)
                if wanted & (set(p.tags[:2]) | set(p.id.split("_")))
                and not (set(p.tags) & arch.exclude)
                and (surface is None or p.surface == surface)]
        # what fits the scene (palette.py scene tags) before what merely answers the word
        allowed = arch.fits or WORLD_FITS.get(lay.intent.world_type, frozenset())
        hits = [i for i in hits if fits_scene(cat.prefabs[i], allowed)
                or STRUCTURE_FIT in fit_words(cat.prefabs[i])] or hits
        genre = [i for i in hits if lay.intent.world_type in cat.prefabs[i].world_types]
        # a prefab that *is* the thing (first tag) before one that mentions it (a gate "wall")
        ranked = memo[key] = sorted(genre or hits, key=lambda i: bool(cat.prefabs[i].tags)
                                    and cat.prefabs[i].tags[0] not in wanted)
    return [i for i in ranked if not lay.excluded[i]]


def default_landmarks(lay: Layout) -> list[int]:
    """The landmarks a prompt that names no object may get: in-genre ground landmarks that fit
    the scene (no beached wreck on a ski slope, no rocket on a farm). A scene with a centre
    piece gets none: its lodge, barn or camp fire is the landmark."""
    cat, arch, world_type = lay.cat, lay.arch, lay.intent.world_type
    if arch.centerpiece:
        return []
    allowed = arch.fits or WORLD_FITS.get(world_type, frozenset())
    return [i for i in cat.for_world(world_type)
            if cat.prefabs[i].landmark and cat.surface[i] == "ground"
            and not set(cat.prefabs[i].tags) & arch.exclude and fits_scene(cat.prefabs[i], allowed)]


def asked(lay: Layout, requests: list[Request | None], tags: tuple[str, ...]) -> bool:
    """Does a request of the prompt answer one of these tags (then it fills the slot)?"""
    for r in requests:  # what the thing *is* (first two tags), not what it mentions
        if r is not None and r.settlement is None and set(tags) & set(
                lay.cat.prefabs[int(r.pidx[0])].tags[:2]):
            return True
    return False


def _place(lay: Layout, pidx: int, x: np.ndarray, z: np.ndarray, yaw: np.ndarray,
           target: int, allow_path: bool = False) -> int:
    if target <= 0 or x.size == 0 or lay.eng.room <= 0:
        return 0
    scale = np.full(x.size, float(lay.cat.scale_min[pidx]))
    saved = None
    if allow_path:  # vehicles on streets: PATH forbids ground things only elsewhere
        saved = lay.ter.flags & PATH
        lay.ter.flags &= ~np.uint8(PATH)
    got = lay.eng.try_place(np.full(x.size, pidx), x, z, yaw.astype(np.int64) % 360, scale,
                            target=target, group=STRUCTURE_GROUP)
    if saved is not None:
        lay.ter.flags |= saved
    return got


def place_structure(lay: Layout, requests: list[Request | None], centre: tuple[float, float,
                    float], rng: np.random.Generator) -> None:
    """Lay out the scene's structure round ``centre`` (x, z, radius of the centre piece)."""
    kind = lay.arch.structure
    if kind == "walls":
        _walls(lay, requests, centre, moat=lay.arch.name == "castle")
    elif kind == "plaza":
        r = _ring_of(lay, requests, centre, plaza_ring(lay), 10, rng)
        if lay.arch.name == "market":  # houses and shops face the square
            _ring_of(lay, requests, (centre[0], centre[1], r + 8.0),
                     ("shop", "house", "cottage", "tavern", "inn"), 12, rng, buildings=True)
        lay.clearings.append((centre[0], centre[1], r + 4.0))
    elif kind == "tent_ring":
        r = _ring_of(lay, requests, centre, ("tent",), 8, rng)
        lay.clearings.append((centre[0], centre[1], max(r, 12.0) + 5.0))
    elif kind == "rows":
        _rows(lay, requests, centre, rng)
    elif kind == "fields":
        _fields(lay, requests, rng)
    elif kind == "quay":
        _quay(lay, requests, rng)
    elif kind == "lift":
        _lift(lay, requests, centre)
    if kind in ("grid", "main_road") and lay.ter.roads:
        _frontage(lay, requests, rng)


FRONTAGE = {"city_street": ("apartment", "shop", "cafe", "office", "skyscraper"),
            "cyberpunk_city": ("skyscraper", "shop", "apartment", "lab"),
            "suburb": ("house", "home", "suburban"), "industrial": ("warehouse", "silo", "storage"),
            "wild_west": ("cabin", "house", "tavern", "saloon"), "park": ()}


def _frontage(lay: Layout, requests: list[Request | None], rng: np.random.Generator) -> None:
    """Buildings face the streets: along every road, both sides, set back from the kerb."""
    tags = FRONTAGE.get(lay.arch.name, ())
    if not tags or asked(lay, requests, tags):
        return
    ids = [i for i in find(lay, tags, "ground") if lay.cat.prefabs[i].type == "building"]
    if not ids:
        return
    ids_a = np.asarray(ids)
    n = int(min(40, max(6, lay.ter.size / 9)))
    sample = frontage(lay.ter, float(max(lay.cat.width[ids_a].max(), lay.cat.depth[ids_a].max())))
    placed = 0
    for rnd in range(3):
        x, z, yaw = sample(rng, (n - placed) * 4 + 8, rnd)
        pick = ids_a[rng.integers(0, ids_a.size, x.size)]
        placed += lay.eng.try_place(pick, x, z, yaw, lay.cat.scale_min[pick], target=n - placed,
                                    group=STRUCTURE_GROUP)
        if placed >= n or lay.eng.room <= 0:
            break


def frontage(ter: Terrain, extent: float) -> Sampler:
    """Points beside the roads, half a building back from the kerb, facing the road."""
    def sample(rng: np.random.Generator, n: int, rnd: int) -> samplers.Samples:
        k = rng.integers(0, len(ter.roads), n)
        t = rng.uniform(-ter.half * 0.92, ter.half * 0.92, n)
        side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        xs, zs, yaws = np.empty(n), np.empty(n), np.empty(n)
        for r, road in enumerate(ter.roads):
            sel = k == r
            off = side[sel] * (road.width / 2 + extent / 2 + 1.0 + 2.0 * rnd)
            c = road.centre(t[sel]) + off
            if road.axis == "z":
                xs[sel], zs[sel], yaws[sel] = c, t[sel], np.where(side[sel] > 0, 270, 90)
            else:
                xs[sel], zs[sel], yaws[sel] = t[sel], c, np.where(side[sel] > 0, 180, 0)
        return xs, zs, yaws.astype(np.int64)
    return sample


def _ring_of(lay: Layout, requests: list[Request | None], centre: tuple[float, float, float],
             tags: tuple[str, ...], n: int, rng: np.random.Generator,
             buildings: bool = False) -> float:
    """n pieces on a ring round the centre, facing it; returns the ring's radius."""
    cx, cz, r0 = centre
    if asked(lay, requests, tags):
        return r0 + 10.0
    ids = [i for i in find(lay, tags, "ground")
           if not buildings or lay.cat.prefabs[i].type == "building"]
    if not ids:
        return r0 + 10.0
    p = ids[0]
    ext = 0.5 * float(max(lay.cat.width[p], lay.cat.depth[p]))
    # gaps of at least two walk cells (walk.py) between neighbours, and no piece due south
    # (the side the spawn is on), so the centre piece stays reachable on foot
    r = max(r0 + ext + 4.0, n * (2 * ext + 2 * WALK_CELL) / (2 * math.pi))
    ang = (np.arange(n) + 0.5) * (2 * math.pi / n) - math.pi / 2
    ang = ang[np.abs(np.sin(ang) + 1.0) > 0.05]
    x, z = cx + r * np.cos(ang), cz + r * np.sin(ang)
    yaw = np.degrees(np.arctan2(cx - x, cz - z)).round()  # facing the centre
    if buildings:  # a mix of the buildings found, squared to the plaza
        yaw = np.round(yaw / 90.0) * 90
        pick = np.asarray(ids)[np.arange(x.size) % len(ids)]
        lay.eng.try_place(pick, x, z, yaw.astype(np.int64) % 360, lay.cat.scale_min[pick],
                          target=x.size, group=STRUCTURE_GROUP)
        return r
    _place(lay, p, x, z, yaw, x.size)
    return r


def _walls(lay: Layout, requests: list[Request | None], centre: tuple[float, float, float],
           moat: bool) -> None:
    """Wall sections on a square round the centre piece, a 10 m gate gap due south; the moat
    is water flagged in a band outside the wall with the same gap: a dry causeway, or, when
    the prompt asks for a drawbridge, water spanned by the drawbridge in the gate."""
    ids = find(lay, ("wall", "fortification"), "ground")
    cx, cz, r0 = centre
    half = r0 + 9.0
    reach = half + 8.0  # the moat's outer edge
    if max(abs(cx), abs(cz)) + reach + 4 * WALK_CELL > lay.ter.half:
        return  # the ring would reach the world's edge and close the way out
    for pidx, px, pz, _, _, _, landmark in lay.eng.cols.parts:
        # another landmark inside or across the ring would be walled in: no walls then
        far = np.maximum(np.abs(px - cx), np.abs(pz - cz)) - 0.5 * np.maximum(
            lay.cat.width[pidx], lay.cat.depth[pidx])
        if landmark and ((far < reach + 6.0) & (np.hypot(px - cx, pz - cz) > 1.0)).any():
            return
    if ids:
        p = ids[0]
        seg = float(lay.cat.width[p]) * float(lay.cat.scale_min[p]) + 0.2
        t = np.arange(-half + seg / 2, half - seg / 2 + 1e-6, seg)
        xs: list[np.ndarray] = []
        zs: list[np.ndarray] = []
        yaws: list[np.ndarray] = []
        for side, (dx, dz, turn) in enumerate(((0, 1, 0), (0, -1, 0), (1, 0, 90), (-1, 0, 90))):
            keep = ~((side == 1) & (np.abs(t) < 5.0 + seg / 2))  # the gate gap, south side
            tt = t[keep]
            xs.append(cx + (tt if dx == 0 else dx * half * np.ones_like(tt)))
            zs.append(cz + (tt if dz == 0 else dz * half * np.ones_like(tt)))
            yaws.append(np.full(tt.size, turn))
        x, z = np.concatenate(xs), np.concatenate(zs)
        _place(lay, p, x, z, np.concatenate(yaws), x.size)
    if moat:
        bridge = _drawbridge(lay, requests)
        deck = None
        if bridge is not None:
            p = int(bridge.pidx[0])
            s = float(lay.cat.scale_min[p])
            bw, bl = float(lay.cat.width[p]) * s, float(lay.cat.depth[p]) * s
            # on a walk-grid column, so one column of walk cells lies wholly on the deck
            size = lay.ter.cell * coarse_factor(lay.ter)
            bx = -lay.ter.half + (math.floor((cx + lay.ter.half) / size) + 0.5) * size
            bz = cz - half - 0.5 - bl / 2  # from the gate outwards, across the moat
            deck = (bx - bw / 2 - 0.5, bz - bl / 2 - 0.5, bx + bw / 2 + 0.5, bz + bl / 2 + 0.5)
        if _moat(lay.ter, cx, cz, half + 3.0, half + 8.0, deck) and bridge is not None:
            got = lay.eng.try_place(np.array([p]), np.array([bx]), np.array([bz]),
                                    np.zeros(1, dtype=np.int64), np.array([s]), target=1,
                                    group=bridge.index)
            bridge.placed += got


def _drawbridge(lay: Layout, requests: list[Request | None]) -> Request | None:
    """The prompt's drawbridge (a water prefab that spans the moat), if it asks for one."""
    for r in requests:
        if r is not None and r.settlement is None and (r.count or 1) == 1 \
                and lay.cat.surface[int(r.pidx[0])] == "water" \
                and set(lay.cat.prefabs[int(r.pidx[0])].tags[:2]) & {"drawbridge", "bridge"}:
            return r
    return None


def _moat(ter: Terrain, cx: float, cz: float, inner: float, outer: float,
          deck: tuple[float, float, float, float] | None = None) -> bool:
    """Flag the moat's water (True if laid). Without ``deck`` the gate keeps a dry causeway;
    with it (x0, z0, x1, z1) the water runs under the deck, which is walkable (BRIDGE)."""
    centres = (np.arange(ter.n) + 0.5) * ter.cell - ter.half
    dx = np.abs(centres[:, None] - cx)
    dz = np.abs(centres[None, :] - cz)
    ring = np.maximum(dx, dz)
    band = (ring >= inner) & (ring < outer)
    on_deck = np.zeros_like(band)
    if deck is None:
        band &= ~((dx < 6.0) & (centres[None, :] < cz))  # the causeway: dry land to the south
    else:
        x0, z0, x1, z1 = deck
        on_deck = ((centres[:, None] >= x0) & (centres[:, None] <= x1)
                   & (centres[None, :] >= z0) & (centres[None, :] <= z1))
        band |= on_deck  # a closed ring: the drawbridge is the way in
    if (ter.flags[band] & WATER).any():
        return False  # a lake or river in the way: water on water could close a pocket
    band &= (ter.flags & (OCC | PATH)) == 0
    ter.flags |= band.view(np.uint8) * np.uint8(WATER)
    ter.flags |= (band & on_deck).view(np.uint8) * np.uint8(BRIDGE)
    return True


def _fields(lay: Layout, requests: list[Request | None], rng: np.random.Generator) -> None:
    """A fenced paddock east of the centre; crop rows inside when the catalog has crops."""
    x0, z0, w, d = paddock(lay.ter)
    fence = find(lay, ("fence",), "ground")
    if fence and not asked(lay, requests, ("fence",)):
        p = fence[0]
        seg = float(lay.cat.width[p]) + 0.2
        xs = np.arange(x0 + seg / 2, x0 + w - seg / 2 + 1e-6, seg)
        zs = np.arange(z0 + seg / 2, z0 + d - seg / 2 + 1e-6, seg)
        zs = zs[np.abs(zs - (z0 + d / 2)) > seg]  # a gate on the west side
        x = np.concatenate([xs, xs, np.full(zs.size, x0), np.full(zs.size, x0 + w)])
        z = np.concatenate([np.full(xs.size, z0), np.full(xs.size, z0 + d), zs, zs])
        yaw = np.concatenate([np.zeros(2 * xs.size), np.full(2 * zs.size, 90)])
        _place(lay, p, x, z, yaw, x.size)
    crops = find(lay, ("crop", "crops", "wheat", "corn", "vegetable", "cabbage", "pumpkin"),
                 "ground")
    if crops and not asked(lay, requests, ("crop", "crops", "wheat", "corn")):
        p = crops[0]
        step = max(float(lay.cat.depth[p]), float(lay.cat.width[p])) + 0.6
        gx = np.arange(x0 + 3 + step / 2, x0 + w / 2 - step / 2, step)
        gz = np.arange(z0 + 3 + step / 2, z0 + d - 3 - step / 2, step * 1.6)  # rows
        x, z = np.meshgrid(gx, gz, indexing="ij")
        _place(lay, p, x.ravel(), z.ravel(), np.zeros(x.size), x.size)


def lift_line(lay: Layout, centre: tuple[float, float, float]) -> tuple[float, float, float]:
    """(x, z from, z to) of a ski resort's lift: north from the lodge, up the slope."""
    cx, cz, r0 = centre
    return cx + r0 + 6.0, cz + r0 + 8.0, min(lay.ter.half - 10.0, cz + 0.45 * lay.ter.size)


PISTE_OFFSET = 18.0  # the piste runs this far west of the lift line
PISTE_RADIUS = 11.0


def _lift(lay: Layout, requests: list[Request | None], centre: tuple[float, float, float]) -> None:
    """A ski resort: lift pylons every 14 m in a line north of the lodge, the lift station at
    its top, and the piste beside the line kept free of trees and rocks (clearings)."""
    x, z0, z1 = lift_line(lay, centre)
    if z1 - z0 < 30.0:
        return
    pylons = [i for i in find(lay, ("pylon",), "ground") if "pylon" in lay.cat.prefabs[i].tags]
    if pylons and not asked(lay, requests, ("pylon",)):
        zs = np.arange(z0, z1 - 12.0, 14.0)
        _place(lay, pylons[0], np.full(zs.size, x), zs, np.zeros(zs.size), zs.size)
    station = [i for i in find(lay, ("lift", "chairlift"), "ground")
               if lay.cat.prefabs[i].type == "building"]
    if station and not asked(lay, requests, ("lift", "chairlift")):  # "a ski lift" is it
        _place(lay, station[0], np.array([x]), np.array([z1 - 4.0]), np.zeros(1), 1)
    for zc in np.arange(z0 + PISTE_RADIUS, z1, PISTE_RADIUS * 1.5):
        lay.clearings.append((x - PISTE_OFFSET, float(zc), PISTE_RADIUS))


def plaza_ring(lay: Layout) -> tuple[str, ...]:
    """What rings a plaza: stalls round a market square, columns round a temple."""
    return ("stall", "market") if lay.arch.name == "market" else ("column", "pillar", "ruin")


GRAVE_ROWS = (6, 9)  # rows x places of a graveyard's plot south of its chapel


def grave_plot(centre: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Places of the graveyard's plot: rows 3 m apart, 2.2 m between neighbours."""
    cx, cz, r0 = centre
    rows, cols = GRAVE_ROWS
    gx = cx + (np.arange(cols) - (cols - 1) / 2) * 2.2
    gz = cz - r0 - 6.0 - np.arange(rows) * 3.0
    x, z = np.meshgrid(gx, gz, indexing="ij")
    return x.ravel(), z.ravel()


def _rows(lay: Layout, requests: list[Request | None], centre: tuple[float, float, float],
          rng: np.random.Generator) -> None:
    """A graveyard: gravestones in rows on a plot south of the chapel (unless asked for:
    then the request takes the plot's places, ``slot_sampler``)."""
    if asked(lay, requests, ("gravestone", "grave", "tomb")):
        return
    ids = find(lay, ("gravestone", "grave", "tomb"), "ground")
    if ids:
        x, z = grave_plot(centre)
        _place(lay, ids[0], x, z, np.zeros(x.size), x.size)
    lay.clearings.append((centre[0], centre[1] - centre[2] - 14.0, 16.0))


def clear_round(lay: Layout) -> None:
    """Keep the scene's open places (a plaza, the ring round a camp fire, a graveyard's plot)
    free of filler: their free cells are reserved once the structure and requests stand."""
    ter = lay.ter
    centres = (np.arange(ter.n) + 0.5) * ter.cell - ter.half
    for cx, cz, r in lay.clearings:
        i0, i1 = np.searchsorted(centres, [cx - r, cx + r])
        j0, j1 = np.searchsorted(centres, [cz - r, cz + r])
        win = ter.flags[i0:i1, j0:j1]
        disc = np.hypot(centres[i0:i1, None] - cx, centres[None, j0:j1] - cz) < r
        win |= (disc & ((win & OCC) == 0)).view(np.uint8) * np.uint8(RES)


def paddock(ter: Terrain) -> tuple[float, float, float, float]:
    """(x0, z0, width, depth) of the farm's fenced paddock: east of the centre."""
    w = min(60.0, 0.3 * ter.size)
    return 0.12 * ter.size, -0.15 * ter.size, w, w * 0.8


def _quay(lay: Layout, requests: list[Request | None], rng: np.random.Generator) -> None:
    """Piers out from the shore, perpendicular to it, every ~22 m along the middle half."""
    coast = lay.ter.coast
    piers = find(lay, ("pier", "dock", "jetty"), "water")
    if coast is None or not piers or asked(lay, requests, ("pier", "dock", "jetty")):
        return
    p = piers[0]
    length = float(lay.cat.depth[p]) * float(lay.cat.scale_min[p])
    xs = np.arange(-0.35 * lay.ter.size, 0.35 * lay.ter.size, 22.0)
    zs = coast.centre(xs) - length / 2 - 1.5
    _place(lay, p, xs, zs, np.zeros(xs.size), xs.size)
    # the quay: warehouses and sheds in a row on the land side, facing the water
    sheds = [i for i in find(lay, ("warehouse", "shed", "boathouse", "storage", "shop"),
                             "ground") if lay.cat.prefabs[i].type == "building"]
    if sheds and not asked(lay, requests, ("warehouse", "shed", "boathouse")):
        w = np.asarray(sheds)
        ext = float(np.maximum(lay.cat.width[w], lay.cat.depth[w]).max())
        x = np.arange(-0.42 * lay.ter.size, 0.42 * lay.ter.size, ext + 4.0)
        z = coast.centre(x) + ext / 2 + 6.0
        pick = w[np.arange(x.size) % w.size]
        lay.eng.try_place(pick, x, z, np.full(x.size, 180, dtype=np.int64),
                          lay.cat.scale_min[pick], target=x.size, group=STRUCTURE_GROUP)


def on_roads(lay: Layout, req: Request) -> bool:
    """A ground vehicle in a street scene: it stands on the road lanes, nowhere else."""
    p = lay.cat.prefabs[int(req.pidx[0])]
    return p.type == "vehicle" and p.surface == "ground" and bool(lay.ter.roads) \
        and lay.arch.structure in ("grid", "main_road")


def slot_sampler(lay: Layout, req: Request) -> Sampler | None:
    """Where a requested kind goes in this scene's structure, or None (its usual sampler)."""
    p = lay.cat.prefabs[int(req.pidx[0])]
    ter = lay.ter
    ext = 0.5 * float(max(p.width, p.depth))
    if on_roads(lay, req):
        return road_lanes(ter)
    if lay.centre is not None and set(p.tags[:2]) & set(lay.arch.centerpiece):
        cx, cz, _ = lay.centre  # the scene is built round it: it takes the centre
        return lambda rng, n, rnd: samplers.annulus(rng, n, cx, cz, 0.0, 2.0 + 6.0 * rnd)
    if p.type == "building" and p.surface == "ground" and ter.roads and lay.arch.structure in (
            "grid", "main_road"):
        return frontage(ter, 2 * ext)
    if p.surface == "water" and ter.coast is not None and lay.arch.structure == "quay":
        return moorings(ter)
    if lay.arch.structure == "plaza" and set(p.tags[:2]) & set(plaza_ring(lay)) \
            and lay.centre is not None:
        cx, cz, r0 = lay.centre
        r = max(r0 + ext + 4.0, (req.count or 10) * (2 * ext + 2 * WALK_CELL) / (2 * math.pi))
        return lambda rng, n, rnd: samplers.ring(rng, n, cx, cz, r + 3 * rnd, rnd)
    if lay.arch.structure == "tent_ring" and "tent" in p.tags and lay.centre is not None:
        cx, cz, r0 = lay.centre
        r = max(r0 + ext + 4.0, ext * 2.4 * (req.count or 8) / (2 * math.pi))
        return lambda rng, n, rnd: samplers.ring(rng, n, cx, cz, r + 2 * rnd, rnd)
    if lay.arch.structure == "rows" and "gravestone" in p.tags and lay.centre is not None:
        gx, gz = grave_plot(lay.centre)
        return lambda rng, n, rnd: (gx[rng.integers(0, gx.size, n)] + rnd * rng.normal(0, 3, n),
                                    gz[rng.integers(0, gz.size, n)] + rnd * rng.normal(0, 3, n),
                                    np.zeros(n, dtype=np.int64))
    if lay.arch.structure == "lift" and p.type == "character" and lay.centre is not None \
            and set(p.tags) & {"skier", "skiing", "snowboarder", "snowboard"}:
        x, z0, z1 = lift_line(lay, lay.centre)  # skiers asked for are on the piste
        return lambda rng, n, rnd: (rng.normal(x - PISTE_OFFSET, 4.0 + 2 * rnd, n),
                                    rng.uniform(z0, max(z0 + 1.0, z1), n),
                                    rng.integers(150, 210, n)) if rnd < 4 else \
            samplers.uniform(rng, ter, n, ext)
    if lay.arch.structure == "fields" and p.type != "building" and "crop" in p.tags:
        x0, z0, w, d = paddock(ter)  # crops asked for grow in the paddock's east half, as a
        return lambda rng, n, rnd: (rng.uniform(x0 + w / 2 + 1, x0 + w - 2, n),  # field
                                    rng.uniform(z0 + 2, z0 + d - 2, n),
                                    rng.integers(0, 360, n)) if rnd < 4 else \
            samplers.uniform(rng, ter, n, ext)
    if lay.arch.structure == "fields" and p.type == "character" and set(p.tags) & {
            "farm", "cow", "sheep", "horse", "pig", "goat", "chicken", "cattle"}:
        x0, z0, w, d = paddock(ter)
        return lambda rng, n, rnd: (rng.uniform(x0 + 2, x0 + w - 2, n),
                                    rng.uniform(z0 + 2, z0 + d - 2, n),
                                    rng.integers(0, 360, n)) if rnd < 4 else \
            samplers.uniform(rng, ter, n, ext)
    return None


def road_lanes(ter: Terrain) -> Sampler:
    """Points on the roads' lanes (a quarter width off the centreline), heading along them."""
    def sample(rng: np.random.Generator, n: int, rnd: int) -> samplers.Samples:
        k = rng.integers(0, len(ter.roads), n)
        t = rng.uniform(-ter.half * 0.95, ter.half * 0.95, n)
        xs, zs, yaws = np.empty(n), np.empty(n), np.empty(n)
        for r, road in enumerate(ter.roads):
            sel = k == r
            tt = t[sel]
            side = np.where(rng.random(tt.size) < 0.5, -1.0, 1.0)
            c = road.centre(tt) + side * road.width / 4
            heading = np.degrees(np.arctan(road.slope(tt)))
            if road.axis == "z":
                xs[sel], zs[sel], yaws[sel] = c, tt, (heading + np.where(side > 0, 0, 180))
            else:
                xs[sel], zs[sel], yaws[sel] = tt, c, 90 - heading + np.where(side > 0, 0, 180)
        return xs, zs, np.round(yaws).astype(np.int64) % 360
    return sample


def moorings(ter: Terrain) -> Sampler:
    """Water just off the shore (within ~18 m of the waterline), boats end-on to the quay."""
    coast = ter.coast
    assert coast is not None

    def sample(rng: np.random.Generator, n: int, rnd: int) -> samplers.Samples:
        x = rng.uniform(-ter.half * 0.9, ter.half * 0.9, n)
        z = coast.centre(x) - rng.uniform(4.0, 18.0 + 6 * rnd, n)
        return x, z, (rng.integers(0, 2, n) * 180).astype(np.int64)
    return sample


def place_traffic(lay: Layout, n: int, rng: np.random.Generator) -> int:
    """Vehicles of the scene on its roads (filler vehicles never stand on grass)."""
    if n <= 0 or not lay.ter.roads:
        return 0
    cars = [i for i in find(lay, ("car", "taxi", "bus", "truck", "sedan", "bicycle", "tram",
                                  "cart", "wagon", "pickup"), "ground")
            if lay.cat.prefabs[i].type == "vehicle"]
    if not cars:
        return 0
    placed = 0
    sample = road_lanes(lay.ter)
    saved = lay.ter.flags & PATH  # the lanes are paths: allowed while the traffic is placed
    lay.ter.flags &= ~np.uint8(PATH)
    for rnd in range(3):
        x, z, yaw = sample(rng, (n - placed) * 2 + 4, rnd)
        pick = np.asarray(cars)[rng.integers(0, len(cars), x.size)]
        placed += lay.eng.try_place(pick, x, z, yaw, lay.cat.scale_min[pick],
                                    target=n - placed, group=STRUCTURE_GROUP)
        if placed >= n:
            break
    lay.ter.flags |= saved
    return placed
