"""The prefab catalog: validation of catalog files, the shipped file, and its table.

A catalog file is `{"catalog_version": str, "prefabs": [prefab, ...]}` or a bare list of
prefabs (as a Unity editor export may write it); docs/catalog.md describes it and
data/catalog.schema.json is its JSON Schema, which the importer validates with. Rows are
validated one by one so that an operator sees every bad row with all its problems.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

# The catalog's vocabulary is the generator's, declared once there (generator/catalog.py,
# generator/lexicon.py) and re-exported here for the catalog's readers.
from generator.catalog import PATTERNS as PATTERNS
from generator.catalog import PREFAB_TYPES as PREFAB_TYPES
from generator.catalog import SURFACES as SURFACES
from generator.catalog import WORLD_TYPES as WORLD_TYPES

from . import schema_check
from .clock import utcnow
from .db import Repo
from .models import Meta, Prefab

SHIPPED_CATALOG = Path(__file__).parent / "data" / "catalog.json"
CATALOG_SCHEMA = Path(__file__).parent / "data" / "catalog.schema.json"  # docs/catalog.md
_META_VERSION = "catalog_version"
_META_SHIPPED = "shipped_catalog_version"


def _load_schema() -> dict[str, Any]:
    with open(CATALOG_SCHEMA, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    schema_check.check_keywords(schema)
    return schema


SCHEMA = _load_schema()
_PREFAB = SCHEMA["$defs"]["prefab"]
_PLACEMENT = SCHEMA["$defs"]["placement"]
_VERSION = SCHEMA["$defs"]["catalog"]["properties"]["catalog_version"]


def _defaults(schema: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """`row` with the schema's defaults filled in, keeping only the fields the schema names."""
    return {key: row[key] if key in row else sub["default"]
            for key, sub in schema["properties"].items() if key in row or "default" in sub}


def prefab_problems(row: Any) -> list[str]:
    """Every problem of one prefab row: the schema's checks, then the rule it cannot express."""
    problems = schema_check.errors(_PREFAB, row, "row", SCHEMA)
    placement = row.get("placement") if isinstance(row, dict) else None
    scales: list[Any] = [placement.get(k) for k in ("scale_min", "scale_max")] if isinstance(placement, dict) else []
    if len(scales) == 2 and all(schema_check.is_type(v, "number") for v in scales) and scales[0] > scales[1]:
        problems.append("placement.scale_min: must not exceed scale_max")
    return problems


def clean_prefab(row: dict[str, Any]) -> dict[str, Any]:
    """The stored record of a row that has no problems: schema defaults filled in, unknown keys
    dropped, numbers normalised (JSON Schema counts 3.0 as an integer)."""
    clean = _defaults(_PREFAB, row)
    placement = _defaults(_PLACEMENT, row["placement"])
    for key in ("width", "depth", "height", "scale_min", "scale_max"):
        placement[key] = float(placement[key])
    clean.update(world_types=list(clean["world_types"]), tags=list(clean["tags"]),
                 size_bytes=int(clean["size_bytes"]), placement=placement)
    return clean


def validate_prefab(row: Any) -> dict[str, Any]:
    """A clean prefab record, or ValueError naming every problem."""
    problems = prefab_problems(row)
    if problems:
        raise ValueError("; ".join(problems))
    return clean_prefab(row)


Problem = tuple[int, Any, list[str]]  # (row index or -1 for the file, the row, its problems)


def parse_catalog(document: Any) -> tuple[str | None, list[dict[str, Any]], list[Problem]]:
    """(version, valid rows, problems) of a parsed catalog file; every problem of every row."""
    version = None
    rows = document
    file_problems: list[str] = []
    if isinstance(document, dict):
        version = document.get("catalog_version")
        rows = document.get("prefabs")
        if "catalog_version" in document:
            file_problems = schema_check.errors(_VERSION, version, "catalog_version", SCHEMA)
    if not isinstance(rows, list):
        file_problems.append('expected a list of prefabs or {"catalog_version": ..., "prefabs": [...]}')
    if file_problems:
        return None, [], [(-1, None, file_problems)]
    valid: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        found = prefab_problems(row)
        if not found and row["id"] in seen:
            found = ["id: duplicated in this file"]
        if found:
            problems.append((index, row, found))
            continue
        seen.add(row["id"])
        valid.append(clean_prefab(row))
    return version, valid, problems


def read_catalog_file(path: str | Path) -> tuple[str | None, list[dict[str, Any]], list[Problem]]:
    """Like parse_catalog; a file that is not UTF-8 JSON is one file-level problem saying so."""
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except UnicodeDecodeError:
        return None, [], [(-1, None, ["not a JSON file: it is not UTF-8 text"])]
    except json.JSONDecodeError as exc:
        return None, [], [(-1, None, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"])]
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
