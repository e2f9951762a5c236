"""The header leaves the generator as plain JSON types (no numpy scalars): REST encodes it with
orjson, which refuses numpy values, and clients in other languages read it from msgpack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from generator_testutil import load_catalog

from generator import plan

PLAIN = (str, int, float, bool, type(None))
PROMPTS = [p for p in (Path(__file__).parents[1] / "data" / "prompts.txt").read_text().splitlines()
           if p.strip() and not p.startswith("#")][::8]


def _odd_values(value: Any, path: str = "header") -> list[str]:
    if isinstance(value, dict):
        return [f"{path}: key {k!r}" for k in value if type(k) is not str] + \
            [o for k, v in value.items() for o in _odd_values(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        return [o for i, v in enumerate(value) for o in _odd_values(v, f"{path}[{i}]")]
    return [] if type(value) in PLAIN else [f"{path}: {type(value).__name__}"]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_header_holds_only_plain_json_types(prompt: str) -> None:
    header = plan(prompt, seed=5, catalog=load_catalog(), budget=300).header.to_dict()
    assert _odd_values(header) == []
