from __future__ import annotations

from generator import Catalog
from generator.lexicon import canonical, lemma


def test_lemmas_handle_regular_and_irregular_plurals() -> None:
    assert [lemma(w) for w in ["trees", "torches", "berries", "wolves", "houses", "cacti",
                               "glass", "taxis"]] == [
        "tree", "torch", "berry", "wolf", "house", "cactus", "glass", "taxi"]


def test_synonyms_map_onto_catalog_words() -> None:
    assert canonical("turrets") == "tower"
    assert canonical("toadstools") == "mushroom"


def test_plural_tree_request_offers_several_tree_prefabs(catalog: Catalog) -> None:
    m = catalog.retrieval.match(("trees",), (), "nature", single=False)
    assert m is not None and len(m.prefab_ids) >= 2
    assert all("tree" in pid for pid in m.prefab_ids)
    assert abs(sum(m.weights) - 1.0) < 1e-9


def test_turret_matches_towers_and_attributes_steer_the_choice(catalog: Catalog) -> None:
    m = catalog.retrieval.match(("turret",), (), "fantasy", single=True)
    assert m is not None and "tower" in m.prefab_ids[0]
    m = catalog.retrieval.match(("mushrooms",), ("glowing",), "fantasy", single=True)
    assert m is not None and m.prefab_ids[0] == "glowing_mushrooms"
    m = catalog.retrieval.match(("pine", "trees"), ("snowy",), "nature", single=True)
    assert m is not None and m.prefab_ids[0] == "snowy_pine_tree"


def test_unknown_nouns_do_not_match(catalog: Catalog) -> None:
    assert catalog.retrieval.match(("zibble",), (), "fantasy", single=True) is None
