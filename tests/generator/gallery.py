"""The gallery (docs/gallery.md): one prompt per scene archetype, its text and its map.

``python tests/generator/gallery.py`` regenerates every map in docs/img/gallery/ and the
generated part of docs/gallery.md (each archetype's section); the hand-written introduction and
"What is still wrong" stay as they are. test_gallery.py checks that the document matches the
generator's current output, so a change of output that is not regenerated here fails a test.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from generator_testutil import load_catalog  # noqa: E402

from generator import GENERATOR_VERSION, Catalog, plan  # noqa: E402
from generator.archetypes import BY_NAME  # noqa: E402
from generator.counts import world_count  # noqa: E402
from generator.evaluate import evaluate_world  # noqa: E402
from generator.render import render_png  # noqa: E402
from generator.stream import WorldPlan  # noqa: E402

DOC = ROOT / "docs" / "gallery.md"
IMG = ROOT / "docs" / "img" / "gallery"
SEED, BUDGET, PX = 1, 2000, 640
START, END = "<!-- gallery: generated -->", "<!-- gallery: end -->"

GALLERY: tuple[tuple[str, str], ...] = (
    ("city_street", "a busy downtown with six taxis"),
    ("cyberpunk_city", "a rainy neon cyberpunk city with hover cars"),
    ("suburb", "a quiet suburb with houses, mailboxes and a playground"),
    ("village", "a medieval village with a well and two taverns"),
    ("farm", "ten cows on a farm"),
    ("harbour", "a harbour with five fishing boats"),
    ("beach", "a sandy beach with two kayaks and 5 palm trees"),
    ("lake_shore", "a lakeside with a wooden pier and 2 rowboats"),
    ("river_valley", "a river valley with reeds and 6 deer"),
    ("forest", "a dark forest with 3 wolves and a bear"),
    ("jungle", "a jungle with vines and 4 parrots"),
    ("desert", "a desert oasis with palm trees and seven camels"),
    ("snow", "a ski resort with a lodge, a ski lift and eight skiers"),
    ("mountain", "a mountain peak with cliffs and 4 boulders"),
    ("cave", "a crystal cavern with glowing mushrooms and 3 dwarves"),
    ("volcanic", "a volcano with lava pools and smoke"),
    ("graveyard", "a spooky cemetery with 13 gravestones and a crypt"),
    ("castle", "a castle with a moat and a drawbridge"),
    ("market", "a market square with a fountain and 5 merchants"),
    ("park", "a park with benches, tulips and a playground"),
    ("campsite", "a campfire with three tents"),
    ("military", "a military outpost with floodlights and cargo containers"),
    ("industrial", "an industrial factory with warehouses and steam vents"),
    ("space_station", "a space station with a docking bay and 2 shuttles"),
    ("moon_base", "a lunar base with astronauts, moon rovers and craters"),
    ("alien_planet", "an alien planet with alien plants, crystals and a crashed spaceship"),
    ("underwater", "an underwater reef with schools of fish"),
    ("wild_west", "a wild west town with a saloon and horses"),
    ("temple", "ancient ruins with broken columns and 2 statues"),
)


def world(catalog: Catalog, prompt: str) -> WorldPlan:
    return plan(prompt, seed=SEED, catalog=catalog, budget=BUDGET)


def section(name: str, prompt: str, wp: WorldPlan) -> str:
    """The gallery's section for one archetype, from the world alone."""
    h = wp.header
    row = evaluate_world(wp)
    intent, reqs, cat = wp.extras["intent"], wp.extras["requests"], wp.catalog
    pidx = np.array([cat.index[i.prefab_id] for i in wp.instances], dtype=np.int64)
    group = wp.columns["group"]
    live = [i for i, r in enumerate(reqs) if r is not None]
    counts = []
    for i, kr in enumerate(intent.requests):
        if kr.count is None or reqs[i] is None or reqs[i].settlement is not None:
            continue
        n = world_count(cat, kr.terms, pidx, group, i, [j for j in live if j != i])
        asked = f"{kr.count_range[0]}-{kr.count_range[1]}" if kr.count_range else str(kr.count)
        plain = h.trace[i]["requested"] is None  # a plural without a number: its range
        counts.append(f"{kr.phrase} {n} ({'no number: ' if plain else 'asked '}{asked})")
    arch = BY_NAME[name]
    warnings = "; ".join(h.warnings) if h.warnings else "none"
    return "\n".join((
        f"## {arch.label.title()} (`{name}`)", "",
        f"Prompt: \"{prompt}\" — **{h.title}**, {h.world_type}, {len(wp)} instances.", "",
        h.description, "",
        f"Whole-world counts: {', '.join(counts) if counts else 'no number asked'}. "
        f"Warnings: {warnings}. Checks: overlaps {row['overlaps']}, "
        f"excluded kinds {row['excluded']}, vehicles off road {row['offroad']}, "
        f"relations {row['relations_ok']}/{row['relations_total']}.", "",
        f"![{name}](img/gallery/{name}.png)", ""))


def generated(catalog: Catalog) -> tuple[str, dict[str, bytes]]:
    """(the generated part of docs/gallery.md, PNG bytes per archetype)."""
    parts, pngs = [], {}
    for name, prompt in GALLERY:
        wp = world(catalog, prompt)
        parts.append(section(name, prompt, wp))
        pngs[name] = render_png(wp, size_px=PX)
    return "\n".join(parts), pngs


def splice(doc: str, body: str) -> str:
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n\n{body}\n{END}{tail}"


def main() -> None:
    text, pngs = generated(load_catalog())
    IMG.mkdir(parents=True, exist_ok=True)
    for name, data in pngs.items():
        (IMG / f"{name}.png").write_bytes(data)
    DOC.write_text(splice(DOC.read_text(encoding="utf-8"), text), encoding="utf-8")
    print(f"gallery: {len(pngs)} maps, generator {GENERATOR_VERSION}")


if __name__ == "__main__":
    main()
