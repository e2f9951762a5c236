"""The prefab catalog as the server serves it: cached in memory, versioned, ETagged.

The table is small (hundreds to a few thousand rows) and read on every REST call and
every generation, so the whole catalog lives in memory and is reloaded when its version
in the store changes (an import here, or on another node: see `refresh_if_changed`).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from persistence.models import Prefab
from persistence.store import Store

_WORD = re.compile(r"[a-z0-9]+")


def prefab_json(p: Prefab) -> dict[str, Any]:
    """The seed's prefab shape; world types and placement data ride in `properties`."""
    return {"id": p.id, "name": p.name, "type": p.type, "description": p.description,
            "thumbnail_url": p.thumbnail_url, "download_url": p.download_url,
            "size_bytes": p.size_bytes, "version": p.version, "tags": list(p.tags),
            "properties": {"world_types": list(p.world_types), "placement": dict(p.placement)}}


def generator_record(p: Prefab) -> dict[str, Any]:
    """The catalog-file shape the generator's Catalog.from_records reads."""
    return {"id": p.id, "name": p.name, "type": p.type, "world_types": list(p.world_types),
            "description": p.description, "tags": list(p.tags), "version": p.version,
            "download_url": p.download_url, "size_bytes": p.size_bytes,
            "thumbnail_url": p.thumbnail_url, "placement": dict(p.placement)}


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower())}


class CatalogCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self.version = ""
        self.prefabs: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self._index: list[tuple[set[str], set[str], set[str], dict[str, Any]]] = []
        self._generator_catalog: Any = None
        self._records: list[dict[str, Any]] = []
        self.pages: dict[str, tuple[bytes, str]] = {}  # rendered response bodies and their ETags by query key

    async def reload(self) -> None:
        rows = await self._store.catalog.all()
        version = await self._store.catalog.version() or "empty"
        self.prefabs = [prefab_json(p) for p in rows]
        self.by_id = {p["id"]: p for p in self.prefabs}
        self._records = [generator_record(p) for p in rows]
        self._index = [(_words(p["name"]), {_stem(t.lower()) for t in p["tags"]}, _words(p["description"]), p)
                       for p in self.prefabs]
        self._generator_catalog = None
        self.pages = {}
        self.version = version

    async def refresh_if_changed(self) -> bool:
        version = await self._store.catalog.version() or "empty"
        if version != self.version:
            await self.reload()
            return True
        return False

    def etag(self, key: str) -> str:
        digest = hashlib.blake2b(f"{self.version}|{key}".encode(), digest_size=12).hexdigest()
        return f'"{digest}"'

    @property
    def records(self) -> list[dict[str, Any]]:
        """The catalog-file records the generator's Catalog is built from (server/genpool.py
        sends them to its worker processes)."""
        return self._records

    def generator_catalog(self) -> Any:
        """The generator's view of the catalog, built once per version."""
        if self._generator_catalog is None:
            from generator import Catalog

            self._generator_catalog = Catalog.from_records(self._records, version=self.version)
        return self._generator_catalog

    def filtered(self, prefab_type: str | None) -> list[dict[str, Any]]:
        if prefab_type is None:
            return self.prefabs
        return [p for p in self.prefabs if p["type"] == prefab_type]

    def search(self, q: str, prefab_type: str | None) -> list[dict[str, Any]]:
        """Prefabs matching the query's words, best first (name > tags > description)."""
        terms = _words(q)
        scored = []
        for name, tags, desc, p in self._index:
            if prefab_type is not None and p["type"] != prefab_type:
                continue
            score = sum(3 * (t in name) + 2 * (t in tags) + (t in desc) for t in terms)
            if score == 0 and q.lower() in p["id"]:
                score = 1
            if score:
                scored.append((-score, p["id"], p))
        scored.sort(key=lambda row: (row[0], row[1]))
        return [p for _, _, p in scored]
