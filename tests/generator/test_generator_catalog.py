from __future__ import annotations

import re
from collections import Counter

import pytest

from generator import WORLD_TYPES, Catalog, CatalogError, GeneratorError
from generator.catalog import PATTERNS, PREFAB_TYPES, SURFACES


def test_shipped_catalog_has_enough_prefabs_for_every_world_and_type(catalog_json: dict) -> None:
    prefabs = catalog_json["prefabs"]
    assert len(prefabs) >= 170
    per_world = Counter(w for p in prefabs for w in p["world_types"])
    assert all(per_world[w] >= 18 for w in WORLD_TYPES), per_world
    assert set(Counter(p["type"] for p in prefabs)) == set(PREFAB_TYPES)


def test_shipped_catalog_records_follow_the_documented_shape(catalog_json: dict) -> None:
    ids = [p["id"] for p in catalog_json["prefabs"]]
    assert len(ids) == len(set(ids))
    keys = {"id", "name", "type", "world_types", "description", "tags", "version",
            "download_url", "size_bytes", "thumbnail_url", "placement"}
    for p in catalog_json["prefabs"]:
        assert set(p) == keys, p["id"]
        assert re.fullmatch(r"[a-z0-9_]{1,64}", p["id"])
        pl = p["placement"]
        assert pl["surface"] in SURFACES and pl["pattern"] in PATTERNS
        assert 0 < pl["scale_min"] <= pl["scale_max"] <= 10
        assert min(pl["width"], pl["depth"], pl["height"]) > 0
        assert set(p["world_types"]) <= set(WORLD_TYPES)


def test_catalog_rejects_bad_records_with_a_generator_error(catalog_json: dict) -> None:
    rec = dict(catalog_json["prefabs"][0])
    rec["id"] = "Bad Id!"
    with pytest.raises(CatalogError):
        Catalog.from_records([rec], "x")
    rec = dict(catalog_json["prefabs"][0], placement={"width": -1})
    with pytest.raises(GeneratorError):
        Catalog.from_records([rec], "x")
    with pytest.raises(CatalogError):
        Catalog.from_records([catalog_json["prefabs"][0]] * 2, "x")
