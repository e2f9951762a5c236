"""Settlements: "village", "town", "city" ... become a mix of buildings, not one prefab N times.

A settlement noun in the prompt is expanded here into a house count (from the noun and the size
words in front of it: a small village ~7-13 houses, a village ~12-22, a town ~26-45), a weighted
mix of house prefabs of the world's genre (rural worlds never get suburban/urban-only houses) and
one of each civic building the catalog has for that kind of settlement (well or fountain at the
centre, chapel, tavern, blacksmith, market, ...). Roles the prompt already names ("a village
with 7 cottages and a well") are left out, so nothing is doubled.

Layout puts the buildings on a street lattice (footprint + a street gap, buildings facing the
centre at a right angle) filled from the centre outwards, so a village reads as a compact,
walkable cluster; the centre is the world centre, or a ring round the lake / a stretch of the
river or road when the prompt says "by the lake", "along the river".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import cache, samplers
from .lexicon import lemma

if TYPE_CHECKING:
    from .catalog import Catalog, Prefab
    from .layout import Layout, Request

# base house count range per settlement noun (scaled by size words: count * size_factor**1.5)
SIZES: dict[str, tuple[int, int]] = {
    "hamlet": (4, 7), "settlement": (8, 16), "village": (12, 22), "town": (26, 45),
    "city": (45, 80), "metropolis": (70, 110),
}
URBAN_KINDS = frozenset({"town", "city", "metropolis"})
HOUSE_TAGS = frozenset("house cottage home cabin hut farmhouse residential housing".split())
CITY_HOUSE_TAGS = frozenset("apartment shop cafe office skyscraper".split())
CIVIC: dict[str, tuple[tuple[str, ...], ...]] = {  # roles, first = the centre piece
    "hamlet": (("well",),),
    "settlement": (("well", "fountain"), ("tavern", "inn")),
    "village": (("well", "fountain"), ("chapel", "church"), ("tavern", "inn"),
                ("blacksmith", "forge"), ("market",), ("windmill",)),
    "town": (("fountain", "well"), ("chapel", "church"), ("tavern", "inn"), ("market",),
             ("market",), ("shop",), ("cafe",), ("blacksmith",)),
    "city": (("fountain",), ("hall",), ("cafe",), ("shop",), ("parking",), ("shop",),
             ("cafe",)),
    "metropolis": (("fountain",), ("hall",), ("cafe",), ("shop",), ("parking",), ("shop",)),
}
# genres whose prefabs fit a rural scene; a prefab made only for modern/urban genres does not
RURAL_GENRES = frozenset({"nature", "fantasy", "historical"})
RURAL_TAGS = frozenset("farm rural village wooden countryside hay animal wildlife camping "
                       "tree plant picnic".split())
STREET_GAP = 3.0  # metres between neighbouring lattice footprints


def settlement_kind(terms: tuple[str, ...]) -> str | None:
    """The settlement noun a request names ("village"), or None."""
    head = lemma(terms[-1]) if terms else ""
    return head if head in SIZES else None


def urban_only(p: Prefab) -> bool:
    """Made only for modern/urban genres and nothing about it is rural (street lamp, mailbox)."""
    return not (set(p.world_types) & RURAL_GENRES) and not (set(p.tags) & RURAL_TAGS)


@dataclass
class Settlement:
    kind: str
    houses: np.ndarray  # prefab numbers
    weights: np.ndarray
    civic: list[int]  # one instance each; civic[0] goes to the centre
    n_houses: int


def plan_settlement(cat: Catalog, kind: str, world_type: str, size_factor: float,
                    budget: int, rng: np.random.Generator, covered: set[str],
                    explicit_houses: bool, urban: bool,
                    banned: frozenset[int] = frozenset()) -> Settlement | None:
    """Choose the building mix; None when the genre has no buildings to make it from."""
    def fits(p: Prefab) -> bool:
        return (world_type in p.world_types and p.surface == "ground"
                and p.type in ("building", "prop") and (urban or not urban_only(p)))

    memo = cache.table(cat, "settlement")
    key = (kind, world_type, urban)
    if key not in memo:  # depends on the catalog and the key only: computed once per catalog
        wanted = HOUSE_TAGS | (CITY_HOUSE_TAGS if kind in URBAN_KINDS else frozenset())
        memo[key] = (
            [i for i, p in enumerate(cat.prefabs) if fits(p) and p.type == "building"
             and set(p.tags) & wanted and not (p.landmark and kind not in URBAN_KINDS)
             and "treehouse" not in p.tags],
            {role: [i for i, p in enumerate(cat.prefabs) if fits(p) and set(p.tags) & set(role)]
             for role in CIVIC[kind]})
    houses, by_role = [i for i in memo[key][0] if i not in banned], memo[key][1]
    civic: list[int] = []
    for role in CIVIC[kind]:
        if set(role) & covered:
            continue
        pick = [i for i in by_role[role] if i not in civic and i not in houses
                and i not in banned]
        if pick:
            civic.append(pick[0] if len(pick) == 1 else pick[int(rng.integers(0, len(pick)))])
    if not houses and not civic:
        return None
    lo, hi = SIZES[kind]
    mult = size_factor ** 1.5
    n = int(round(rng.uniform(lo * mult, hi * mult)))
    area = np.array([cat.width[i] * cat.depth[i] for i in houses]) if houses else np.ones(0)
    w = 1.0 / np.maximum(area, 1.0) ** 0.6  # small houses are common, big ones rarer
    s = Settlement(kind, np.array(houses, dtype=np.int64), w / w.sum() if houses else w,
                   civic, 0)
    # at most about half of the budget's ground goes to the settlement (skyscraper cities)
    room = int(budget * 36.0 * 0.5 / _spacing(cat, s) ** 2)
    s.n_houses = 0 if explicit_houses or not houses else max(2, min(n, budget // 5, max(4, room)))
    return s


def footprint_area(cat: Catalog, s: Settlement) -> float:
    """Ground the settlement needs (lattice cells), for sizing the world."""
    return (s.n_houses + len(s.civic)) * _spacing(cat, s) ** 2


def _spacing(cat: Catalog, s: Settlement) -> float:
    ids = s.houses if s.houses.size else np.array(s.civic, dtype=np.int64)
    memo = cache.table(cat, "spacing")  # a settlement plan asks three times; the houses recur
    key = tuple(ids.tolist())
    hit = memo.get(key)
    if hit is None:
        ext = np.maximum(cat.width[ids], cat.depth[ids]) * cat.scale_max[ids]
        hit = memo[key] = float(np.percentile(ext, 60)) + STREET_GAP
    return hit


def place_settlement(lay: Layout, req: Request, s: Settlement, rel: Any,
                     rng: np.random.Generator) -> int:
    """Fill a street lattice from the settlement centre outwards; returns instances placed."""
    cat, ter = lay.cat, lay.ter
    cx, cz, r0 = 0.0, 0.0, 0.0
    s_len = _spacing(cat, s)
    line = None
    feature = getattr(rel, "feature", None)
    rows = 1.0
    if feature is None and ter.roads and lay.arch.road and not ter.lake:
        feature, rows = "road", 2.2  # the scene's main road is the village street
    if feature == "lake" and ter.lake is not None:  # lakeside: a band round the shore
        cx, cz = ter.lake[0], ter.lake[1]
        r0 = max(ter.lake[2], ter.lake[3]) * 1.2 + (s_len - STREET_GAP) / 2 + 1.0
    elif feature in ("river", "road", "coast"):
        line = {"river": ter.river, "road": ter.roads[0] if ter.roads else None,
                "coast": ter.coast}[feature]
        if line is not None:
            c = float(line.centre(np.array([0.0]))[0])
            cx, cz = (c, 0.0) if line.axis == "z" else (0.0, c)
    total = s.n_houses + len(s.civic)
    radius = r0 + s_len * math.sqrt(total / math.pi) * 2.2 + s_len
    if line is not None:  # along a river, road or coast: a band the whole world long
        radius = max(radius, ter.half)
    k = int(math.ceil(radius / s_len)) + 1
    g = (np.arange(-k, k + 1) + rng.uniform(-0.5, 0.5, 2)[:, None]) * s_len
    x = (cx + g[0][:, None] + np.zeros_like(g[1])[None, :]).ravel()
    z = (cz + np.zeros_like(g[0])[:, None] + g[1][None, :]).ravel()
    d = np.hypot(x - cx, z - cz)
    keep = (d >= r0) & (np.abs(x) < ter.half) & (np.abs(z) < ter.half)
    if line is not None:  # one row of lattice slots either side of the line
        keep &= line.distance(x, z) <= line.width / 2 + rows * s_len + 2.0
    x, z, d = x[keep], z[keep], d[keep]
    order = np.argsort(d + rng.uniform(0, 0.8 * s_len, d.size), kind="stable")
    x, z = x[order], z[order]
    # buildings face the centre, snapped to a right angle so the lattice reads as streets
    yaw = ((np.round(np.degrees(np.arctan2(cx - x, cz - z)) / 90.0) * 90) % 360).astype(np.int64)
    placed, cursor = 0, 0
    eng = lay.eng
    for civ in s.civic:  # one each, nearest free lattice slot to the centre first
        while cursor < x.size and eng.room > 0:
            got = eng.try_place(np.array([civ]), x[cursor:cursor + 1], z[cursor:cursor + 1],
                                yaw[cursor:cursor + 1], np.array([cat.scale_min[civ]]),
                                target=1, group=req.index)
            cursor += 1
            if got:
                placed += 1
                break
    need = s.n_houses
    for _ in range(6):
        if need <= 0 or cursor >= x.size or eng.room <= 0:
            break
        m = min(x.size - cursor, need * 2 + 4)
        sl = slice(cursor, cursor + m)
        pidx = s.houses[samplers.choice(rng, m, s.weights)]
        u = rng.uniform(0.0, 1.0, m)
        scale = np.round(cat.scale_min[pidx] + (cat.scale_max[pidx] - cat.scale_min[pidx]) * u, 2)
        got = eng.try_place(pidx, x[sl], z[sl], yaw[sl], scale, target=need, group=req.index)
        placed += got
        need -= got
        cursor += m
    return placed
