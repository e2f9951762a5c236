"""`immersiverse generate`: a world offline (blueprint JSON and PNG map), or --eval a corpus.

Uses a catalog file (--catalog, the configured one, or the shipped one; no server or store
needed) or, with `--catalog store`, the prefabs in the configured store (docs/catalog.md §5).
The blueprint JSON goes to stdout (or --out); every status line goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from persistence.catalog import SHIPPED_CATALOG, read_catalog_file


def _catalog(args: argparse.Namespace) -> tuple[Any, str]:
    """The generator's catalog and where it came from: --catalog FILE, --catalog store (what the
    server serves), else the catalog_file setting, else the shipped file (docs/catalog.md §5)."""
    from generator import Catalog

    from .config import _mask_url_password as mask_url_password
    from .config import resolve_settings

    settings = resolve_settings(args)[0]
    choice = args.catalog or settings.catalog_file or str(SHIPPED_CATALOG)
    if choice == "store":
        version, rows = _store_catalog(settings.database_url)
        if not rows:
            raise CatalogUnavailable(f"the store at {mask_url_password(settings.database_url)} has no prefabs "
                                     "(start the server once, or import a catalog)")
    else:
        if not Path(choice).is_file():
            raise CatalogUnavailable(f"no such catalog file: {choice}")
        version, rows, problems = read_catalog_file(choice)
        if problems:
            raise CatalogUnavailable(f"{choice} is not a valid catalog (check it with "
                                     "`immersiverse catalog import`; docs/catalog.md)")
    return Catalog.from_records(rows, version=version or "unversioned"), choice


class CatalogUnavailable(Exception):
    """The catalog asked for cannot be read; the message says why."""


def _store_catalog(url: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(version, generator records) of the store's catalog, read as the server reads it."""
    import asyncio

    from persistence.db import schema_revision
    from persistence.store import Store

    from .catalog import generator_record

    if schema_revision(url) is None:
        return None, []

    async def read() -> tuple[str | None, list[dict[str, Any]]]:
        store = Store(url)
        try:
            return await store.catalog.version(), [generator_record(p) for p in await store.catalog.all()]
        finally:
            await store.close()

    return asyncio.run(read())


def blueprint_of(wp: Any, prompt: str, elapsed_ms: float) -> dict[str, Any]:
    header = wp.header.to_dict()
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"id": None, "prompt": prompt, "world_type": header["world_type"], "title": header["title"],
            "description": header["description"], "environment_settings": header["environment_settings"],
            "prefab_instances": [r.blueprint() for r in wp.instances],
            "spawn_points": header["spawn_points"],
            "created_at": now, "updated_at": now, "processing_time_ms": round(elapsed_ms, 3),
            "seed": header["seed"], "bounds": header["bounds"], "terrain": header["terrain"],
            "warnings": header["warnings"], "trace": header["trace"],
            "generator_version": header["generator_version"], "catalog_version": header["catalog_version"]}


def _status(line: str) -> None:
    """Progress and results go to stderr: stdout carries only the blueprint JSON."""
    print(line, file=sys.stderr)


def run_generate(args: argparse.Namespace) -> int:
    from generator import GeneratorError, plan

    try:
        catalog, source = _catalog(args)
    except CatalogUnavailable as exc:
        _status(f"cannot generate: {exc}")
        return 2
    if args.eval:
        from generator.cli_support import eval_report

        table, passed = eval_report(Path(args.eval).read_text(encoding="utf-8"), catalog)
        print(table)
        print("hard constraints, whole-world counts, excluded kinds, foreign filler, warnings, relations:",
              "PASS" if passed else "FAIL")
        return 0 if passed else 1
    if not args.prompt:
        _status("give a prompt, or --eval PROMPTS.txt")
        return 2
    started = time.perf_counter()
    try:
        wp = plan(args.prompt, seed=args.seed, catalog=catalog, budget=args.max_instances,
                  world_type=args.world_type)
        instances = wp.instances
    except GeneratorError as exc:
        _status(f"cannot generate: {exc}")
        return 2
    elapsed = (time.perf_counter() - started) * 1000
    header = wp.header.to_dict()
    _status(f"{header['title']} — {header['world_type']}, {len(instances)} instances in {elapsed:.1f} ms "
            f"(seed {args.seed})")
    if source != str(SHIPPED_CATALOG):
        _status(f"catalog {catalog.version} from {source}")
    for warning in header["warnings"]:
        _status(f"warning: {warning}")
    doc = blueprint_of(wp, args.prompt, elapsed)
    if args.out and args.out != "-":
        Path(args.out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        _status(f"blueprint written to {args.out}")
    elif args.out == "-" or not args.png:
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    if args.png:
        from generator.render import render_png

        Path(args.png).write_bytes(render_png(wp))
        _status(f"map written to {args.png}")
    return 0
