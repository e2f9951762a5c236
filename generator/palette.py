"""Filler ("palette") composition: what fills the budget after the requested objects.

Filler must fit the world, not just its genre tag. Every candidate prefab is of the world type
(hard filter) and falls in a category (tree, plant, rock, animal, person, prop, lighting,
vehicle, effect, terrain, building, ui); each world type has a palette of category weights, so a
nature or rural world is mostly trees, bushes, grass and rocks and a city mostly people, street
props and lights. Within a category, prefabs that share tags with the prompt's theme (the
matched prefabs' tags, the prompt's words, the terrain features, the settlement) are boosted,
and smaller things are more numerous. Coherence filters drop:

* biome misfits: desert plants unless the prompt says desert, palms unless tropical/beach,
  snow things unless it is winter or snowy;
* season/time/weather misfits: falling leaves outside autumn, fireflies by day, fog banks in
  clear weather;
* urban-only props (street lamps, mailboxes, police, floodlights) in rural settings, i.e. unless
  the world is urban/sci-fi, the settlement is a town or city, or the prompt names streets;
* gameplay markers (waypoints, spawn pads, quest markers), landmarks, wall-mounted things and
  structural pieces (roads, moats, drawbridges, quays, walls: placement.fits "structure"; the
  scene structure lays those where they belong).

Above all, filler is an allow-list (docs/generator.md, "Filler: what fits a scene"): every prefab
carries scene tags (``placement.fits``: biomes such as temperate, desert, snow, marine; settings
and eras such as medieval, western, street, harbour, station), every archetype row names the tags
that fit it (archetypes.py ``fits``), and a filler prefab must carry one of them. The open
landscape (no archetype) takes its tags from the world type (``WORLD_FITS``); words of the prompt
add a few (``WORD_FITS``: "snowy" lets snow things in). Among fitting prefabs the world type
still rules, per category: only when no fitting tree (rock, person, ...) is made for the world
type do fitting ones of other types stand in, so a pirate cove's reef still has coral.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import cache
from .lexicon import tokenize
from .settlement import URBAN_KINDS, settlement_kind, urban_only

if TYPE_CHECKING:
    from .catalog import Catalog, Prefab
    from .intent import EnvironmentIntent, Intent

# an archetype's filler columns: (category weights, excluded tags, (scene tags, world type))
Scene = tuple[tuple[tuple[str, float], ...], frozenset[str], tuple[frozenset[str], str]]

PALETTES: dict[str, dict[str, float]] = {
    "nature": {"tree": 10, "plant": 8, "rock": 4, "animal": 1.5, "terrain": 0.8, "effect": 0.5,
               "person": 0.1, "prop": 0.2, "lighting": 0.05, "vehicle": 0.05, "ui": 0.02,
               "building": 0.0},
    "realistic": {"tree": 6, "plant": 6, "rock": 2.5, "animal": 1.0, "terrain": 0.4,
                  "effect": 0.3, "person": 0.3, "prop": 0.6, "lighting": 0.15, "vehicle": 0.2,
                  "ui": 0.05, "building": 0.05},
    "fantasy": {"tree": 6, "plant": 6, "rock": 3, "animal": 0.8, "terrain": 0.6, "effect": 1.0,
                "person": 0.4, "prop": 0.6, "lighting": 0.3, "vehicle": 0.1, "ui": 0.02,
                "building": 0.1},
    "historical": {"tree": 4, "plant": 5, "rock": 2.5, "animal": 1.0, "terrain": 0.4,
                   "effect": 0.3, "person": 1.0, "prop": 1.5, "lighting": 0.4, "vehicle": 0.2,
                   "ui": 0.02, "building": 0.1},
    "urban": {"tree": 1.5, "plant": 2.5, "rock": 0.2, "animal": 0.1, "terrain": 0.2,
              "effect": 0.5, "person": 3.0, "prop": 3.0, "lighting": 2.0, "vehicle": 2.0,
              "ui": 0.5, "building": 0.3},
    "sci_fi": {"tree": 1.0, "plant": 1.5, "rock": 1.5, "animal": 0.2, "terrain": 0.5,
               "effect": 1.5, "person": 2.0, "prop": 3.0, "lighting": 2.0, "vehicle": 1.2,
               "ui": 0.3, "building": 0.3},
    "space": {"tree": 0.3, "plant": 0.5, "rock": 5.0, "animal": 0.3, "terrain": 4.0,
              "effect": 1.2, "person": 1.0, "prop": 2.0, "lighting": 1.0, "vehicle": 0.8,
              "ui": 0.2, "building": 0.2},
    "surreal": {"tree": 4.0, "plant": 4.0, "rock": 2.0, "animal": 1.0, "terrain": 1.0,
                "effect": 2.0, "person": 1.0, "prop": 2.5, "lighting": 1.0, "vehicle": 0.5,
                "ui": 0.2, "building": 0.3},
}
PLANT_TAGS = frozenset("bush shrub hedge grass flower flowers fern plant reeds mushroom lily "
                       "flora undergrowth meadow".split())
ROCK_TAGS = frozenset("rock boulder stone pebbles".split())
ANIMAL_TAGS = frozenset("animal wildlife".split())
MARKER_TAGS = frozenset("marker waypoint spawn quest beacon kiosk".split())
# pieces a scene's structure or a request lays where they belong, never strewn as filler (a
# drawbridge in a pond, a pier in the middle of a lake)
STRUCTURE_TAGS = frozenset("bridge drawbridge footbridge pier dock jetty quay wharf".split())
BIOMES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # biome: (prefab tags that belong to it, prompt words that call for it)
    "desert": (frozenset({"cactus", "desert"}),
               frozenset("desert dune dunes sand sandy arid oasis canyon wasteland western "
                         "cactus cacti".split())),
    "tropical": (frozenset({"palm", "tropical"}),
                 frozenset("tropical beach island jungle palm palms paradise lagoon oasis".split())),
    "winter": (frozenset({"snow", "snowy", "winter", "frozen"}),
               frozenset("snow snowy winter frozen icy arctic blizzard ice wintry".split())),
    # sea life and wrecks: salt water only, never in a lake or river
    "marine": (frozenset({"marine"}),
               frozenset("sea seas ocean oceans reef reefs coral underwater undersea seabed "
                         "seafloor marine coast coastal bay harbor harbour port beach island "
                         "shore lagoon shipwreck submarine".split())),
}
# the open landscape's scene tags per world type (an archetype row names its own)
WORLD_FITS: dict[str, frozenset[str]] = {
    "nature": frozenset({"temperate", "woodland", "wild"}),
    "realistic": frozenset({"temperate", "woodland", "wild"}),
    "historical": frozenset({"temperate", "woodland", "wild"}),
    "fantasy": frozenset({"temperate", "woodland", "wild", "magic"}),
    "surreal": frozenset({"dream"}), "sci_fi": frozenset({"station", "cyberpunk"}),
    "space": frozenset({"lunar", "space"}), "urban": frozenset({"street"}),
}
# prompt words (and the season/weather biome) that let more scene tags in: "a snowy village"
WORD_FITS: dict[str, str] = {"japanese": "japanese", "zen": "japanese", "oasis": "oasis",
                             "jungle": "tropical", "rainforest": "tropical", "winter": "snow"}
# a world type the prompt's own words chose over the archetype's (a candy forest, a mystical
# lake) brings its own things along
GENRE_FITS: dict[str, frozenset[str]] = {"fantasy": frozenset({"magic"}),
                                         "surreal": frozenset({"dream"})}
STRUCTURE_FIT = "structure"  # laid by a scene structure, never filler
URBAN_CUES = frozenset("street streets downtown suburb suburban neighborhood neighbourhood "
                       "avenue highway parking".split())
GENERIC_TAGS = frozenset("wooden stone metal modern building light glowing strange dream "
                         "ancient old giant tall big large small".split())
THEME_BOOST = 1.5


def urban_setting(intent: Intent) -> bool:
    """Urban/modern street furniture belongs: an urban or sci-fi world, a town or city, streets."""
    if intent.world_type in ("urban", "sci_fi"):
        return True
    if frozenset(tokenize(intent.prompt)) & URBAN_CUES:
        return True
    return any(settlement_kind(r.terms) in URBAN_KINDS for r in intent.requests)


def category(p: Prefab) -> str:
    tags = set(p.tags)
    if p.type == "environment":
        if "tree" in tags:
            return "tree"
        if tags & PLANT_TAGS:
            return "plant"
        if tags & ROCK_TAGS:
            return "rock"
        return "terrain"
    if p.type == "character":
        return "animal" if tags & ANIMAL_TAGS else "person"
    return p.type


def filler_categories(cat: Catalog) -> list[str]:
    """category() of every prefab (cached per catalog)."""
    memo = cache.table(cat, "static")
    hit = memo.get("categories")
    if hit is None:
        hit = memo["categories"] = [category(p) for p in cat.prefabs]
    out: list[str] = hit
    return out


def fit_words(p: Prefab) -> frozenset[str]:
    """The scene tags of a prefab: placement.fits, or its tags when the catalog gives none."""
    return frozenset(p.fits or p.tags)


def scene_fits(arch: tuple[frozenset[str], str], world_type: str, words: frozenset[str],
               env: EnvironmentIntent) -> frozenset[str]:
    """The scene tags a filler prefab must carry one of: the archetype's (``arch``: its scene
    tags and world type; no tags = the open landscape, whose tags follow the world type), plus
    those the prompt's own genre, words or season let in."""
    arch_fits, arch_world = arch
    extra = {WORD_FITS[w] for w in words if w in WORD_FITS}
    extra |= {WORD_FITS[b] for b in wanted_biomes(words, env) if b in WORD_FITS}
    if arch_fits and world_type != arch_world:
        extra |= GENRE_FITS.get(world_type, frozenset())
    return (arch_fits or WORLD_FITS.get(world_type, frozenset())) | extra


