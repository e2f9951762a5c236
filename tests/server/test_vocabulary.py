"""The world and prefab type vocabularies are declared once, in the generator (generator/lexicon.py,
generator/catalog.py); the catalog store re-exports them. The protocol declares world types as
a `Literal` for type checkers (protocol/values.py `WorldType`) because it must not load the
generator to decode a frame: this is the one place the two are held equal."""

from __future__ import annotations

import generator.catalog
import persistence.catalog
from protocol import values


def test_the_wire_accepts_exactly_the_generators_world_types() -> None:
    assert values.WORLD_TYPES == generator.WORLD_TYPES


def test_the_catalog_store_uses_the_generators_vocabulary_objects() -> None:
    assert persistence.catalog.WORLD_TYPES is generator.WORLD_TYPES
    assert persistence.catalog.PREFAB_TYPES is generator.catalog.PREFAB_TYPES
    assert persistence.catalog.SURFACES is generator.catalog.SURFACES
    assert persistence.catalog.PATTERNS is generator.catalog.PATTERNS
