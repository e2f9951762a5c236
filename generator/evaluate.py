"""Quality evaluation of generated worlds, from the emitted instances (what clients receive).

Hard constraints must all be zero: overlapping solid footprints, anything out of bounds, ground
things on water or paths, water things on land, y off the surface, filler foreign to the scene
(a prefab whose scene tags the archetype does not list: knights in a frontier town, oaks in a
desert, villagers on a reef; palette.py). Soft scores: exact counts,
requested kinds present, relations satisfied (geometric checks), spawn walkable, landmarks
reachable, determinism, diversity across seeds. ``evaluate_prompts`` + ``format_table`` back
``immersiverse generate --eval PROMPTS.txt``.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from .archetypes import BY_NAME
from .catalog import Catalog
from .counts import world_count
from .geometry import OVERLAP_EPS, half_extents, quaternion_yaw
from .lexicon import NUMBER_WORDS, lemma, tokenize
from .nouns import is_unknown_noun
from .palette import fits_scene, scene_fits
from .planner import plan
from .stream import WorldPlan
from .terrain import PATH, WATER, WATER_LEVEL, swim_y
from .walk import bfs, blocked_grid, landmark_targets, start_cell

Row = dict[str, Any]


def _arrays(wp: WorldPlan) -> dict[str, np.ndarray]:
    inst = wp.instances
    cat = wp.catalog
    pidx = np.array([cat.index[i.prefab_id] for i in inst], dtype=np.int64)
    pos = np.array([i.pos for i in inst], dtype=np.float64).reshape(-1, 3)
    yaw = np.array([quaternion_yaw(i.rot) for i in inst])
    scale = np.array([i.scale[0] for i in inst])
    hx, hz = half_extents(cat.width[pidx], cat.depth[pidx], scale, yaw)
    return {"pidx": pidx, "x": pos[:, 0], "y": pos[:, 1], "z": pos[:, 2], "hx": hx, "hz": hz,
            "solid": cat.solid[pidx]}


def count_overlaps(x: np.ndarray, z: np.ndarray, hx: np.ndarray, hz: np.ndarray) -> int:
    """Pairs of AABBs overlapping by more than OVERLAP_EPS (sweep along x)."""
    order = np.argsort(x - hx, kind="stable")
    x0, x1 = (x - hx)[order], (x + hx)[order]
    zs, hzs = z[order], hz[order]
    ends = np.searchsorted(x0, x1 - OVERLAP_EPS, side="left")
    pairs = 0
    for i in np.nonzero(ends > np.arange(x0.size) + 1)[0]:
        j = np.arange(i + 1, ends[i])
        pairs += int((np.abs(zs[j] - zs[i]) < hzs[j] + hzs[i] - OVERLAP_EPS).sum())
    return pairs


def evaluate_world(wp: WorldPlan) -> Row:
    """Score one world; every key is a number (or bool) suitable for a table."""
    a = _arrays(wp)
    ter = wp.extras["terrain"]
    cat = wp.catalog
    surf = np.array([cat.surface[p] for p in a["pidx"]], dtype=object)
    b = wp.header.bounds
    eps = OVERLAP_EPS
    s = a["solid"]
    overlaps = count_overlaps(a["x"][s], a["z"][s], a["hx"][s], a["hz"][s])
    oob = ((a["x"] - a["hx"] < b["min"]["x"] - eps) | (a["x"] + a["hx"] > b["max"]["x"] + eps)
           | (a["z"] - a["hz"] < b["min"]["z"] - eps) | (a["z"] + a["hz"] > b["max"]["z"] + eps)
           | (a["y"] < b["min"]["y"]) | (a["y"] > b["max"]["y"]))
    # forbidden regions, checked on the footprint's covering cells (shrunk by eps)
    # road pieces lie on paths; vehicles drive on them (structure.py: on the lanes only)
    road = (wp.columns["group"] == -2) | np.array(
        [cat.prefabs[p].type == "vehicle" for p in a["pidx"]], dtype=bool)
    forbidden = 0
    for k in range(a["x"].size):
        i0, i1 = ter.index(np.array([a["x"][k] - a["hx"][k] + eps, a["x"][k] + a["hx"][k] - eps]))
        j0, j1 = ter.index(np.array([a["z"][k] - a["hz"][k] + eps, a["z"][k] + a["hz"][k] - eps]))
        cells = ter.flags[max(i0, 0):i1 + 1, max(j0, 0):j1 + 1]
        if surf[k] == "water":
            forbidden += int(((cells & WATER) == 0).any())
        elif surf[k] in ("ground", "wall"):
            wet = 0 if ter.seabed else WATER  # a seabed world: everything stands in water
            forbidden += int(((cells & (wet | (0 if road[k] or surf[k] == "wall" else PATH)))
                              != 0).any())
    ground = ter.height_at(a["x"], a["z"])
    if ter.seabed:  # reef life on the floor, swimmers placement.swim above it
        afloat = swim_y(ground, cat.swim[a["pidx"]], cat.height[a["pidx"]])
    else:
        afloat = np.full_like(ground, WATER_LEVEL)
    expect = np.where(surf == "water", afloat, ground)
    off = ((surf == "ground") | (surf == "water")) & (np.abs(a["y"] - expect) > 0.01)
    off |= (surf == "air") & (a["y"] < ground)
    trace = wp.header.trace
    matched = [t for t in trace if t["matched"]]
    counts_ok, counts_total = whole_world_counts(wp, a["pidx"])
    row: Row = {
        "instances": len(wp), "overlaps": overlaps, "out_of_bounds": int(oob.sum()),
        "forbidden": forbidden, "off_surface": int(off.sum()),
        "exact_ok": counts_ok, "exact_total": counts_total,
        "kinds_ok": sum(t["placed"] > 0 for t in matched), "kinds_total": len(matched),
        "excluded": excluded_present(wp, a["pidx"]), "foreign": len(foreign_filler(wp, a["pidx"])),
        "unwarned": len(unwarned_nouns(wp)),
        "offroad": vehicles_off_road(wp, a),
    }
    row.update(_relations(wp, a))
    row.update(_walk(wp, a))
    return row


def whole_world_counts(wp: WorldPlan, pidx: np.ndarray) -> tuple[int, int]:
    """(ok, total) over counted requests: the whole world's count of the kind (counts.py)
    equals the number, or lies in a vague quantity's documented range."""
    intent, cat = wp.extras["intent"], wp.catalog
    group = wp.columns["group"]
    reqs = wp.extras["requests"]
    live = [i for i, r in enumerate(reqs) if r is not None]
    ok = total = 0
    for i, kr in enumerate(intent.requests):
        if kr.count is None or reqs[i] is None or reqs[i].settlement is not None:
            continue
        n = world_count(cat, kr.terms, pidx, group, i, [j for j in live if j != i])
        lo, hi = kr.count_range if kr.count_range is not None else (kr.count, kr.count)
        total += 1
        ok += int(lo <= n <= hi)
    return ok, total


