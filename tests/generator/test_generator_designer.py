"""What a game designer saw wrong in the gallery, each pinned by a test that failed before its
fix (docs/gallery.md, "What is still wrong" lists what is left)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from generator import Catalog, parse_prompt, plan
from generator.evaluate import evaluate_world
from generator.palette import category
from generator.terrain import WATER, WATER_LEVEL, WET_MARGIN
from generator.terrain_wire import decode_terrain
from generator.walk import bfs, blocked_grid, start_cell


def _ids(wp) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(i.prefab_id for i in wp.instances)


# -- 1. a reef is a submerged floor, its life on the seabed -----------------------------------
def test_a_reef_is_a_seabed_with_its_life_standing_on_the_floor(catalog: Catalog) -> None:
    wp = plan("an underwater reef with schools of fish", seed=1, catalog=catalog, budget=800)
    header = wp.header.to_dict()
    assert "seabed" in header["terrain"]["features"]
    ter = decode_terrain(header["terrain"])
    assert ter is not None and ter.seabed and bool(((ter.flags & WATER) != 0).all())
    c = wp.columns
    ground = ter.height_at(c["x"], c["z"])
    wet = np.array([catalog.surface[int(p)] == "water" for p in c["pidx"]])
    assert wet.sum() > 0.5 * wet.size  # coral, kelp, fish: sea life, on ...
    # ... the floor, as everything else, except what swims: placement.swim above it (1.6.0)
    swim = catalog.swim[c["pidx"]]
    lift = np.maximum(ground, np.minimum(ground + swim, WATER_LEVEL - catalog.height[c["pidx"]]))
    assert np.abs(c["y"] - lift).max() <= 0.01
    assert (swim[wet] == 0).any() and (c["y"] - ground > 1.0).any()
    assert (c["y"] <= WATER_LEVEL - WET_MARGIN).all()
    spawn = header["spawn_points"][0]
    assert abs(spawn["y"] - float(ter.height_at(np.array(spawn["x"]), np.array(spawn["z"])))) <= 0.01
    # nothing of the land: no villagers, dogs or campfires on the sea floor
    kinds = {catalog.get(i.prefab_id).id for i in wp.instances}  # type: ignore[union-attr]
    assert not kinds & {"villager", "dog", "cat", "farmer", "campfire", "smoke_plume"}
    row = evaluate_world(wp)
    assert row["forbidden"] == row["off_surface"] == row["overlaps"] == 0 and row["spawn_ok"]


# -- 2. the castle's drawbridge spans the moat at the gate ------------------------------------
def test_an_asked_for_drawbridge_spans_the_moat_in_the_gate(catalog: Catalog) -> None:
    wp = plan("a castle with a moat and a drawbridge", seed=1, catalog=catalog, budget=2000)
    ter = wp.extras["terrain"]
    assert ter.lake is None  # no pond of its own
    bridges = [i for i in wp.instances if i.prefab_id == "drawbridge"]
    castle = next(i for i in wp.instances if i.prefab_id.startswith("fantasy_castle"))
    assert len(bridges) == 1
    bx, _, bz = bridges[0].pos
    assert abs(bx - castle.pos[0]) < 4.0 and bz < castle.pos[2]  # the south gate
    # under the deck is the moat's water, and the deck is the one way in: the keep is
    # reachable from the spawn, and would not be without the bridge
    i, j = ter.index(np.array([bx])), ter.index(np.array([bz]))
    assert ter.flags[int(i[0]), int(j[0])] & WATER
    row = evaluate_world(wp)
    assert row["landmarks_reached"] == row["landmarks_total"] and row["forbidden"] == 0
    sp = wp.header.spawn_points[0]
    blocked = blocked_grid(ter)
    s = start_cell(ter, sp["x"], sp["z"])
    keep = start_cell(ter, bx, bz + 6.5)  # inside the gate, past the deck
    assert bfs(blocked, s)[keep] >= 0
    ter.flags &= np.uint8(~32 & 0xFF)  # without the deck (BRIDGE) the moat closes the castle
    assert bfs(blocked_grid(ter), s)[keep] < 0


def test_a_castle_reads_as_walls_and_moat_not_as_a_forest_of_people(catalog: Catalog) -> None:
    wp = plan("a castle with a moat and a drawbridge", seed=1, catalog=catalog, budget=2000)
    cats = Counter(category(catalog.get(i.prefab_id)) for i in wp.instances)  # type: ignore[arg-type]
    assert cats["person"] + cats["animal"] < 0.06 * len(wp)
    assert cats["tree"] < 0.12 * len(wp)


# -- 3. small settlements ---------------------------------------------------------------------
@pytest.mark.parametrize("prompt", ["a tiny hamlet with two cottages",
                                    "a small village with three houses",
                                    "a hamlet with a cottage"])
def test_a_small_settlement_with_counted_houses_is_still_a_settlement(catalog: Catalog,
                                                                       prompt: str) -> None:
    wp = plan(prompt, seed=1, catalog=catalog, budget=500)
    trace = wp.header.trace
    assert trace[0]["placed"] >= 1, trace  # the settlement stands (its well at least)
    town = wp.extras["requests"][0]
    centre = np.array(town.anchor_xz)
    group = wp.columns["group"]
    xs = wp.columns["x"][group == 1]
    zs = wp.columns["z"][group == 1]
    # the counted houses stand round the settlement's centre, not anywhere in the world
    assert (np.hypot(xs - centre[0], zs - centre[1]) < 60.0).all()


# -- 4. the harbour's open water ---------------------------------------------------------------
def test_harbour_water_holds_boats_not_reef_life(catalog: Catalog) -> None:
    wp = plan("a harbour with five fishing boats", seed=1, catalog=catalog, budget=2000)
    on_water = Counter(i.prefab_id for i in wp.instances
                       if catalog.surface[catalog.index[i.prefab_id]] == "water")
    assert not {"scuba_diver", "reef_rock", "seaweed", "kelp", "coral"} & set(on_water), on_water
    boats = sum(n for pid, n in on_water.items()
                if catalog.get(pid).type == "vehicle")  # type: ignore[union-attr]
    assert boats == 5


# -- 5. commas keep phrases apart --------------------------------------------------------------
@pytest.mark.parametrize("prompt,phrases", [
    ("walls of stone, towers", ["walls", "stone", "towers"]),
    ("crystal, mushrooms", ["crystal", "mushrooms"]),
    ("stone, bridges", ["stone", "bridges"]),
    ("a village with stone, wooden houses", ["village", "stone", "wooden houses"]),
    ("a farm with hay, bales and cows", ["hay", "bales", "cows"]),
])
def test_comma_and_and_separated_nouns_stay_separate(catalog: Catalog, prompt: str,
                                                     phrases: list[str]) -> None:
    intent = parse_prompt(prompt, catalog)
    assert [r.phrase for r in intent.requests] == phrases
    assert all(r.count is None for r in intent.requests if r.phrase != "village")


# -- 6. compound nouns that start with a terrain word ------------------------------------------
@pytest.mark.parametrize("prompt,feature", [
    ("a water tower and a farm", "lake"), ("a farm with a water tower and cows", "lake"),
    ("a sea turtle", "coast"), ("a river boat", "river"), ("street lamps", "road"),
])
def test_a_compound_noun_with_a_terrain_word_makes_no_terrain(catalog: Catalog, prompt: str,
                                                              feature: str) -> None:
    wp = plan(prompt, seed=1, catalog=catalog, budget=200)
    assert feature not in wp.header.terrain["features"]
    if "water tower" in prompt:
        assert wp.header.trace[0]["prefab_ids"] == ["water_tower"]


# -- 7. / 8. titles and descriptions -----------------------------------------------------------
@pytest.mark.parametrize("prompt,title", [
    ("a harbour with boats, taxis and a lighthouse", "Harbour with Lighthouse"),
    ("a market square with a fountain and 5 merchants", "Market Square with Fountain"),
    ("ancient ruins with broken columns and 2 statues", "Ancient Ruins with Statues"),
    ("an alien planet with alien plants, crystals and a crashed spaceship",
     "Alien Planet with Crashed Spaceship"),
])
def test_a_title_names_the_scene_the_prompt_names(catalog: Catalog, prompt: str,
                                                  title: str) -> None:
    assert plan(prompt, seed=1, catalog=catalog, budget=300).header.title == title


@pytest.mark.parametrize("prompt,starts,bad", [
    ("a dark forest with 3 wolves and a bear", "A dark forest,", ["forests", "nature"]),
    ("a jungle with vines and 4 parrots", "A jungle,", ["jungles", "nature"]),
    ("ancient ruins with broken columns and 2 statues", "Ancient ruins,",
     ["ancient ruins,", "statues with"]),
    ("a lunar base with astronauts, moon rovers and craters", "A lunar base,",
     ["a lunar base,", "(summer)"]),
    ("a crystal cavern with glowing mushrooms and 3 dwarves", "A fantasy crystal cavern,",
     ["with a crystal cavern", "(summer)"]),
    ("an industrial factory with warehouses and steam vents", "An industrial factory,",
     ["an industrial factory,", "urban"]),
    ("a volcano with lava pools and smoke", "A fantasy volcano,", ["a smoke", "a volcano,"]),
    ("an alien planet with alien plants, crystals and a crashed spaceship", "An alien planet,",
     ["(summer)"]),
    ("a space station with a docking bay and 2 shuttles", "A space station,", ["(summer)"]),
    ("an underwater reef with schools of fish", "An underwater reef,", ["(summer)"]),
])
def test_descriptions_read_as_english_and_count_no_setting_words(catalog: Catalog, prompt: str,
                                                                 starts: str,
                                                                 bad: list[str]) -> None:
    text = plan(prompt, seed=1, catalog=catalog, budget=600).header.description
    assert text.startswith(starts), text
    rest = text[len(starts):]
    assert not [b for b in bad if b in rest], text