def fits_scene(p: Prefab, allowed: frozenset[str]) -> bool:
    """May ``p`` be filler where ``allowed`` are the scene's tags (scene_fits)?"""
    tags = fit_words(p)
    return STRUCTURE_FIT not in tags and bool(tags & allowed)


def _candidates(cat: Catalog) -> list[tuple[int, str, frozenset[str], float]]:
    """(prefab number, category, tags, area factor) of everything that may ever be filler."""
    per_cat = cache.table(cat, "palette_candidates")
    if "all" not in per_cat:
        out: list[tuple[int, str, frozenset[str], float]] = []
        for i, p in enumerate(cat.prefabs):
            if p.landmark or p.surface == "wall" or STRUCTURE_FIT in fit_words(p):
                continue
            if p.pattern == "line" and p.type == "environment":
                continue  # roads/rails are laid by place_roads
            if set(p.tags) & (MARKER_TAGS | STRUCTURE_TAGS):
                continue
            single = 0.25 if p.pattern == "single" else 1.0  # a well, a tractor: not dozens
            out.append((i, category(p), frozenset(p.tags),
                        single / max(1.0, p.width * p.depth) ** 0.3))
        per_cat["all"] = out
    found: list[tuple[int, str, frozenset[str], float]] = per_cat["all"]  # the cache holds what we stored
    return found


