"""Per-catalog caches: structures derived only from a Catalog, built once and reused.

The server calls ``plan()`` many times with one Catalog; whatever depends on the catalog alone
(prefab id/type lists, palette weights for a world, settlement candidates, word co-occurrence)
is computed on the first call and kept here. Entries are keyed by the Catalog object (weakly,
so a dropped catalog frees its caches) and stamped with ``(catalog.version, id(prefabs))``: a
catalog whose version or prefab tuple is replaced starts from empty caches. Cached values are
pure functions of the catalog and their arguments, so a warm cache gives byte-identical output
to a cold one (tested).
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalog import Catalog

MAX_ENTRIES = 4096  # per cache table; a table that grows past this is cleared (bounded memory)
_CACHES: weakref.WeakKeyDictionary[Catalog, tuple[tuple[str, int], dict[str, dict[Any, Any]]]] = \
    weakref.WeakKeyDictionary()


def _stamp(cat: Catalog) -> tuple[str, int]:
    return (cat.version, id(cat.prefabs))


def table(cat: Catalog, name: str) -> dict[Any, Any]:
    """The cache table ``name`` of this catalog (empty after the catalog's stamp changed)."""
    entry = _CACHES.get(cat)
    if entry is None or entry[0] != _stamp(cat):
        entry = (_stamp(cat), {})
        _CACHES[cat] = entry
    tables = entry[1]
    t = tables.get(name)
    if t is None or len(t) > MAX_ENTRIES:
        t = tables[name] = {}
    return t


def clear(cat: Catalog | None = None) -> None:
    """Drop the caches of one catalog (or of all): for tests and benchmarks of the cold path."""
    if cat is None:
        _CACHES.clear()
    else:
        _CACHES.pop(cat, None)
        cat.__dict__.pop("retrieval", None)  # the BM25 index (functools.cached_property)
        cat.__dict__.pop("vocabulary", None)
