"""Helpers shared by the generator tests (imported by module name: pytest puts this folder on
sys.path, and the folder has no __init__.py so it cannot shadow the ``generator`` package)."""
from __future__ import annotations

import json
from pathlib import Path

from generator import Catalog

ROOT = Path(__file__).resolve().parents[2]
CATALOG_PATH = ROOT / "persistence" / "data" / "catalog.json"
PROMPTS_PATH = ROOT / "tests" / "data" / "prompts.txt"


def load_catalog() -> Catalog:
    data = json.loads(CATALOG_PATH.read_text())
    return Catalog.from_records(data["prefabs"], data["catalog_version"])