def excluded_present(wp: WorldPlan, pidx: np.ndarray) -> int:
    """Instances of a kind the scene excludes (archetypes.py) that the prompt did not ask for."""
    arch = BY_NAME[wp.extras["intent"].scene]
    cat = wp.catalog
    asked = {int(p) for r in wp.extras["requests"] if r is not None for p in r.pidx}
    bad = np.array([bool(set(p.tags) & arch.exclude) and i not in asked
                    for i, p in enumerate(cat.prefabs)], dtype=bool)
    return int(bad[pidx].sum())


def foreign_filler(wp: WorldPlan, pidx: np.ndarray) -> list[str]:
    """Prefab ids of filler instances (the palette's, group -1) that do not fit the scene: none
    of the archetype's scene tags (or the open landscape's, by world type) among its own."""
    intent, cat = wp.extras["intent"], wp.catalog
    arch = BY_NAME[intent.scene]
    allowed = scene_fits((arch.fits, arch.world_type), intent.world_type,
                         frozenset(tokenize(intent.prompt)), intent.environment)
    filler = np.unique(pidx[wp.columns["group"] == -1])
    bad = {int(p) for p in filler if not fits_scene(cat.prefabs[int(p)], allowed)}
    return [cat.prefabs[int(p)].id for p, g in zip(pidx, wp.columns["group"], strict=True)
            if g == -1 and int(p) in bad]


