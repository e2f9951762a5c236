"""Helpers for the server's CLI (``immersiverse generate``); the CLI itself lives in server/.

The CLI owns all file I/O: it reads the prompts file and the catalog JSON and passes their
contents here, and writes the returned text/bytes wherever it likes.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .catalog import Catalog
from .evaluate import evaluate_prompts, failures, format_table, read_prompts


def catalog_from_json(data: dict[str, Any]) -> Catalog:
    """Catalog from the parsed catalog.json document ({"catalog_version", "prefabs"})."""
    return Catalog.from_records(data["prefabs"], data["catalog_version"])


def eval_report(prompts_text: str, catalog: Catalog, seeds: Iterable[int] = (1, 2, 3),
                budget: int = 800) -> tuple[str, bool]:
    """(table text, passed): passed is False if any check of ``evaluate.failures`` fails
    (hard constraints, whole-world counts, excluded kinds, foreign filler, unwarned nouns,
    vehicles off the road, relations under 95 %); the text then ends with what failed."""
    rows = evaluate_prompts(read_prompts(prompts_text), catalog, seeds=seeds, budget=budget)
    failed = failures(rows)
    text = format_table(rows)
    if failed:
        text += "\nFAILED: " + "; ".join(failed)
    return text, not failed
