"""Whole-world counts, honest warnings, scene archetypes and text (docs/generator.md,
"Count semantics" and "Scene archetypes")."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from generator_testutil import load_catalog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import Catalog, plan
from generator.archetypes import ARCHETYPES, BY_NAME
from generator.counts import answer_set
from generator.evaluate import evaluate_prompts, evaluate_world, failures, read_prompts
from generator.terrain import WATER

SCENES = Path(__file__).parents[1] / "data" / "scene_prompts.txt"
_CATALOG = load_catalog()


def _kind_total(wp, terms: tuple[str, ...]) -> int:  # type: ignore[no-untyped-def]
    answers = answer_set(wp.catalog, terms)
    return sum(wp.catalog.index[i.prefab_id] in answers for i in wp.instances)


@pytest.mark.parametrize("prompt,terms,n", [
    ("a campfire, a stream and three deer", ("deer",), 3),
    ("a busy downtown with six taxis", ("taxi",), 6),
    ("ten cows on a farm", ("cow",), 10),
    ("one tractor on a farm", ("tractor",), 1),
    ("a lake with two kayaks", ("kayak",), 2),
    ("a harbour with five fishing boats", ("boat",), 5),
    ("a treasure chest in a cave", ("treasure", "chest"), 1),
])
def test_a_number_is_the_count_of_its_kind_in_the_whole_world(catalog: Catalog, prompt: str,
                                                               terms: tuple[str, ...],
                                                               n: int) -> None:
    for seed in (1, 2):
        assert _kind_total(plan(prompt, seed=seed, catalog=catalog, budget=800), terms) == n


@pytest.mark.parametrize("prompt,word,kept", [
    ("seven giraffes, palm trees", "giraffes", "palm trees"),
    ("eight trombones and snowy pine trees", "trombones", "snowy pine trees"),
    ("two zombies and dead trees", "zombies", "dead trees"),
    ("cows, jaguars and sheep on a farm", "jaguars", "cows"),
])
def test_unknown_nouns_are_warned_by_their_own_word_and_keep_their_number(
        catalog: Catalog, prompt: str, word: str, kept: str) -> None:
    wp = plan(prompt, seed=1, catalog=catalog, budget=300)
    assert f"no prefab for {word!r}; left out" in wp.header.warnings
    row = next(t for t in wp.header.trace if t["phrase"] == kept)
    assert row["requested"] is None  # the number did not move on to the next noun
    assert evaluate_world(wp)["unwarned"] == 0


def test_a_short_count_warning_names_the_phrase_and_its_number(catalog: Catalog) -> None:
    wp = plan("40 castles", seed=1, catalog=catalog, budget=20)
    assert not any("None" in w for w in wp.header.warnings)
    assert any("castle" in w for w in wp.header.warnings)


@pytest.mark.parametrize("prompt,bad", [
    ("futuristic space station", "space space"),
    ("a beach with a palm tree", "a palm trees"),
    ("an underwater reef with schools of fish", "a schools"),
    ("seven giraffes, palm trees", "Giraffes Palm"),
])
def test_titles_and_descriptions_read_as_english(catalog: Catalog, prompt: str, bad: str) -> None:
    h = plan(prompt, seed=1, catalog=catalog, budget=300).header
    assert bad not in h.title and bad not in h.description, (h.title, h.description)


def test_there_are_at_least_24_archetypes_each_reached_by_its_own_words() -> None:
    assert len(ARCHETYPES) >= 24
    names = {a.name for a in ARCHETYPES}
    assert {"city_street", "harbour", "castle", "moon_base", "underwater", "wild_west"} <= names


@pytest.mark.parametrize("prompt,scene,world_type", [
    ("a haunted house", "graveyard", "fantasy"),
    ("an underwater reef with schools of fish", "underwater", "realistic"),
    ("a lunar base with astronauts", "moon_base", "space"),
    ("a busy downtown with six taxis", "city_street", "urban"),
    ("a harbour with five fishing boats", "harbour", "realistic"),
    ("a wild west town with a saloon", "wild_west", "historical"),
])
def test_setting_words_pick_the_scene_and_its_world_type(catalog: Catalog, prompt: str,
                                                         scene: str, world_type: str) -> None:
    h = plan(prompt, seed=1, catalog=catalog, budget=200).header
    assert h.environment_settings["scene"]["archetype"] == scene
    assert h.world_type == world_type


def test_a_moon_base_has_no_sea_and_a_harbour_no_farm_animals(catalog: Catalog) -> None:
    moon = plan("a moon base with a docking bay", seed=1, catalog=catalog, budget=400)
    assert not (moon.extras["terrain"].flags & WATER).any()
    harbour = plan("a harbour with five fishing boats", seed=1, catalog=catalog, budget=800)
    tags = {t for i in harbour.instances for t in catalog.get(i.prefab_id).tags}
    assert not tags & {"cow", "sheep", "horse", "wolf", "deer"}
    assert evaluate_world(harbour)["excluded"] == 0
    # asked-for kinds win over the scene's exclusions
    cows = plan("three cows in a harbour", seed=1, catalog=catalog, budget=400)
    assert sum(i.prefab_id == "cow" for i in cows.instances) == 3


def test_city_vehicles_stand_on_the_street_grid(catalog: Catalog) -> None:
    wp = plan("a busy downtown with six taxis", seed=3, catalog=catalog, budget=800)
    assert len(wp.extras["terrain"].roads) >= 3
    assert evaluate_world(wp)["offroad"] == 0


def test_a_castle_gets_walls_and_a_moat(catalog: Catalog) -> None:
    wp = plan("a castle with a moat", seed=1, catalog=catalog, budget=600)
    assert any(i.prefab_id == "stone_wall_section" for i in wp.instances)
    assert (wp.extras["terrain"].flags & WATER).any()
    assert not any("moat" in w for w in wp.header.warnings)
    row = evaluate_world(wp)
    assert row["landmarks_reached"] == row["landmarks_total"]


def test_the_scene_corpus_has_150_prompts_and_passes_all_but_relations(catalog: Catalog) -> None:
    prompts = read_prompts(SCENES.read_text())
    assert len(prompts) >= 150
    rows = evaluate_prompts(prompts, catalog, seeds=(1,), budget=300)
    assert [f for f in failures(rows) if not f.startswith("relations")] == []


_NOUNS = ("deer", "cow", "sheep", "boat", "tent", "knight", "barrel", "rock", "tree", "castle",
          "house", "taxi", "robot", "gravestone", "lantern")
_SCENES = ("", "on a farm", "in a harbour", "in a busy downtown", "in a forest", "at a campsite",
           "on the moon", "in a graveyard", "by a lake", "in a desert")
_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "4", 5: "five", 6: "6", 7: "seven", 12: "a dozen"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(picks=st.lists(st.tuples(st.sampled_from(_NOUNS), st.sampled_from(sorted(_NUMBERS))),
                      min_size=1, max_size=3, unique_by=lambda t: t[0]),
       scene=st.sampled_from(_SCENES), seed=st.integers(0, 2**31),
       unknown=st.sampled_from(["", "zorbles", "giraffes"]))
def test_counted_kinds_hold_in_the_whole_world_for_random_prompts(
        picks: list[tuple[str, int]], scene: str, seed: int, unknown: str) -> None:
    parts = [f"{_NUMBERS[n]} {noun if n == 1 else noun + 's'}" for noun, n in picks]
    if unknown:
        parts.insert(0, f"three {unknown}")
    prompt = ", ".join(parts) + (" " + scene if scene else "")
    wp = plan(prompt, seed=seed, catalog=_CATALOG, budget=600)
    row = evaluate_world(wp)
    assert row["exact_ok"] == row["exact_total"], (prompt, wp.header.trace, wp.header.warnings)
    assert row["unwarned"] == 0 and row["excluded"] == 0, prompt
    if unknown:
        assert any(unknown in w for w in wp.header.warnings)
    assert BY_NAME[wp.header.environment_settings["scene"]["archetype"]] is not None


def test_a_harbour_has_piers_into_the_water_and_boats_moored_off_the_quay(catalog: Catalog) -> None:
    wp = plan("a harbour with five fishing boats", seed=2, catalog=catalog, budget=800)
    ter = wp.extras["terrain"]
    piers = [i for i in wp.instances if {"pier", "dock"} & set(catalog.get(i.prefab_id).tags[:2])]
    assert len(piers) >= 3
    boats = [i for i in wp.instances if "boat" in catalog.get(i.prefab_id).tags]
    gap = [float(ter.coast.centre(np.array([b.pos[0]]))[0]) - b.pos[2] for b in boats]
    assert boats and all(g > 0 for g in gap)  # on the water side of the shore line


def test_tents_ring_the_camp_fire_and_stalls_ring_the_market(catalog: Catalog) -> None:
    wp = plan("a campfire with three tents", seed=1, catalog=catalog, budget=800)
    fire = next(i for i in wp.instances if i.prefab_id == "campfire")
    tents = [i for i in wp.instances if "tent" in catalog.get(i.prefab_id).tags]
    d = [math.hypot(t.pos[0] - fire.pos[0], t.pos[2] - fire.pos[2])
         for t in tents]
    assert len(tents) == 3 and max(d) < 25
    market = plan("a market square with a fountain", seed=1, catalog=catalog, budget=800)
    stalls = [i for i in market.instances if i.prefab_id == "market_stall"]
    assert len(stalls) >= 6
    assert evaluate_world(market)["landmarks_reached"] == evaluate_world(market)["landmarks_total"]


def test_a_farm_has_a_fenced_paddock_and_gravestones_stand_in_rows(catalog: Catalog) -> None:
    farm = plan("ten cows on a farm", seed=1, catalog=catalog, budget=800)
    assert sum("fence" in catalog.get(i.prefab_id).tags for i in farm.instances) >= 8
    graves = plan("a graveyard with a chapel", seed=1, catalog=catalog, budget=800)
    rows = {round(i.pos[2], 1) for i in graves.instances if i.prefab_id == "gravestone"}
    assert 3 <= len(rows) <= 8  # a few rows, not scattered


def test_eval_fails_on_any_broken_rule_and_passes_a_clean_corpus(catalog: Catalog) -> None:
    from generator.cli_support import eval_report
    text, passed = eval_report("a busy downtown with six taxis\nten cows on a farm\n", catalog,
                               seeds=(1,), budget=300)
    assert passed and "FAILED" not in text, text
    rows = evaluate_prompts(["ten cows on a farm"], catalog, seeds=(1,), budget=300)
    for key in ("excluded", "unwarned", "offroad", "overlaps"):
        broken = [{**rows[0], key: 1}]
        assert any(f.startswith(key) for f in failures(broken))
    short = [{**rows[0], "exact_ok": rows[0]["exact_total"] - 1}]
    assert any("whole-world counts" in f for f in failures(short))
    weak = [{**rows[0], "relations_ok": 90, "relations_total": 100}]
    assert any(f.startswith("relations") for f in failures(weak))
