"""The prefab catalog as the generator sees it: validated, immutable, indexed.

The catalog arrives as the ``prefabs`` list of ``persistence/data/catalog.json`` (loaded by
persistence/server; the generator does no I/O). Validation happens once here so that layout can
trust every footprint and scale range without re-checking.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import CatalogError
from .lexicon import WORLD_TYPES, lemma, tokenize

if TYPE_CHECKING:
    from .retrieval import Bm25Index

PREFAB_TYPES: tuple[str, ...] = (
    "building", "vehicle", "character", "prop", "environment", "lighting", "effect", "ui",
)
SURFACES: tuple[str, ...] = ("ground", "water", "wall", "air")
PATTERNS: tuple[str, ...] = ("single", "cluster", "scatter", "line", "ring")
_ID = re.compile(r"[a-z0-9_]{1,64}")


@dataclass(frozen=True, slots=True)
class Prefab:
    id: str
    name: str
    type: str
    world_types: tuple[str, ...]
    description: str
    tags: tuple[str, ...]
    width: float
    depth: float
    height: float
    surface: str
    pattern: str
    scale_min: float
    scale_max: float
    solid: bool
    landmark: bool
    fits: tuple[str, ...] = ()  # scene tags (placement.fits): where it belongs as filler
    swim: float = 0.0  # m above the sea floor in a seabed world (placement.swim; 0: on the floor)

    @property
    def words(self) -> frozenset[str]:
        """Lemmas of the name and tags: what a prompt noun must hit to select this prefab."""
        return frozenset(lemma(w) for w in tokenize(self.name) + list(self.tags))


def _prefab_from_record(rec: dict[str, Any]) -> Prefab:
    try:
        pid = str(rec["id"])
        pl = rec["placement"]
        prefab = Prefab(
            id=pid, name=str(rec["name"]), type=str(rec["type"]),
            world_types=tuple(str(w) for w in rec.get("world_types", ())),
            description=str(rec.get("description", "")),
            tags=tuple(str(t).lower() for t in rec.get("tags", ())),
            width=float(pl["width"]), depth=float(pl["depth"]), height=float(pl["height"]),
            surface=str(pl.get("surface", "ground")), pattern=str(pl.get("pattern", "scatter")),
            scale_min=float(pl.get("scale_min", 1.0)), scale_max=float(pl.get("scale_max", 1.0)),
            solid=bool(pl.get("solid", True)), landmark=bool(pl.get("landmark", False)),
            fits=tuple(str(t).lower() for t in pl.get("fits", ())),
            swim=float(pl.get("swim", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"malformed prefab record {rec.get('id')!r}: {exc}") from exc
    problems = []
    if not _ID.fullmatch(prefab.id):
        problems.append("id must match [a-z0-9_]{1,64}")
    if prefab.type not in PREFAB_TYPES:
        problems.append(f"unknown type {prefab.type!r}")
    if prefab.surface not in SURFACES:
        problems.append(f"unknown surface {prefab.surface!r}")
    if prefab.pattern not in PATTERNS:
        problems.append(f"unknown pattern {prefab.pattern!r}")
    if min(prefab.width, prefab.depth, prefab.height) <= 0:
        problems.append("width/depth/height must be > 0")
    if max(prefab.width, prefab.depth) > 200:
        problems.append("footprint larger than 200 m")
    if not 0 < prefab.scale_min <= prefab.scale_max <= 10:
        problems.append("need 0 < scale_min <= scale_max <= 10")
    if problems:
        raise CatalogError(f"prefab {prefab.id!r}: " + "; ".join(problems))
    return prefab


class Catalog:
    """Immutable set of prefabs plus numpy columns for vectorised layout."""

    def __init__(self, prefabs: Iterable[Prefab], version: str) -> None:
        self.prefabs: tuple[Prefab, ...] = tuple(sorted(prefabs, key=lambda p: p.id))
        self.version = str(version)
        if not self.prefabs:
            raise CatalogError("catalog is empty")
        self.index: dict[str, int] = {p.id: i for i, p in enumerate(self.prefabs)}
        if len(self.index) != len(self.prefabs):
            raise CatalogError("duplicate prefab ids")
        # Columns indexed by prefab number; layout gathers from these with numpy fancy indexing.
        self.width = np.array([p.width for p in self.prefabs], dtype=np.float64)
        self.depth = np.array([p.depth for p in self.prefabs], dtype=np.float64)
        self.height = np.array([p.height for p in self.prefabs], dtype=np.float64)
        self.swim = np.array([p.swim for p in self.prefabs], dtype=np.float64)
        self.scale_min = np.array([p.scale_min for p in self.prefabs], dtype=np.float64)
        self.scale_max = np.array([p.scale_max for p in self.prefabs], dtype=np.float64)
        self.solid = np.array([p.solid for p in self.prefabs], dtype=bool)
        self.surface = tuple(p.surface for p in self.prefabs)
        self.is_building = np.array([p.type == "building" for p in self.prefabs], dtype=bool)
        self.is_vehicle = np.array([p.type == "vehicle" for p in self.prefabs], dtype=bool)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], version: str) -> Catalog:
        """Validate catalog.json's ``prefabs`` list; raise CatalogError on the first bad record."""
        if not isinstance(records, list):
            raise CatalogError("records must be a list of prefab dicts")
        return cls((_prefab_from_record(r) for r in records), version)

    def __len__(self) -> int:
        return len(self.prefabs)

    def get(self, prefab_id: str) -> Prefab | None:
        i = self.index.get(prefab_id)
        return None if i is None else self.prefabs[i]

    def for_world(self, world_type: str) -> list[int]:
        """Prefab numbers usable in a world type (in id order, so deterministic)."""
        return [i for i, p in enumerate(self.prefabs) if world_type in p.world_types]

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every lemma in any prefab name or tag: the nouns a prompt can ask for."""
        out: set[str] = set()
        for p in self.prefabs:
            out |= p.words
        return frozenset(out)

    @cached_property
    def retrieval(self) -> Bm25Index:
        from .retrieval import Bm25Index  # local import: retrieval depends on Catalog
        return Bm25Index(self)


__all__ = ["Catalog", "Prefab", "PREFAB_TYPES", "SURFACES", "PATTERNS", "WORLD_TYPES"]