def unwarned_nouns(wp: WorldPlan) -> list[str]:
    """Nouns of the prompt no prefab serves that no warning names: every unmatched request,
    and every unknown word right after a number ("seven camels")."""
    intent = wp.extras["intent"]
    text = " ".join(wp.header.warnings)
    missing = [t["phrase"] for t in wp.header.trace if not t["matched"]
               and t["phrase"] not in text]
    words = {lemma(w) for r in intent.requests for w in r.terms + r.attributes}
    tokens = tokenize(intent.prompt)
    for k in range(len(tokens) - 1):
        t, w = tokens[k], tokens[k + 1]
        after = tokens[k + 2] if k + 2 < len(tokens) else ""
        if after and (lemma(after) in words or wp.catalog.retrieval.is_kind_word(after)):
            continue  # "three polar bears": a modifier of a known noun
        if (t.isdigit() or t in NUMBER_WORDS) and lemma(w) not in words \
                and not wp.catalog.retrieval.is_kind_word(w) \
                and is_unknown_noun(w, t, "", True, True) and f"'{w}'" not in text \
                and f" {w}'" not in text:
            missing.append(w)
    return missing


def vehicles_off_road(wp: WorldPlan, a: dict[str, np.ndarray]) -> int:
    """In a street scene (grid or main road) every ground vehicle stands on a road."""
    arch = BY_NAME[wp.extras["intent"].scene]
    ter, cat = wp.extras["terrain"], wp.catalog
    if arch.structure not in ("grid", "main_road") or not ter.roads:
        return 0
    veh = np.array([cat.prefabs[p].type == "vehicle" and cat.surface[p] == "ground"
                    for p in a["pidx"]], dtype=bool)
    if not veh.any():
        return 0
    i = np.clip(ter.index(a["x"][veh]), 0, ter.n - 1)
    j = np.clip(ter.index(a["z"][veh]), 0, ter.n - 1)
    return int(((ter.flags[i, j] & PATH) == 0).sum())


def _relations(wp: WorldPlan, a: dict[str, np.ndarray]) -> Row:
    intent, ter = wp.extras["intent"], wp.extras["terrain"]
    group = wp.columns["group"]
    ok = total = 0
    for rel in intent.relations:
        sel = group == rel.subject
        if not sel.any() or (rel.anchor is not None and not (group == rel.anchor).any()):
            continue
        total += 1
        x, z = a["x"][sel], a["z"][sel]
        ext = float(np.max(np.maximum(a["hx"][sel], a["hz"][sel])))
        if rel.anchor is not None:
            asel = np.nonzero(group == rel.anchor)[0]
            first = asel[np.argmin(asel)]  # stream order differs; use the nearest to centroid
            ax, az = float(a["x"][first]), float(a["z"][first])
            aext = float(max(a["hx"][first], a["hz"][first]))
        elif rel.feature == "lake" and ter.lake is not None:
            ax, az = ter.lake[0], ter.lake[1]
            aext = max(ter.lake[2], ter.lake[3]) * 1.2
        else:
            ax, az, aext = 0.0, 0.0, 0.0
        d = np.hypot(x - ax, z - az)
        if rel.feature in ("river", "road", "coast") and rel.kind in ("along", "near", "around"):
            line = {"river": ter.river, "road": ter.roads[0] if ter.roads else None,
                    "coast": ter.coast}[rel.feature]
            good = line is not None and float(
                (line.distance(x, z) <= line.width / 2 + ext + 8).mean()) >= 0.8
        elif rel.kind in ("around", "ring"):
            ang = np.sort(np.arctan2(z - az, x - ax))
            gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * math.pi]))
            close = float((d <= aext + 4 * ext + 20 + 0.05 * ter.size).mean()) >= 0.8
            good = close and (ang.size < 3 or float(gaps.max()) < math.pi * 1.2)
        elif rel.kind == "near":
            good = float((d <= aext + ext + 35).mean()) >= 0.8
        elif rel.kind == "direction":
            dx, dz = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}[
                rel.direction]
            good = float(((x - ax) * dx + (z - az) * dz > 0).mean()) >= 0.8
        elif rel.kind == "center":
            good = float(d.min()) <= aext + ext + 12
        else:  # scatter / line: placement itself is the check
            good = True
        ok += int(good)
    return {"relations_ok": ok, "relations_total": total}


