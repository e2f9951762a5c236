"""Helpers for the server's CLI (``immersiverse generate``); the CLI itself lives in server/.

The CLI owns all file I/O: it reads the prompts file and the catalog JSON and passes their
contents here, and writes the returned text/bytes wherever it likes.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .catalog import Catalog
from .evaluate import evaluate_prompts, format_table, read_prompts


def catalog_from_json(data: dict[str, Any]) -> Catalog:
    """Catalog from the parsed catalog.json document ({"catalog_version", "prefabs"})."""
    return Catalog.from_records(data["prefabs"], data["catalog_version"])


def eval_report(prompts_text: str, catalog: Catalog, seeds: Iterable[int] = (1, 2, 3),
                budget: int = 800) -> tuple[str, bool]:
    """(table text, passed): passed is False if any hard constraint was violated."""
    rows = evaluate_prompts(read_prompts(prompts_text), catalog, seeds=seeds, budget=budget)
    hard = sum(r["overlaps"] + r["out_of_bounds"] + r["forbidden"] + r["off_surface"]
               for r in rows)
    exact = all(r["exact_ok"] == r["exact_total"] for r in rows)
    return format_table(rows), hard == 0 and exact
