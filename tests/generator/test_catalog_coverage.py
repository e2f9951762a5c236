"""The shipped catalog serves the nouns of common prompts for every scene archetype.

Each row is (words of a noun phrase, world type, prefab ids of which the first match must be
one). The table is the catalog's coverage contract: a noun that drops out of it would again be
left out of a world without a prefab to stand for it.
"""
from __future__ import annotations

from collections import Counter

import pytest

from generator import WORLD_TYPES, Catalog, parse_prompt
from generator.lexicon import tokenize

COVERAGE: list[tuple[str, str, set[str]]] = [
    # animals
    ("camels", "nature", {"camel"}), ("pigs", "realistic", {"pig"}),
    ("goats", "realistic", {"goat"}), ("chickens", "realistic", {"chicken"}),
    ("ducks", "nature", {"duck"}), ("fish", "nature", {"fish_school", "reef_fish"}),
    ("sharks", "nature", {"shark"}), ("dolphins", "nature", {"dolphin"}),
    ("crabs", "nature", {"crab"}), ("seagulls", "realistic", {"seagull"}),
    ("penguins", "nature", {"penguin"}), ("monkeys", "nature", {"monkey"}),
    # underwater
    ("coral", "nature", {"coral", "brain_coral", "fan_coral"}), ("seaweed", "nature", {"seaweed"}),
    ("kelp", "nature", {"kelp"}), ("shipwreck", "nature", {"shipwreck"}),
    ("anemones", "nature", {"sea_anemone"}),
    # harbour
    ("quay", "realistic", {"stone_quay"}), ("dock", "realistic", {"wooden_pier", "dock_section"}),
    ("bollards", "realistic", {"mooring_bollard"}), ("crane", "realistic", {"harbor_crane"}),
    ("containers", "realistic", {"container_stack", "cargo_container"}),
    ("fishing boats", "realistic", {"fishing_boat"}), ("ferry", "realistic", {"ferry"}),
    ("buoys", "realistic", {"buoy"}),
    # castle
    ("castle walls", "fantasy", {"curtain_wall"}), ("gatehouse", "fantasy", {"castle_gatehouse"}),
    ("drawbridge", "fantasy", {"drawbridge"}), ("moat", "fantasy", {"moat_section"}),
    ("castle", "fantasy", {"fantasy_castle_keep"}), ("keep", "historical", {"fantasy_castle_keep"}),
    ("banners", "fantasy", {"heraldic_banner", "banner_pole"}),
    # beach
    ("sun umbrellas", "nature", {"sun_umbrella"}), ("beach chairs", "nature", {"beach_chair"}),
    ("lifeguard tower", "nature", {"lifeguard_tower"}), ("surfboards", "nature", {"surfboard"}),
    # snow and ski
    ("ski lift", "realistic", {"ski_lift_pylon", "ski_chairlift", "ski_lift_station"}),
    ("lodge", "realistic", {"ski_lodge"}), ("snowman", "realistic", {"snowman"}),
    ("skiers", "realistic", {"skier"}), ("sleds", "realistic", {"sled"}),
    # city
    ("streetlights", "urban", {"street_lamp"}), ("traffic lights", "urban", {"traffic_light"}),
    ("crosswalk", "urban", {"crosswalk"}), ("bus stop", "urban", {"bus_stop"}),
    ("taxis", "urban", {"urban_taxi"}), ("benches", "urban", {"park_bench"}),
    ("hydrants", "urban", {"fire_hydrant"}), ("office tower", "urban", {"office_tower"}),
    ("shops", "urban", {"urban_corner_shop", "supermarket"}),
    # farm
    ("crops", "realistic", {"crop_rows"}), ("hay bales", "realistic", {"hay_bale"}),
    ("barn", "realistic", {"realistic_red_barn"}), ("silo", "realistic", {"realistic_grain_silo"}),
    ("tractor", "realistic", {"realistic_tractor"}),
    # haunted and graveyard
    ("ghosts", "fantasy", {"ghost"}), ("dead trees", "fantasy", {"dead_tree"}),
    ("gravestones", "fantasy", {"gravestone"}), ("crypt", "fantasy", {"crypt"}),
    ("iron fence", "historical", {"iron_fence"}), ("jack o lanterns", "fantasy", {"jack_o_lantern"}),
    # desert, oasis, wild west
    ("palm trees", "nature", {"palm_tree"}), ("dunes", "nature", {"sand_dune"}),
    ("saloon", "historical", {"saloon"}), ("water tank", "historical", {"water_tower"}),
    ("wagon", "historical", {"covered_wagon", "fantasy_horse_cart"}),
    # temple, military, industry, space
    ("jungle temple", "historical", {"jungle_temple"}), ("sandbags", "realistic", {"sandbag_wall"}),
    ("tank", "realistic", {"tank"}), ("soldiers", "realistic", {"soldier"}),
    ("factory", "urban", {"factory"}), ("smokestacks", "urban", {"smokestack"}),
    ("forklifts", "urban", {"forklift"}), ("habitat", "space", {"habitat_module", "scifi_habitat_dome"}),
    ("antenna", "space", {"antenna_mast"}), ("docking bay", "space", {"docking_bay"}),
    # campsite, market, bridges, landforms
    ("log seats", "nature", {"log_seat"}), ("carts", "historical", {"fantasy_horse_cart", "vendor_cart"}),
    ("bridge", "realistic", {"concrete_bridge", "wooden_footbridge"}),
    ("volcano", "nature", {"volcano"}), ("cave", "nature", {"cave_entrance"}),
]


