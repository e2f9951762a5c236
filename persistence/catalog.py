"""The prefab catalog: validation of catalog files, the shipped file, and its table.

A catalog file is `{"catalog_version": str, "prefabs": [prefab, ...]}` or a bare list of
prefabs (as a Unity editor export may write it). Rows are validated one by one so that
an operator sees every bad row with its reason, not just the first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .clock import utcnow
from .db import Repo
from .models import Meta, Prefab

SHIPPED_CATALOG = Path(__file__).parent / "data" / "catalog.json"
WORLD_TYPES = ("fantasy", "sci_fi", "realistic", "surreal", "historical", "urban", "nature", "space")
PREFAB_TYPES = ("building", "vehicle", "character", "prop", "environment", "lighting", "effect", "ui")
SURFACES = ("ground", "water", "wall", "air")
PATTERNS = ("single", "cluster", "scatter", "line", "ring")
_ID = re.compile(r"^[a-z0-9_]{1,64}$")
_META_VERSION = "catalog_version"
_META_SHIPPED = "shipped_catalog_version"


def _text(row: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str:
    value = row.get(key, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise ValueError(f"{key}: must be a non-empty string of at most {limit} characters")
    return value


def _number(placement: dict[str, Any], key: str, low: float, high: float) -> float:
    value = placement.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
        raise ValueError(f"placement.{key}: must be a number in ({low}, {high}]")
    return float(value)


def validate_prefab(row: Any) -> dict[str, Any]:
    """A clean prefab record, or ValueError naming the first bad field."""
    if not isinstance(row, dict):
        raise ValueError("row: must be an object")
    pid = row.get("id")
    if not isinstance(pid, str) or not _ID.match(pid):
        raise ValueError("id: must match [a-z0-9_]{1,64}")
    ptype = row.get("type")
    if ptype not in PREFAB_TYPES:
        raise ValueError(f"type: must be one of {', '.join(PREFAB_TYPES)}")
    world_types = row.get("world_types", [])
    if not isinstance(world_types, list) or any(w not in WORLD_TYPES for w in world_types):
        raise ValueError(f"world_types: must be a list of {', '.join(WORLD_TYPES)}")
    tags = row.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in tags):
        raise ValueError("tags: must be a list of strings of 1..64 characters")
    size = row.get("size_bytes", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("size_bytes: must be a non-negative integer")
    placement = row.get("placement")
    if not isinstance(placement, dict):
        raise ValueError("placement: must be an object")
    clean_placement = {
        "width": _number(placement, "width", 0, 10_000),
        "depth": _number(placement, "depth", 0, 10_000),
        "height": _number(placement, "height", 0, 10_000),
        "scale_min": _number(placement, "scale_min", 0, 10),
        "scale_max": _number(placement, "scale_max", 0, 10),
        "surface": placement.get("surface", "ground"),
        "pattern": placement.get("pattern", "single"),
        "solid": bool(placement.get("solid", True)),
        "landmark": bool(placement.get("landmark", False)),
    }
    if clean_placement["scale_min"] > clean_placement["scale_max"]:
        raise ValueError("placement.scale_min: must not exceed scale_max")
    if clean_placement["surface"] not in SURFACES:
        raise ValueError(f"placement.surface: must be one of {', '.join(SURFACES)}")
    if clean_placement["pattern"] not in PATTERNS:
        raise ValueError(f"placement.pattern: must be one of {', '.join(PATTERNS)}")
    return {
        "id": pid,
        "name": _text(row, "name", 200),
        "type": ptype,
        "world_types": list(world_types),
        "description": _text(row, "description", 4000),
        "tags": list(tags),
        "version": _text(row, "version", 32),
        "download_url": _text(row, "download_url", 1000),
        "size_bytes": size,
        "thumbnail_url": _text(row, "thumbnail_url", 1000),
        "placement": clean_placement,
    }


def parse_catalog(document: Any) -> tuple[str | None, list[dict[str, Any]], list[tuple[int, Any, str]]]:
    """(version, valid rows, problems as (index, row, reason)) of a parsed catalog file."""
    version = None
    rows = document
    if isinstance(document, dict):
        version = document.get("catalog_version")
        rows = document.get("prefabs")
    if not isinstance(rows, list):
        return version, [], [(-1, None, "file: expected a list of prefabs or {\"prefabs\": [...]}")]
    valid, problems, seen = [], [], set()
    for index, row in enumerate(rows):
        try:
            clean = validate_prefab(row)
            if clean["id"] in seen:
                raise ValueError("id: duplicated in this file")
        except ValueError as exc:
            problems.append((index, row, str(exc)))
            continue
        seen.add(clean["id"])
        valid.append(clean)
    return (version if isinstance(version, str) else None), valid, problems


def read_catalog_file(path: str | Path) -> tuple[str | None, list[dict[str, Any]], list[tuple[int, Any, str]]]:
    with open(path, encoding="utf-8") as fh:
        try:
            document = json.load(fh)
        except json.JSONDecodeError as exc:
            return None, [], [(-1, None, f"file: not valid JSON ({exc.msg} at line {exc.lineno})")]
    return parse_catalog(document)


class CatalogRepo(Repo):

    async def upsert(self, rows: list[dict[str, Any]], version: str | None) -> tuple[int, int]:
        """Insert or update `rows` in one transaction; returns (inserted, updated)."""
        now = utcnow()
        async with self._tx() as s:
            ids = [r["id"] for r in rows]
            existing = {p.id: p for p in await s.scalars(select(Prefab).where(Prefab.id.in_(ids)))}
            for row in rows:
                prefab = existing.get(row["id"])
                if prefab is None:
                    s.add(Prefab(**row, updated_at=now))
                else:
                    for key, value in row.items():
                        setattr(prefab, key, value)
                    prefab.updated_at = now
            stamp = version or now.strftime("import-%Y%m%dT%H%M%S.%f")
            meta = await s.get(Meta, _META_VERSION)
            if meta is not None and meta.value == stamp:
                # Same label, new rows: caches and ETags on every node key on this value.
                stamp = f"{version}+{now.strftime('%Y%m%dT%H%M%S.%f')}"
            if meta is None:
                s.add(Meta(key=_META_VERSION, value=stamp))
            else:
                meta.value = stamp
        return len(rows) - len(existing), len(existing)

    async def version(self) -> str | None:
        return await self._meta(_META_VERSION)

    async def shipped_version(self) -> str | None:
        """Version of the shipped catalog file last loaded into this store."""
        return await self._meta(_META_SHIPPED)

    async def mark_shipped(self, version: str) -> None:
        async with self._tx() as s:
            meta = await s.get(Meta, _META_SHIPPED)
            if meta is None:
                s.add(Meta(key=_META_SHIPPED, value=version))
            else:
                meta.value = version

    async def _meta(self, key: str) -> str | None:
        async with self._sessions() as s:
            meta = await s.get(Meta, key)
            return None if meta is None else meta.value

    async def count(self) -> int:
        async with self._sessions() as s:
            return len((await s.scalars(select(Prefab.id))).all())

    async def all(self) -> list[Prefab]:
        async with self._sessions() as s:
            return list(await s.scalars(select(Prefab).order_by(Prefab.id)))