def wanted_biomes(words: frozenset[str], env: EnvironmentIntent) -> set[str]:
    out = {b for b, (_, cues) in BIOMES.items() if words & cues}
    if env.season == "winter" or env.weather == "snow":
        out.add("winter")
    return out


def _env_factor(tags: frozenset[str], env: EnvironmentIntent, biomes: set[str],
                veto: bool = True) -> float:
    """Weight factor for season, time and biome: 0 = does not belong, 3 = the wanted biome's.
    ``veto=False``: the prefab's scene tags already decided where it belongs (a crab on a reef
    although crabs are "tropical"), so a biome it does not match only goes unboosted."""
    for biome, (btags, _) in BIOMES.items():
        if tags & btags:
            if biome not in biomes:
                return 0.0 if veto else 1.0
            return 3.0
    if ("autumn" in tags or "leaves" in tags) and env.season != "autumn":
        return 0.0
    if ({"fireflies", "aurora", "night"} & tags) and env.time_of_day not in ("night", "sunset"):
        return 0.0
    if "fog" in tags and env.weather != "fog":
        return 0.0
    return 1.0


def coherent(p: Prefab, words: frozenset[str], env: EnvironmentIntent,
             attributes: tuple[str, ...] = ()) -> bool:
    """False for a biome/season misfit (snowy pine in summer) unless the phrase asks for it."""
    return bool(set(attributes) & set(p.tags)) or _env_factor(
        frozenset(p.tags), env, wanted_biomes(words, env)) > 0


