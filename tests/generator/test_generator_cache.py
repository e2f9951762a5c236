"""Per-catalog caches (generator/cache.py): warm output == cold output; invalidation by catalog
identity and version."""
from __future__ import annotations

import json

from generator_testutil import CATALOG_PATH

from generator import Catalog, cache, plan
from generator.evaluate import world_digest

PROMPTS = ("a small village with three towers around a lake at sunset",
           "a busy downtown with skyscrapers, taxis and pedestrians along the road",
           "A mystical forest with ancient trees and glowing mushrooms")


def _fresh() -> Catalog:
    data = json.loads(CATALOG_PATH.read_text())
    return Catalog.from_records(data["prefabs"], data["catalog_version"])


def _digests(cat: Catalog) -> list[str]:
    return [world_digest(plan(p, seed=s, catalog=cat, budget=600)) for p in PROMPTS
            for s in (1, 2)]


def test_warm_cache_gives_the_same_worlds_as_a_cold_one() -> None:
    cat = _fresh()
    cold = _digests(cat)  # first calls: every cache is filled here
    warm = _digests(cat)  # second calls: everything comes from the caches
    cache.clear(cat)
    cleared = _digests(cat)
    other = _digests(_fresh())  # another catalog object with the same content
    assert cold == warm == cleared == other


def test_caches_are_per_catalog_object() -> None:
    a, b = _fresh(), _fresh()
    plan(PROMPTS[0], seed=1, catalog=a, budget=300)
    t = cache.table(a, "settlement")
    assert t  # filled by the village
    assert cache.table(b, "settlement") == {}
    assert cache.table(a, "settlement") is t


def test_a_changed_catalog_version_starts_from_empty_caches() -> None:
    cat = _fresh()
    plan(PROMPTS[0], seed=1, catalog=cat, budget=300).finish()  # the filler phase fills it
    assert cache.table(cat, "palette_weights")
    cat.version = cat.version + "-edited"
    assert cache.table(cat, "palette_weights") == {}


def test_a_different_catalog_is_not_served_another_catalogs_entries() -> None:
    data = json.loads(CATALOG_PATH.read_text())
    full = Catalog.from_records(data["prefabs"], data["catalog_version"])
    # same version string, but without any tree: palettes, settlements, ids all differ
    trimmed_records = [r for r in data["prefabs"] if "tree" not in r.get("tags", [])]
    trimmed = Catalog.from_records(trimmed_records, data["catalog_version"])
    plan(PROMPTS[2], seed=3, catalog=full, budget=400)  # warm the full catalog's caches
    warm = world_digest(plan(PROMPTS[2], seed=3, catalog=trimmed, budget=400))
    cache.clear()
    cold = world_digest(plan(PROMPTS[2], seed=3, catalog=_trimmed(trimmed_records, data),
                             budget=400))
    assert warm == cold
    ids = {i.prefab_id for i in plan(PROMPTS[2], seed=3, catalog=trimmed, budget=400).instances}
    assert all("tree" not in trimmed.get(i).tags for i in ids)  # type: ignore[union-attr]


def _trimmed(records: list, data: dict) -> Catalog:
    return Catalog.from_records(records, data["catalog_version"])