def _walk(wp: WorldPlan, a: dict[str, np.ndarray]) -> Row:
    ter, cat = wp.extras["terrain"], wp.catalog
    occ = np.zeros_like(ter.flags, dtype=bool)
    e = OVERLAP_EPS
    for k in np.nonzero(a["solid"])[0]:
        i0, i1 = ter.index(np.array([a["x"][k] - a["hx"][k] + e, a["x"][k] + a["hx"][k] - e]))
        j0, j1 = ter.index(np.array([a["z"][k] - a["hz"][k] + e, a["z"][k] + a["hz"][k] - e]))
        occ[max(i0, 0):i1 + 1, max(j0, 0):j1 + 1] = True
    sp = wp.header.spawn_points
    spawn_ok = all((ter.seabed or not ter.water_at(np.array(p["x"]), np.array(p["z"])))
                   and not occ[tuple(np.clip(ter.index(np.array([p["x"], p["z"]])), 0, ter.n - 1))]
                   for p in sp)
    blocked = blocked_grid(ter, occupied=occ)
    s = start_cell(ter, sp[0]["x"], sp[0]["z"])
    blocked[s] = False
    lm = np.nonzero(wp.columns["landmark"])[0]
    boxes = [(a["x"][k] - a["hx"][k], a["z"][k] - a["hz"][k], a["x"][k] + a["hx"][k],
              a["z"][k] + a["hz"][k]) for k in lm if cat.surface[a["pidx"][k]] == "ground"]
    targets = landmark_targets(ter, boxes, blocked)
    dist = bfs(blocked, s).ravel()
    reached = sum(bool((dist[t] >= 0).any()) for t in targets)
    return {"spawn_ok": spawn_ok, "landmarks_reached": reached, "landmarks_total": len(boxes)}


