"""Shared fixtures: the shipped catalog, loaded once per session (the generator does no I/O)."""
from __future__ import annotations

import json

import pytest
from generator_testutil import CATALOG_PATH, load_catalog

from generator import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def catalog_json() -> dict:
    return json.loads(CATALOG_PATH.read_text())