def test_shipped_catalog_has_at_least_320_prefabs_and_every_world_type(catalog_json: dict) -> None:
    prefabs = catalog_json["prefabs"]
    assert len(prefabs) >= 320
    per_world = Counter(w for p in prefabs for w in p["world_types"])
    assert all(per_world[w] >= 30 for w in WORLD_TYPES), per_world


@pytest.mark.parametrize(("words", "world_type", "expected"), COVERAGE,
                         ids=[f"{w}-{t}" for w, t, _ in COVERAGE])
def test_a_common_prompt_noun_is_served_by_its_own_prefab(catalog: Catalog, words: str,
                                                          world_type: str,
                                                          expected: set[str]) -> None:
    terms = tuple(tokenize(words))
    m = catalog.retrieval.match(terms, (), world_type, single=not words.endswith("s"))
    assert m is not None, words
    assert m.prefab_ids[0] in expected, m.prefab_ids


def test_counted_new_nouns_keep_their_own_word_and_number(catalog: Catalog) -> None:
    it = parse_prompt("a desert oasis with seven camels, palm trees and tents", catalog)
    camels = [r for r in it.requests if r.terms == ("camels",)]
    assert camels and camels[0].count == 7
    it = parse_prompt("a farm with ten cows, four pigs and six chickens", catalog)
    counts = {r.terms[-1]: r.count for r in it.requests}
    assert (counts.get("pigs"), counts.get("chickens")) == (4, 6), counts


@pytest.mark.parametrize("prompt", [
    "a fishing village by a lake", "a military outpost", "an underwater world",
    "a ski resort", "a western town", "a busy port", "a sandy beach at sunset",
])
def test_setting_words_are_not_prefab_nouns(catalog: Catalog, prompt: str) -> None:
    # setting adjectives stay out of names and tags (they live in descriptions), so the parser
    # never turns "fishing" or "military" into an object of its own
    words = {w for r in parse_prompt(prompt, catalog).requests for w in r.terms}
    assert not words & {"fishing", "military", "underwater", "ski", "western", "port", "sandy"}


def test_sea_life_is_tagged_marine_and_floats_or_swims_on_water(catalog: Catalog) -> None:
    marine = [p for p in catalog.prefabs if "marine" in p.tags]
    assert len(marine) >= 15
    assert all(p.surface == "water" for p in marine), [p.id for p in marine if p.surface != "water"]


def test_castle_towers_are_castle_towers(catalog: Catalog) -> None:
    m = catalog.retrieval.match(("towers",), ("medieval",), "historical", single=False)
    assert m is not None and "water_tower" not in m.prefab_ids
    assert {"round_tower", "wall_corner_tower"} <= set(m.prefab_ids), m.prefab_ids