def world_digest(wp: WorldPlan) -> str:
    body = json.dumps([wp.header.to_dict(), [i.blueprint() for i in wp.instances]],
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def read_prompts(text: str) -> list[str]:
    """One prompt per line; blank lines and '#' comments are skipped."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def evaluate_prompts(prompts: Iterable[str], catalog: Catalog, seeds: Iterable[int] = (1, 2, 3),
                     budget: int = 800) -> list[Row]:
    """One row per prompt: hard-constraint totals over all seeds plus soft scores."""
    rows = []
    seeds = list(seeds)
    for prompt in prompts:
        t0 = time.perf_counter()
        worlds = [plan(prompt, seed=s, catalog=catalog, budget=budget) for s in seeds]
        ms = (time.perf_counter() - t0) * 1000 / max(1, len(seeds))
        scores = [evaluate_world(w) for w in worlds]
        digests = [world_digest(w) for w in worlds]
        again = world_digest(plan(prompt, seed=seeds[0], catalog=catalog, budget=budget))
        row: Row = {"prompt": prompt, "world_type": worlds[0].header.world_type,
                    "ms": round(ms, 1)}
        for key in scores[0]:
            vals = [sc[key] for sc in scores]
            row[key] = all(vals) if isinstance(vals[0], bool) else sum(vals)
        row["deterministic"] = again == digests[0]
        row["diversity"] = round(len(set(digests)) / len(digests), 3)
        rows.append(row)
    return rows


def _ratio(ok: int, total: int) -> str:
    return "-" if total == 0 else f"{100 * ok / total:.0f}%"


def format_table(rows: list[Row]) -> str:
    """Fixed-width text table plus a totals line."""
    head = (f"{'prompt':<44} {'type':<10} {'inst':>6} {'ovl':>3} {'oob':>3} {'frb':>3} "
            f"{'srf':>3} {'frn':>4} {'exact':>6} {'kinds':>6} {'rels':>6} {'spawn':>5} {'reach':>6} "
            f"{'det':>3} {'div':>4} {'ms':>6}")
    lines = [head, "-" * len(head)]
    tot: dict[str, int] = {}
    for r in rows:
        for k in ("overlaps", "out_of_bounds", "forbidden", "off_surface", "exact_ok",
                  "exact_total", "kinds_ok", "kinds_total", "relations_ok", "relations_total",
                  "landmarks_reached", "landmarks_total", "excluded", "foreign", "unwarned",
                  "offroad"):
            tot[k] = tot.get(k, 0) + int(r[k])
        p = r["prompt"] if len(r["prompt"]) <= 44 else r["prompt"][:41] + "..."
        lines.append(
            f"{p:<44} {r['world_type']:<10} {r['instances']:>6} {r['overlaps']:>3} "
            f"{r['out_of_bounds']:>3} {r['forbidden']:>3} {r['off_surface']:>3} {r['foreign']:>4} "
            f"{_ratio(r['exact_ok'], r['exact_total']):>6} "
            f"{_ratio(r['kinds_ok'], r['kinds_total']):>6} "
            f"{_ratio(r['relations_ok'], r['relations_total']):>6} "
            f"{'ok' if r['spawn_ok'] else 'NO':>5} "
            f"{_ratio(r['landmarks_reached'], r['landmarks_total']):>6} "
            f"{'ok' if r['deterministic'] else 'NO':>3} {r['diversity']:>4} {r['ms']:>6}")
    lines.append("-" * len(head))
    lines.append(
        f"TOTAL {len(rows)} prompts: overlaps={tot.get('overlaps', 0)} "
        f"out_of_bounds={tot.get('out_of_bounds', 0)} forbidden={tot.get('forbidden', 0)} "
        f"off_surface={tot.get('off_surface', 0)} "
        f"exact={_ratio(tot.get('exact_ok', 0), tot.get('exact_total', 0))} "
        f"kinds={_ratio(tot.get('kinds_ok', 0), tot.get('kinds_total', 0))} "
        f"relations={_ratio(tot.get('relations_ok', 0), tot.get('relations_total', 0))} "
        f"reach={_ratio(tot.get('landmarks_reached', 0), tot.get('landmarks_total', 0))} "
        f"excluded={tot.get('excluded', 0)} foreign={tot.get('foreign', 0)} "
        f"unwarned={tot.get('unwarned', 0)} "
        f"offroad={tot.get('offroad', 0)}")
    return "\n".join(lines)


def failures(rows: list[Row]) -> list[str]:
    """What fails the corpus (docs/generator.md, Evaluation): hard constraints, whole-world
    counts, excluded kinds, foreign filler, unwarned nouns, vehicles off the road, relations
    under 95 %."""
    out = []
    for key in ("overlaps", "out_of_bounds", "forbidden", "off_surface", "excluded", "foreign",
                "unwarned", "offroad"):
        bad = [r["prompt"] for r in rows if r[key]]
        if bad:
            out.append(f"{key}: {len(bad)} prompt(s), e.g. {bad[0]!r}")
    bad = [r["prompt"] for r in rows if r["exact_ok"] != r["exact_total"]]
    if bad:
        out.append(f"whole-world counts: {len(bad)} prompt(s), e.g. {bad[0]!r}")
    ok, total = sum(r["relations_ok"] for r in rows), sum(r["relations_total"] for r in rows)
    if total and ok / total < 0.95:
        out.append(f"relations {100 * ok / total:.1f}% < 95%")
    if not all(r["deterministic"] for r in rows):
        out.append("a world differs between two runs")
    return out
