"""`immersiverse generate`: a world offline (blueprint JSON and PNG map), or --eval a corpus.

Uses the catalog file (the configured one or the shipped one); no server or store needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from persistence.catalog import SHIPPED_CATALOG


def _catalog(args: argparse.Namespace) -> Any:
    from generator.cli_support import catalog_from_json

    from . import config as config_mod

    path = SHIPPED_CATALOG
    try:
        settings = config_mod.resolve(args.config)[0]
        if settings.catalog_file:
            path = Path(settings.catalog_file)
    except config_mod.ConfigError:
        pass
    with open(path, encoding="utf-8") as fh:
        return catalog_from_json(json.load(fh))


def blueprint_of(wp: Any, prompt: str, elapsed_ms: float) -> dict[str, Any]:
    header = wp.header.to_dict()
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"id": None, "prompt": prompt, "world_type": header["world_type"], "title": header["title"],
            "description": header["description"], "environment_settings": header["environment_settings"],
            "prefab_instances": [i.to_dict() for i in wp.instances], "spawn_points": header["spawn_points"],
            "created_at": now, "updated_at": now, "processing_time_ms": round(elapsed_ms, 3),
            "seed": header["seed"], "bounds": header["bounds"], "terrain": header["terrain"],
            "warnings": header["warnings"], "trace": header["trace"],
            "generator_version": header["generator_version"], "catalog_version": header["catalog_version"]}


def run_generate(args: argparse.Namespace) -> int:
    from generator import GeneratorError, plan

    catalog = _catalog(args)
    if args.eval:
        from generator.cli_support import eval_report

        table, passed = eval_report(Path(args.eval).read_text(encoding="utf-8"), catalog)
        print(table)
        print("hard constraints, whole-world counts, excluded kinds, warnings, relations:",
              "PASS" if passed else "FAIL")
        return 0 if passed else 1
    if not args.prompt:
        print("give a prompt, or --eval PROMPTS.txt", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        wp = plan(args.prompt, seed=args.seed, catalog=catalog, budget=args.max_instances,
                  world_type=args.world_type)
        instances = wp.instances
    except GeneratorError as exc:
        print(f"cannot generate: {exc}", file=sys.stderr)
        return 2
    elapsed = (time.perf_counter() - started) * 1000
    header = wp.header.to_dict()
    print(f"{header['title']} — {header['world_type']}, {len(instances)} instances in {elapsed:.1f} ms "
          f"(seed {args.seed})")
    for warning in header["warnings"]:
        print(f"warning: {warning}")
    doc = blueprint_of(wp, args.prompt, elapsed)
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        print(f"blueprint written to {args.out}")
    elif not args.png:
        print(json.dumps(doc)[:2000])
    if args.png:
        from generator.render import render_png

        Path(args.png).write_bytes(render_png(wp))
        print(f"map written to {args.png}")
    return 0
