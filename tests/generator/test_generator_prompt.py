from __future__ import annotations

import pytest

from generator import Catalog, GeneratorError, Intent, IntentError, parse_prompt


def test_seed_prompts_get_the_expected_world_types(catalog: Catalog) -> None:
    assert parse_prompt("futuristic space station with alien technology", catalog).world_type == "sci_fi"
    assert parse_prompt("A mystical forest with ancient trees and glowing mushrooms",
                        catalog).world_type == "fantasy"
    assert parse_prompt("a lunar base on the moon with craters", catalog).world_type == "space"
    assert parse_prompt("a busy downtown city street", catalog).world_type == "urban"


def test_explicit_world_type_wins_and_unknown_one_is_rejected(catalog: Catalog) -> None:
    assert parse_prompt("a castle", catalog, "space").world_type == "space"
    with pytest.raises(GeneratorError):
        parse_prompt("a castle", catalog, "steampunk")


@pytest.mark.parametrize("prompt,count,exact", [
    ("three towers", 3, True), ("a dozen knights", 12, True), ("17 trees", 17, True),
    ("a few deer", 3, False), ("several robots", 5, False), ("many rocks", 14, False),
    ("a couple of boats", 2, True), ("a castle", 1, True), ("the castle", 1, True),
    ("a herd of cows", 7, False),
])
def test_counts_attach_to_the_next_noun(catalog: Catalog, prompt: str, count: int,
                                        exact: bool) -> None:
    req = parse_prompt(prompt, catalog).requests[0]
    assert (req.count, req.exact) == (count, exact)


def test_huge_counts_are_capped_with_a_warning(catalog: Catalog) -> None:
    intent = parse_prompt("5000 trees", catalog)
    assert intent.requests[0].count == 200
    assert any("capped" in w for w in intent.warnings)


def test_relations_are_resolved_to_subjects_and_anchors(catalog: Catalog) -> None:
    it = parse_prompt("three towers around a lake", catalog)
    assert (it.relations[0].kind, it.relations[0].feature) == ("around", "lake")
    it = parse_prompt("a castle surrounded by 12 oak trees", catalog)
    rel = it.relations[0]
    assert (rel.kind, it.requests[rel.subject].terms, rel.anchor) == ("around", ("oak", "trees"), 0)
    it = parse_prompt("a wizard tower north of the village", catalog)
    assert (it.relations[0].kind, it.relations[0].direction) == ("direction", "north")
    it = parse_prompt("houses along the river", catalog)
    assert (it.relations[0].kind, it.relations[0].feature) == ("along", "river")
    it = parse_prompt("standing stones in a circle", catalog)
    assert it.relations[0].kind == "ring"


def test_environment_and_size_words(catalog: Catalog) -> None:
    it = parse_prompt("a snowy village at night in a storm", catalog)
    assert (it.environment.time_of_day, it.environment.weather, it.environment.season) == (
        "night", "snow", "winter")
    assert parse_prompt("a vast forest", catalog).size_factor > 1.5
    assert parse_prompt("a small village", catalog).size_factor < 1.0


def test_unknown_words_are_ignored_and_empty_prompt_is_an_error(catalog: Catalog) -> None:
    assert parse_prompt("xyzzy plugh frobnicate", catalog).requests == ()
    with pytest.raises(GeneratorError):
        parse_prompt("   ", catalog)


def test_intent_round_trips_through_json_and_validates(catalog: Catalog) -> None:
    it = parse_prompt("a castle surrounded by 12 oak trees at sunset", catalog)
    assert Intent.from_dict(it.to_dict()) == it
    bad = it.to_dict()
    bad["relations"][0]["subject"] = 99
    with pytest.raises(IntentError):
        Intent.from_dict(bad)
