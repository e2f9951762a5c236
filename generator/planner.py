"""``plan()``: the public entry point, prompt -> WorldPlan (header + streamable instances).

Everything random flows from one key, blake2b(generator version, catalog version, seed, intent),
split into named sub-streams (layout.sub_rng), so the output depends on nothing else: not on
PYTHONHASHSEED, set order, or the process. Floats are rounded before they leave, so the same
inputs give byte-identical JSON.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import structure
from .archetypes import BY_NAME
from .catalog import Catalog
from .counts import answer_set, excluded_prefabs
from .describe import make_description, make_title
from .environment import environment_settings
from .errors import GeneratorError
from .intent import Intent, Relation
from .layout import Layout, LayoutResult, Request, sub_rng
from .lexicon import VAGUE_COUNTS, VAGUE_RANGES, lemma, tokenize
from .palette import category, coherent, scene_fits, urban_setting
from .placement import SURFACE_CODE, Columns, surface_codes
from .prompt import parse_prompt
from .retrieval import Match
from .settlement import HOUSE_TAGS, footprint_area, place_settlement, plan_settlement, settlement_kind
from .stream import WorldHeader, WorldPlan
from .terrain import HALO, WATER_LEVEL, Terrain, build_terrain, swim_y
from .walk import reserve_corridors

GENERATOR_VERSION = "1.7.0"
MIN_BUDGET, MAX_BUDGET = 10, 20_000
MAX_ROAD_SHARE = 0.15
BIG_AREA = 100.0  # m²: an uncounted plural of things this big is "a few", not "many"
MIN_STRUCTURE_ROOM = 60  # instances left after the landmarks for a scene structure to be laid


def plan(prompt: str, *, seed: int, catalog: Catalog, budget: int,
         world_type: str | None = None) -> WorldPlan:
    """Understand ``prompt`` and lay out a world of at most ``budget`` instances."""
    _check_args(seed, catalog, budget)
    intent = parse_prompt(prompt, catalog, world_type)
    return plan_from_intent(intent, seed=seed, catalog=catalog, budget=budget)


def _check_args(seed: int, catalog: Catalog, budget: int) -> None:
    if not isinstance(catalog, Catalog):
        raise GeneratorError("catalog must be a generator.Catalog")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise GeneratorError("seed must be an integer")
    if not isinstance(budget, int) or isinstance(budget, bool) \
            or not MIN_BUDGET <= budget <= MAX_BUDGET:
        raise GeneratorError(f"budget must be an integer in [{MIN_BUDGET}, {MAX_BUDGET}]")


def plan_from_intent(intent: Intent, *, seed: int, catalog: Catalog, budget: int) -> WorldPlan:
    """Lay out an already-understood Intent (the seam for a future LLM planner)."""
    _check_args(seed, catalog, budget)
    intent.validate()
    asked = intent
    intent = count_plurals(intent, catalog)
    # plurals the prompt gave no number: placed as bulk (fill), held to their range
    derived = frozenset(i for i, (a, b) in enumerate(zip(asked.requests, intent.requests,
                                                         strict=True)) if a.count != b.count)
    key = hashlib.blake2b(json.dumps([GENERATOR_VERSION, catalog.version, seed, intent.to_dict()],
                                     sort_keys=True).encode(), digest_size=32).digest()
    warnings = list(intent.warnings)
    requests = _match(intent, catalog, warnings, key, budget, derived)
    excluded = excluded_prefabs(catalog, intent, requests)
    _drop_counted_variants(requests, excluded, intent, catalog)
    ter_i = intent.terrain
    arch = BY_NAME[intent.scene]
    # a thing that floats needs water, unless the scene's structure brings its own (a
    # castle's drawbridge spans the moat)
    needs_water = any(catalog.surface[int(p)] == "water"
                      and not set(catalog.prefabs[int(p)].tags[:2]) & arch.own_water
                      for r in requests if r for p in r.pidx[:1])
    # a dry scene (the moon, a cave) gets no water unless the prompt names it or asks for a
    # thing that floats (asked-for kinds win over the scene)
    seabed = arch.water == "seabed"  # the whole world under water (an underwater reef)
    lake = not seabed and (ter_i.lake or (needs_water and not (ter_i.river or ter_i.coast)))
    lake_central = any(rel.feature == "lake" for rel in intent.relations)
    size = _world_size(intent, catalog, requests, budget)
    terrain = build_terrain(sub_rng(key, "terrain"), size=size, world_type=intent.world_type,
                            hilliness=ter_i.hilliness, lake=lake, lake_central=lake_central,
                            river=ter_i.river and not seabed, road=ter_i.road,
                            coast=ter_i.coast and not seabed, seabed=seabed,
                            coast_depth={"harbour": 0.3, "beach": 0.3, "underwater": 0.88}.get(
                                arch.name, 0.12),
                            # a river valley's river runs through its middle, north of the spawn
                            river_offset=0.1 if arch.name == "river_valley" else 0.24)
    structure.add_streets(terrain, arch)
    lay = Layout(catalog, terrain, intent, key, budget, excluded)
    result = _lay_out(lay, intent, requests, budget, warnings, derived)
    # the first phase (landmarks, structure, everything asked for) streams while the second
    # (roads, traffic, filler) is still to be placed: WorldPlan runs it when its first
    # instance is needed (docs/generator.md, "Incremental planning")
    return _assemble(intent, catalog, seed, terrain, result, requests, warnings, derived,
                     rest=lambda: _fill_in(lay, intent, requests, budget))


def count_plurals(intent: Intent, catalog: Catalog) -> Intent:
    """A plural without a number is a vague quantity of the whole world (docs/generator.md,
    "Count semantics"): vegetation is "dozens" (24-60: "palm trees", "tulips", "reeds"),
    things of 100 m² or more that are not buildings "a few" (2-4: longships on a river),
    anything else "many" (10-20). Only grammatical plurals: a collective or a place ("a
    forest", "jungle", "smoke") and a plural that is its own singular ("deer", "fish") keep no
    number, as do settlement nouns and phrases that match nothing."""
    changed = []
    for kr in intent.requests:
        head = kr.terms[-1] if kr.terms else ""
        # a grammatical plural only: "a forest", "jungle", "fish" name the place or a mass
        if kr.count is None and kr.plural and lemma(head) != head \
                and settlement_kind(kr.terms) is None:
            m = catalog.retrieval.match(kr.terms, kr.attributes, intent.world_type, single=True)
            if m is not None:
                p = catalog.index[m.prefab_ids[0]]
                big = catalog.width[p] * catalog.depth[p] * catalog.scale_max[p] ** 2 >= BIG_AREA \
                    and catalog.prefabs[p].type != "building"
                word = "dozens" if category(catalog.prefabs[p]) in ("tree", "plant") \
                    else "few" if big else "many"
                kr = dataclasses.replace(kr, count=VAGUE_COUNTS[word],
                                         count_range=VAGUE_RANGES[word])
        changed.append(kr)
    return dataclasses.replace(intent, requests=tuple(changed))


def _match(intent: Intent, catalog: Catalog, warnings: list[str], key: bytes,
           budget: int, derived: frozenset[int] = frozenset()) -> list[Request | None]:
    out: list[Request | None] = []
    arch = BY_NAME[intent.scene]
    fits = scene_fits((arch.fits, arch.world_type), intent.world_type,
                      frozenset(tokenize(intent.prompt)), intent.environment)
    for i, kr in enumerate(intent.requests):
        kind = settlement_kind(kr.terms)
        if kind is not None:
            req = _settlement_request(intent, catalog, i, kind, key, budget)
            if req is not None:
                out.append(req)
                continue
        m = catalog.retrieval.match(kr.terms, kr.attributes, intent.world_type,
                                    single=not kr.plural, fits=fits)
        if m is None:
            warnings.append(f"no prefab for {kr.phrase!r}; left out")
            out.append(None)
            continue
        m = _coherent(m, catalog, intent, kr.attributes)
        pidx = np.array([catalog.index[p] for p in m.prefab_ids])
        first = catalog.prefabs[int(pidx[0])]
        out.append(Request(i, m, pidx, np.array(m.weights), kr.count, kr.exact, kr.attributes,
                           landmark=first.landmark and (99 if i in derived else kr.count or (
                               1 if not kr.plural else 99)) <= 5))
    if intent.requests and not any(out):
        warnings.append("nothing in the prompt matched the catalog; generated a default "
                        f"{intent.world_type} world")
    if not intent.requests:
        warnings.append(f"no objects recognised in the prompt; generated a default "
                        f"{intent.world_type} world")
    return out


def _drop_counted_variants(requests: list[Request | None], excluded: np.ndarray,
                           intent: Intent, catalog: Catalog) -> None:
    """An uncounted request never adds a counted kind ("three oaks and trees": the trees are
    not oaks), unless nothing else answers it."""
    arch = BY_NAME[intent.scene]
    for r in requests:
        if r is None or r.settlement is not None:
            continue
        kind = catalog.prefabs[int(r.pidx[0])].type  # a horse is not a horse cart
        keep = np.array([catalog.prefabs[int(p)].type == kind for p in r.pidx], dtype=bool)
        # the kind asked for wins over the scene, but its variants fit the scene if they can
        # (camping tents at a campsite, not army tents)
        fits = keep & np.array([not set(catalog.prefabs[int(p)].tags) & arch.exclude
                                for p in r.pidx], dtype=bool)
        keep = fits if fits.any() else keep
        if intent.requests[r.index].count is None:
            keep &= ~excluded[r.pidx]
        if keep.any() and not keep.all():
            w = r.weights[keep] / r.weights[keep].sum()
            r.pidx, r.weights = r.pidx[keep], w
            r.match = Match(tuple(p for p, k in zip(r.match.prefab_ids, keep, strict=True) if k),
                            tuple(float(x) for x in w))


def _coherent(m: Match, catalog: Catalog, intent: Intent, attributes: tuple[str, ...]) -> Match:
    """Drop variants that misfit the biome/season (snowy pines in summer) if others remain."""
    if len(m.prefab_ids) == 1:
        return m
    words = frozenset(tokenize(intent.prompt))
    keep = [k for k, pid in enumerate(m.prefab_ids)
            if coherent(catalog.get(pid), words, intent.environment, attributes)]  # type: ignore[arg-type]
    if not keep or len(keep) == len(m.prefab_ids):
        return m
    total = sum(m.weights[k] for k in keep)
    return Match(tuple(m.prefab_ids[k] for k in keep), tuple(m.weights[k] / total for k in keep))


def _settlement_request(intent: Intent, catalog: Catalog, i: int, kind: str, key: bytes,
                        budget: int) -> Request | None:
    """A settlement noun becomes a building mix (settlement.py) instead of one prefab."""
    covered: set[str] = set()
    banned: set[int] = set()  # counted kinds: the settlement adds none of them
    explicit_houses = False
    for j, other in enumerate(intent.requests):
        if j == i or settlement_kind(other.terms) is not None:
            continue
        m = catalog.retrieval.match(other.terms, other.attributes, intent.world_type, True)
        if m is not None:
            tags = set(catalog.get(m.prefab_ids[0]).tags)  # type: ignore[union-attr]
            covered |= tags
            explicit_houses |= other.count is not None and bool(tags & HOUSE_TAGS)
            if other.count is not None:
                banned |= answer_set(catalog, other.terms) | {catalog.index[m.prefab_ids[0]]}
    s = plan_settlement(catalog, kind, intent.world_type, intent.size_factor, budget,
                        sub_rng(key, "settlement", i), covered, explicit_houses,
                        urban_setting(intent), frozenset(banned))
    if s is None:
        return None
    ids = [int(p) for p in s.civic] + [int(p) for p in s.houses]
    match = Match(tuple(catalog.prefabs[p].id for p in ids), tuple(1.0 / len(ids) for _ in ids))
    return Request(i, match, np.array(ids, dtype=np.int64), np.full(len(ids), 1.0 / len(ids)),
                   None, False, intent.requests[i].attributes, landmark=False, settlement=s)


def _world_size(intent: Intent, catalog: Catalog, requests: list[Request | None],
                budget: int) -> float:
    """Square side in metres: room for the budget at a comfortable density, and for requests."""
    need = 0.0
    for r in requests:
        if r is not None and r.settlement is not None:
            need += footprint_area(catalog, r.settlement) * 0.4  # x8 below: ~3x the lattice
        elif r is not None:
            p = int(r.pidx[0])
            area = catalog.width[p] * catalog.depth[p] * catalog.scale_max[p] ** 2
            need += (r.count or 1) * area
    # size words scale the budget-derived area; what was asked for always gets its room
    # a sparse scene (a desert, a beach, a city's open squares) spreads the same budget over
    # more ground: its density (archetypes.py) is instances per area, not fewer instances
    density = BY_NAME[intent.scene].density
    side = max(math.sqrt(budget * 36.0 / density) * intent.size_factor, math.sqrt(need * 8.0),
               72.0)
    return float(min(2400.0, max(64.0, math.ceil(side / 8.0) * 8.0)))


def _lay_out(lay: Layout, intent: Intent, requests: list[Request | None], budget: int,
             warnings: list[str], derived: frozenset[int] = frozenset()) -> LayoutResult:
    rel_of = {rel.subject: rel for rel in intent.relations}
    live = [r for r in requests if r is not None]
    for r in live:  # what a landmark is placed relative to stands first ("a dragon near a tower")
        rel = rel_of.get(r.index)
        if r.landmark and rel is not None and rel.anchor is not None:
            anchor = requests[rel.anchor]
            if anchor is not None and anchor.settlement is None and (anchor.count or 1) <= 5:
                anchor.landmark = True
    landmarks = _anchors_first([r for r in live if r.landmark], rel_of)
    if not live:
        wanted = structure.default_landmarks(lay)
        if wanted and budget >= 20:
            pick = wanted[int(sub_rng(lay.key, "default").integers(0, len(wanted)))]
            landmarks = [Request(-3, Match((lay.cat.prefabs[pick].id,), (1.0,)),
                                 np.array([pick]), np.array([1.0]), 1, False, (), True)]
    for slot, req in enumerate(landmarks):
        _place(lay, req, lambda r=req, s=slot: lay.place_landmark(r, rel_of.get(r.index),
                                                                   requests, s))  # type: ignore[arg-type]
    _scene_structure(lay, requests, len(landmarks))
    lay.ter.flags &= np.uint8(~HALO & 0xFF)  # the halo only spaced the landmarks
    spawn = lay.place_spawn()
    lay.spawn = spawn
    boxes = _landmark_boxes(lay)
    unreachable = reserve_corridors(lay.ter, spawn, boxes)
    if unreachable:
        warnings.append(f"{unreachable} landmark(s) not reachable on foot from the spawn")
    for req in live:  # settlements are the main structure: they get the ground first
        if req.settlement is not None:
            _place(lay, req, lambda r=req: setattr(r, "placed", r.placed + place_settlement(
                lay, r, r.settlement, rel_of.get(r.index), sub_rng(lay.key, "town", r.index))))
    town = next((r for r in live if r.settlement is not None and r.anchor_xz is not None), None)
    live = [r for r in live if r.settlement is None]
    counted = sum((r.count or 1) for r in live if not r.landmark and (r.count or not
                                                                     _plural(intent, r)))
    road_budget = int(budget * MAX_ROAD_SHARE) if lay.ter.roads else 0
    uncounted = [r for r in live if not r.landmark and (r.count is None or r.index in derived)
                 and _plural(intent, r)]
    rest = max(0, budget - lay.eng.count - counted - road_budget)
    targets = _uncounted_targets(lay, uncounted, rest, budget, rel_of)
    # exact and single requests before bulk fills, or a fill could take all the space first
    ordered = _anchors_first(live, rel_of)
    ordered = ([r for r in ordered if r not in uncounted] + [r for r in ordered if r in uncounted])
    for req in ordered:
        if req.landmark or req.count is not None and req.placed >= req.count:
            continue  # landmarks stand; the structure placed this one (a drawbridge)
        target = req.count or targets.get(req.index, 1)
        exact = req not in uncounted or req.index in derived and rel_of.get(req.index) is not None
        rel = rel_of.get(req.index)
        if rel is None and town is not None and _is_house(lay.cat, req):
            # "a hamlet with two cottages": the cottages are the hamlet's, round its centre
            rel = Relation("near", req.index, anchor=town.index)
        slot_at = structure.slot_sampler(lay, req) if rel is None else None
        if slot_at is not None:  # the scene's structure says where this kind goes
            if structure.on_roads(lay, req):
                lay.on_roads.add(req.index)
            _place(lay, req, lambda r=req, t=target, s=slot_at, e=exact:
                   setattr(r, "placed", r.placed + lay.place_request(r, t, s, e)))
            continue
        if not exact and (rel is None or rel.kind == "scatter"):
            _place(lay, req, lambda r=req, t=target: setattr(r, "placed",
                                                             r.placed + lay.fill_request(r, t)))
            continue
        sampler = lay.sampler_for(req, rel, requests, target)  # type: ignore[arg-type]
        _place(lay, req, lambda r=req, t=target, s=sampler, e=exact:
               setattr(r, "placed", r.placed + lay.place_request(r, t, s, e)))
    if requests and any(r is not None and r.settlement is None and r.placed < (r.count or 1)
                        for r in requests):
        short = [r.match.prefab_ids[0] for r in live if r.placed < (r.count or 1)]
        warnings.append(f"budget or space too small for all requested objects: {short}")
    return LayoutResult(lay.eng.cols.concat(), spawn, lay.warnings, [], unreachable)


def _fill_in(lay: Layout, intent: Intent, requests: list[Request | None],
             budget: int) -> dict[str, np.ndarray]:
    """The second phase of a plan: roads, traffic and the scene's filler, placed round what the
    first phase stood up (``_lay_out``). It adds no instance of a requested kind, so the
    header's trace, title and warnings are settled before it runs; the columns it returns are
    the instances it added, in placement order."""
    first = len(lay.eng.cols.parts)
    road_match = lay.cat.retrieval.match(("road",), (), intent.world_type, True)
    road_budget = int(budget * MAX_ROAD_SHARE) if lay.ter.roads else 0
    lay.place_roads(road_match, min(road_budget, lay.eng.room))
    if arch_has_traffic(lay):
        structure.place_traffic(lay, int(min(60, 0.04 * budget, lay.eng.room)),
                                sub_rng(lay.key, "traffic"))
    ter = lay.ter  # only a lake, river or coast flags water cells (terrain.build_terrain)
    has_water = ter.seabed or (ter.lake is not None or ter.river is not None
                               or ter.coast is not None) and bool((ter.flags & 1).any())
    structure.clear_round(lay)
    lay.place_palette(lay.eng.room, has_water, _theme(intent, lay, requests),
                      frozenset(tokenize(intent.prompt)), urban_setting(intent))
    return Columns(lay.eng.cols.parts[first:]).concat()


def _is_house(catalog: Catalog, req: Request) -> bool:
    p = catalog.prefabs[int(req.pidx[0])]
    return p.type == "building" and bool(set(p.tags) & HOUSE_TAGS)


def _scene_label(arch: Any, requests: list[Request | None]) -> str:
    """The description names the scene, unless a settlement or landmark is the subject."""
    if arch.name == "meadow" or any(r is not None and (r.settlement is not None or r.landmark)
                                    for r in requests):
        return ""
    return str(arch.label)


def arch_has_traffic(lay: Layout) -> bool:
    return lay.arch.traffic and lay.arch.structure in ("grid", "main_road") \
        and bool(lay.ter.roads)


def _scene_structure(lay: Layout, requests: list[Request | None], slot: int) -> None:
    """The scene's centre piece (unless the prompt placed one) and its structure."""
    arch = lay.arch
    if arch.structure is None and not arch.centerpiece or lay.eng.room < MIN_STRUCTURE_ROOM:
        return  # a world of a few dozen instances has no room for walls and streets of things
    centre = None
    tags = arch.centerpiece
    for r in requests:
        if r is not None and r.anchor_xz is not None and tags and set(tags) & set(
                lay.cat.prefabs[int(r.pidx[0])].tags[:2]):
            centre = (r.anchor_xz[0], r.anchor_xz[1], r.anchor_extent)
            break
    if centre is None and tags and not structure.asked(lay, requests, tags):
        ids = structure.find(lay, tags, "ground")
        if ids:
            p = ids[0]
            req = Request(structure.STRUCTURE_GROUP, Match((lay.cat.prefabs[p].id,), (1.0,)),
                          np.array([p]), np.array([1.0]), 1, True, (), True)
            _place(lay, req, lambda: lay.place_landmark(req, None, [], 0))  # at the centre
            if req.anchor_xz is not None:
                centre = (req.anchor_xz[0], req.anchor_xz[1], req.anchor_extent)
    lay.centre = centre or (0.0, 0.0, 6.0)
    structure.place_structure(lay, requests, lay.centre, sub_rng(lay.key, "structure"))


def _uncounted_targets(lay: Layout, uncounted: list[Request], rest: int,
                       budget: int, rel_of: dict[int, Any]) -> dict[int, int]:
    """Plurals without a number: vegetation is plentiful (it shares most of the remaining
    budget), other things are "several to many", growing with the world (sqrt of the budget).
    Vegetation placed by a relation ("willow trees around a pond") is as many as the ring or
    line holds, not a forest's share; by a water line ("a palm grove by the sea", "pines along
    the river") it is plentiful again: the shore is long."""
    if not uncounted:
        return {}
    veg = [r for r in uncounted
           if category(lay.cat.prefabs[int(r.pidx[0])]) in ("tree", "plant")
           and (getattr(rel_of.get(r.index), "kind", "scatter") == "scatter"
                or getattr(rel_of.get(r.index), "feature", None) in ("coast", "river"))]
    # ... as many as a band along the line holds (the relation is checked on every one)
    shore_cap = int(2.4 * budget ** 0.5)
    out: dict[int, int] = {}
    fair = int(rest * 0.5 / len(uncounted))
    for r in uncounted:
        if r in veg:
            continue
        big = lay.cat.prefabs[int(r.pidx[0])].type == "building"
        cap = int(np.clip(round(budget ** 0.5 * (0.35 if big else 0.8)), 3 if big else 5,
                          25 if big else 60))
        out[r.index] = max(3, min(cap, fair))
    # the scene's density thins uncounted vegetation as it thins the filler (a desert's palms)
    pool = max(0, int(rest * 0.6 * lay.arch.density) - sum(out.values()))
    for r in veg:
        out[r.index] = max(8, pool // len(veg))
        if rel_of.get(r.index) is not None:
            out[r.index] = min(out[r.index], shore_cap)
    return out


def _theme(intent: Intent, lay: Layout, requests: list[Request | None]) -> frozenset[str]:
    """Words the filler should echo: matched prefabs' tags, prompt nouns, terrain features."""
    theme = {lemma(t) for t in tokenize(intent.prompt)}
    for r in requests:
        if r is not None:
            for p in r.pidx[:3]:
                theme |= set(lay.cat.prefabs[int(p)].tags)
    ter = lay.ter
    if ter.lake is not None:
        theme |= {"lake", "pond", "shore", "marsh", "water"}
    if ter.river is not None or ter.coast is not None:
        theme |= {"river", "shore", "water", "beach"}
    return frozenset(theme)


def _plural(intent: Intent, req: Request) -> bool:
    return intent.requests[req.index].plural if req.index >= 0 else False


def _place(lay: Layout, req: Request, action: Any) -> None:
    """Run a placement and remember the request's first instance as its relation anchor."""
    parts = lay.eng.cols.parts
    before = len(parts)
    action()
    if len(parts) > before and req.anchor_xz is None:
        pidx, x, z, _, scale, _, _ = parts[before]
        p = int(pidx[0])
        req.anchor_xz = (float(x[0]), float(z[0]))
        req.anchor_extent = 0.5 * float(max(lay.cat.width[p], lay.cat.depth[p]) * scale[0])


def _anchors_first(live: list[Request], rel_of: dict[int, Any]) -> list[Request]:
    """Order requests so that a relation's anchor is placed before its subject."""
    order, seen = [], set()

    def visit(r: Request, depth: int = 0) -> None:
        if r.index in seen or depth > len(live):
            return
        rel = rel_of.get(r.index)
        if rel is not None and rel.anchor is not None:
            for a in live:
                if a.index == rel.anchor:
                    visit(a, depth + 1)
        seen.add(r.index)
        order.append(r)
    for r in live:
        visit(r)
    return order


def _landmark_boxes(lay: Layout) -> list[tuple[float, float, float, float]]:
    from .geometry import half_extents
    boxes = []
    for pidx, xs, zs, yaws, scales, _, landmark in lay.eng.cols.parts:
        if not landmark:
            continue
        for k in range(pidx.size):
            p = int(pidx[k])
            if lay.cat.surface[p] != "ground":
                continue
            hx, hz = half_extents(lay.cat.width[p], lay.cat.depth[p], scales[k], yaws[k])
            x, z = xs[k], zs[k]
            boxes.append((float(x - hx), float(z - hz), float(x + hx), float(z + hz)))
    return boxes


def _stable_order(dist: np.ndarray) -> np.ndarray:
    """``np.argsort(dist, kind="stable")`` for distances rounded to 1 mm: each becomes the
    integer millimetres shifted left, with its index in the low bits, so one plain sort of
    unique int64 keys gives the same order (about twice as fast as a stable argsort)."""
    if dist.size >= 1 << 20 or dist.size and float(dist.max()) >= 1e9:
        return np.argsort(dist, kind="stable")
    key = np.rint(dist * 1000.0).astype(np.int64) << 20
    key |= np.arange(dist.size)
    return np.sort(key) & ((1 << 20) - 1)


def _surface_y(catalog: Catalog, pidx: np.ndarray, ground: np.ndarray,
               seabed: bool = False) -> np.ndarray:
    """y of each instance from its surface: ground, water level (on a seabed world: the
    seabed, where reef life lives, plus placement.swim for what swims: terrain.swim_y),
    ground + 2 m (wall), or ground + 8 m + its height (air)."""
    surf = surface_codes(catalog)[pidx]
    y = ground
    if (surf != SURFACE_CODE["ground"]).any():
        height = catalog.height[pidx]
        afloat = swim_y(ground, catalog.swim[pidx], height) if seabed else WATER_LEVEL
        y = np.where(surf == SURFACE_CODE["water"], afloat,
                     np.where(surf == SURFACE_CODE["air"], ground + 8.0 + height,
                              np.where(surf == SURFACE_CODE["wall"], ground + 2.0, ground)))
    return y


def _assemble(intent: Intent, catalog: Catalog, seed: int, terrain: Terrain, result: LayoutResult,
              requests: list[Request | None], warnings: list[str],
              derived: frozenset[int], rest: Callable[[], dict[str, np.ndarray]]) -> WorldPlan:
    sx, sz = result.spawn
    sy = float(np.round(terrain.height_at(np.array([sx]), np.array([sz]))[0], 3))
    cols = _stream_order(result.columns, catalog, terrain, result.spawn)
    placed = np.bincount(cols["group"][cols["group"] >= 0],
                         minlength=len(intent.requests)) if intent.requests else np.zeros(0)
    trace = []
    for i, kr in enumerate(intent.requests):
        r = requests[i]
        trace.append({"phrase": kr.phrase, "matched": r is not None,
                      "prefab_ids": list(r.match.prefab_ids) if r else [],
                      "requested": None if i in derived else kr.count,
                      "placed": int(placed[i]) if r else 0})
    group_props: dict[int, dict[str, Any]] = {
        i: {"attributes": list(kr.attributes)} for i, kr in enumerate(intent.requests)
        if kr.attributes}
    spawns = tuple({"x": round(sx + dx, 3), "y": sy, "z": round(sz + dz, 3)}
                   for dx, dz in ((0, 0), (2, 0), (-2, 0), (0, 2)))
    h = terrain.half
    bounds = {"min": {"x": -h, "y": round(min(float(terrain.heights.min()), -3.0) - 1, 3),
                      "z": -h},
              "max": {"x": h, "y": round(float(terrain.heights.max()) + 250.0, 3), "z": h}}
    env = environment_settings(intent.environment, intent.world_type)
    arch = BY_NAME[intent.scene]
    # the scene archetype and its ground, for clients that dress the terrain (snow, sand, lava)
    env["scene"] = {"archetype": arch.name, "ground": arch.ground, "label": arch.label}
    title = make_title(intent, requests, "" if arch.name == "meadow" else arch.label)
    header = WorldHeader(
        title=title, description=make_description(intent, requests, trace, terrain.size, title,
                                                   _scene_label(arch, requests)),
        world_type=intent.world_type, environment_settings=env, terrain=terrain.summary(),
        bounds=bounds, spawn_points=spawns, trace=tuple(trace),
        warnings=tuple(dict.fromkeys(warnings + result.warnings)),
        instance_count=None, seed=seed, generator_version=GENERATOR_VERSION,
        catalog_version=catalog.version)
    # a plural whose range the world could not hold (22 m longships on a 7 m river) is warned
    # and goes back to "no number" for the evaluation: the prompt asked for no number
    ranges = {i: intent.requests[i].count_range or (0, 0) for i in derived}
    short = [i for i in sorted(derived) if requests[i] is not None
             and int(placed[i]) < ranges[i][0]]
    if short:
        header = dataclasses.replace(header, warnings=header.warnings + tuple(
            f"only {int(placed[i])} {intent.requests[i].phrase!r} fit; a plural without a "
            f"number means {ranges[i][0]}-{ranges[i][1]}" for i in short))
        intent = dataclasses.replace(intent, requests=tuple(
            dataclasses.replace(kr, count=None, count_range=None) if i in short else kr
            for i, kr in enumerate(intent.requests)))
    extras = {"terrain": terrain, "intent": intent, "unreachable": result.unreachable,
              "requests": requests}
    return WorldPlan(header, catalog, cols, group_props, extras,
                     rest=lambda: _stream_order(rest(), catalog, terrain, result.spawn))


def _stream_order(c: dict[str, np.ndarray], catalog: Catalog, terrain: Terrain,
                  spawn: tuple[float, float]) -> dict[str, np.ndarray]:
    """Columns with their heights, rounded, in streaming order: landmarks first, then nearest
    the spawn; ties in placement order."""
    sx, sz = spawn
    ground = terrain.height_at(c["x"], c["z"])
    c["y"] = np.round(_surface_y(catalog, c["pidx"], ground, terrain.seabed), 3)
    c["x"], c["z"] = np.round(c["x"], 3), np.round(c["z"], 3)
    order = _stable_order(np.round(np.hypot(c["x"] - sx, c["z"] - sz), 3))
    lm = c["landmark"][order]
    if lm.any():
        order = np.concatenate([order[lm], order[~lm]])
    return {k: v[order] for k, v in c.items()}
