"""Issue #13, generator 1.6.0: worlds that say what the prompt says (docs/generator.md).

Scene-fitting retrieval and evenly spaced rings for exact counts, clustered filler, ranges for
uncounted plurals, scene choice, compound nouns in the text, a lava lake, swimming heights."""
from __future__ import annotations

import math

import numpy as np
import pytest

from generator import Catalog, plan
from generator.evaluate import evaluate_world

TOWERS = "a small village with three towers around a lake at sunset"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_three_towers_around_a_lake_are_village_towers_round_the_whole_lake(
        catalog: Catalog, seed: int) -> None:
    wp = plan(TOWERS, seed=seed, catalog=catalog, budget=800)
    row = next(t for t in wp.header.trace if t["phrase"] == "towers")
    assert "lifeguard_tower" not in row["prefab_ids"]
    assert row["prefab_ids"][0] == "fantasy_stone_watchtower"
    assert row["placed"] == 3
    lake = wp.extras["terrain"].lake
    towers = [i for i in wp.instances if i.prefab_id in row["prefab_ids"]]
    ang = np.sort([math.atan2(i.position[2] - lake[1], i.position[0] - lake[0])
                   for i in towers])
    gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * math.pi]))
    assert gaps.max() < math.pi, gaps  # evenly spaced: ~120 degrees each, not two together
    ev = evaluate_world(wp)
    assert ev["relations_ok"] == ev["relations_total"] == 1


def test_retrieval_prefers_what_fits_the_scene(catalog: Catalog) -> None:
    m = catalog.retrieval.match(("towers",), (), "historical", single=False,
                                fits=frozenset({"medieval", "rural", "temperate"}))
    assert m is not None and m.prefab_ids[0] == "fantasy_stone_watchtower"
    beach = catalog.retrieval.match(("tower",), (), "realistic", single=True,
                                    fits=frozenset({"beach", "coast"}))
    assert beach is not None and beach.prefab_ids[0] in ("lifeguard_tower", "historical_lighthouse")