def palette_members(cat: Catalog, world_type: str, env: EnvironmentIntent, target: int,
                    has_water: bool, theme: frozenset[str], words: frozenset[str],
                    urban: bool, excluded: np.ndarray | None = None,
                    scene: Scene | None = None) -> list[tuple[int, int]]:
    """(prefab number, count) pairs summing to ``target`` (or [] if nothing fits).

    ``excluded``: bool per prefab, the counted kinds (counts.py), never filler. ``scene``: the
    archetype's (category weights, excluded tags, (scene tags, world type)), replacing the
    world type's palette and scene tags."""
    if target <= 0:
        return []
    memo = cache.table(cat, "palette_weights")
    banned = frozenset(np.flatnonzero(excluded).tolist()) if excluded is not None else frozenset()
    key = (world_type, env, has_water, theme, words, urban, banned, scene)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = _palette_weights(cat, world_type, env, has_water, theme, words, urban,
                                           banned, scene)
    ids, wv = hit
    if not ids:
        return []
    counts = np.floor(wv * target).astype(np.int64)
    rest = target - int(counts.sum())
    counts[np.argsort(-(wv * target - counts), kind="stable")[:rest]] += 1
    return [(i, int(n)) for i, n in zip(ids, counts, strict=True) if n > 0]


def _palette_weights(cat: Catalog, world_type: str, env: EnvironmentIntent, has_water: bool,
                     theme: frozenset[str], words: frozenset[str],
                     urban: bool, banned: frozenset[int] = frozenset(),
                     scene: Scene | None = None) -> tuple[list[int], np.ndarray]:
    """Filler prefab numbers and their normalised weights (cached per catalog and arguments)."""
    weights = dict.fromkeys(PALETTES[world_type], 0.0)
    weights.update(dict(scene[0]) if scene is not None else PALETTES[world_type])
    no_tags = scene[1] if scene is not None else frozenset()
    allowed = scene_fits(scene[2] if scene is not None else (frozenset(), world_type), world_type,
                         words, env)
    if env.time_of_day in ("night", "sunset"):
        weights["lighting"] *= 2.0
    biomes = wanted_biomes(words, env)
    theme = theme - GENERIC_TAGS
    rows: dict[str, list[tuple[int, float]]] = {}
    off_genre: dict[str, list[tuple[int, float]]] = {}
    for i, cname, tags, area in _candidates(cat):
        p = cat.prefabs[i]
        if i in banned or tags & no_tags or not fits_scene(p, allowed):
            continue
        if p.surface == "water" and not has_water:
            continue
        if scene is None and not urban and urban_only(p):
            continue  # a scene row's tags already say whether street furniture belongs
        f = _env_factor(tags, env, biomes, veto=not p.fits)
        if f == 0.0 or weights[cname] == 0.0:
            continue
        if p.surface == "water" and cname in ("animal", "person"):
            f *= 0.15  # fish and sharks: a few in the water, not a shoal in every pond
        elif p.surface == "water" and "marine" not in tags:
            f *= 0.4  # lily pads: a pond's edge, not a carpet over it
        if "desert" in biomes and cname in ("tree", "plant") and f == 1.0:
            f = 0.1  # a desert is sparse: lush plants only as a rare oasis touch
        f *= 1.0 + THEME_BOOST * min(2, len(tags & theme))
        into = rows if world_type in p.world_types else off_genre
        into.setdefault(cname, []).append((i, f * area))
    for cname, members in off_genre.items():  # stand-ins where nothing of the type fits
        rows.setdefault(cname, members)
    ids: list[int] = []
    w: list[float] = []
    for cname in sorted(rows):
        members = rows[cname]
        total = sum(r for _, r in members)
        for i, r in members:
            ids.append(i)
            w.append(weights[cname] * r / total)
    if not ids:
        return [], np.zeros(0)
    wv = np.array(w) / sum(w)
    wv.setflags(write=False)
    return ids, wv
