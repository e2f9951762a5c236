"""The catalog file format: the importer validates with persistence/data/catalog.schema.json, and
its built-in checker agrees with the reference JSON Schema implementation (docs/catalog.md)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from persistence import schema_check
from persistence.catalog import (
    CATALOG_SCHEMA,
    PATTERNS,
    PREFAB_TYPES,
    SCHEMA,
    SHIPPED_CATALOG,
    SURFACES,
    WORLD_TYPES,
    parse_catalog,
    read_catalog_file,
)

REFERENCE = jsonschema.Draft202012Validator(SCHEMA)
PREFAB_REFERENCE = jsonschema.Draft202012Validator({"$ref": "#/$defs/prefab", "$defs": SCHEMA["$defs"]})
SHIPPED_DOC = json.loads(SHIPPED_CATALOG.read_text(encoding="utf-8"))
GOOD = SHIPPED_DOC["prefabs"][0]


def _set(row: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `row` with `path` ("placement.width") set to `value`, or removed for DELETE."""
    out = copy.deepcopy(row)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


DELETE = object()
# (field, value): each makes the good row invalid in exactly that field.
BAD = [
    ("id", "Has Space"), ("id", ""), ("id", "x" * 65), ("id", 7), ("id", DELETE),
    ("name", ""), ("name", "   "), ("name", "n" * 201), ("name", None), ("name", DELETE),
    ("type", "tank"), ("type", DELETE), ("world_types", ["moon"]), ("world_types", "fantasy"),
    ("description", ""), ("description", "d" * 4001), ("tags", [""]), ("tags", ["t" * 65]), ("tags", [3]),
    ("tags", "tree"), ("version", ""), ("version", "v" * 33), ("download_url", DELETE),
    ("thumbnail_url", 5), ("size_bytes", -1), ("size_bytes", 1.5), ("size_bytes", True), ("size_bytes", "9"),
    ("placement", DELETE), ("placement", []), ("placement.width", 0), ("placement.width", -2),
    ("placement.depth", 10_001), ("placement.height", "3"), ("placement.height", True),
    ("placement.scale_min", 0), ("placement.scale_max", 11), ("placement.scale_max", DELETE),
    ("placement.surface", "lava"), ("placement.pattern", "grid"), ("placement.solid", 1),
    ("placement.landmark", "no"),
]
# Values at the edges that are valid.
FINE = [
    ("world_types", []), ("world_types", DELETE), ("tags", DELETE), ("size_bytes", DELETE), ("size_bytes", 0),
    ("size_bytes", 3.0), ("id", "x" * 64), ("name", "n" * 200), ("placement.width", 10_000),
    ("placement.width", 0.001), ("placement.scale_max", 10), ("placement.surface", DELETE),
    ("placement.solid", False), ("extra_field", {"kept": "out"}),
]


@pytest.mark.parametrize(("field", "value"), BAD, ids=[f"{f}={v!r}"[:40] for f, v in BAD])
def test_a_row_the_reference_rejects_is_rejected_naming_the_field(field: str, value: Any) -> None:
    row = _set(GOOD, field, value)
    assert not PREFAB_REFERENCE.is_valid(row)
    _, valid, problems = parse_catalog([row])
    assert valid == [] and len(problems) == 1
    assert any(reason.startswith((f"{field}:", f"{field}[")) for reason in problems[0][2]), problems


@pytest.mark.parametrize(("field", "value"), FINE, ids=[f"{f}={v!r}"[:40] for f, v in FINE])
def test_a_row_the_reference_accepts_is_imported(field: str, value: Any) -> None:
    row = _set(GOOD, field, value)
    assert PREFAB_REFERENCE.is_valid(row)
    _, valid, problems = parse_catalog([row])
    assert problems == [] and len(valid) == 1


def test_a_pattern_anchored_with_dollar_does_not_admit_a_final_newline() -> None:
    # JSON Schema patterns are ECMA-262: `$` is the end of the string. The reference library
    # runs them as Python regular expressions, where `$` also matches before a final newline.
    _, valid, problems = parse_catalog([_set(GOOD, "id", "ok\n")])
    assert valid == [] and problems[0][2] == ["id: must match ^[a-z0-9_]+$"]


def test_every_problem_of_a_row_is_reported() -> None:
    row = _set(_set(_set(GOOD, "type", "tank"), "name", ""), "placement.width", 0)
    row = _set(row, "description", DELETE)
    _, _, problems = parse_catalog([row])
    reasons = problems[0][2]
    assert [r.split(":")[0] for r in reasons] == ["name", "type", "description", "placement.width"]


@pytest.mark.parametrize("document", [
    SHIPPED_DOC, SHIPPED_DOC["prefabs"], {"prefabs": []}, [], {"catalog_version": "v", "prefabs": [GOOD]},
    {"prefabs": {"a": GOOD}}, {"catalog_version": "", "prefabs": []}, {"catalog_version": 3, "prefabs": []},
    {"catalog_version": "v" * 65, "prefabs": []}, {"version": "v"}, "prefabs", 42, None,
    [GOOD, "not an object"], {"prefabs": [GOOD, _set(GOOD, "id", "BAD")]},
], ids=lambda d: json.dumps(d)[:30])
def test_the_importer_and_the_reference_agree_on_whole_files(document: Any) -> None:
    _, _, problems = parse_catalog(document)
    assert (problems == []) == REFERENCE.is_valid(document)


def test_the_two_rules_beside_the_schema() -> None:
    crossed = _set(_set(GOOD, "placement.scale_min", 2.0), "placement.scale_max", 1.0)
    assert PREFAB_REFERENCE.is_valid(crossed)  # beyond what JSON Schema can say
    assert parse_catalog([crossed])[2][0][2] == ["placement.scale_min: must not exceed scale_max"]
    _, valid, problems = parse_catalog([GOOD, GOOD])
    assert len(valid) == 1 and problems[0][:1] == (1,) and problems[0][2] == ["id: duplicated in this file"]


def test_the_schema_is_valid_and_only_uses_keywords_the_checker_implements() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    schema_check.check_keywords(SCHEMA)
    with pytest.raises(schema_check.SchemaError, match="uniqueItems"):
        schema_check.check_keywords({"type": "array", "uniqueItems": True})


def test_the_schema_enums_are_the_servers_vocabularies() -> None:
    defs = SCHEMA["$defs"]
    assert tuple(defs["prefab"]["properties"]["type"]["enum"]) == PREFAB_TYPES
    assert tuple(defs["prefab"]["properties"]["world_types"]["items"]["enum"]) == WORLD_TYPES
    assert tuple(defs["placement"]["properties"]["surface"]["enum"]) == SURFACES
    assert tuple(defs["placement"]["properties"]["pattern"]["enum"]) == PATTERNS


def test_defaults_come_from_the_schema() -> None:
    bare = {k: v for k, v in GOOD.items() if k not in ("world_types", "tags", "size_bytes")}
    bare["placement"] = {k: GOOD["placement"][k] for k in ("width", "depth", "height", "scale_min", "scale_max")}
    clean = parse_catalog([bare])[1][0]
    assert (clean["world_types"], clean["tags"], clean["size_bytes"]) == ([], [], 0)
    placement = clean["placement"]
    assert (placement["surface"], placement["pattern"], placement["solid"], placement["landmark"]) == \
        ("ground", "single", True, False)


@pytest.mark.parametrize(("content", "reason"), [
    (b"hello", "not valid JSON: Expecting value at line 1 column 1"),
    (b"\xff\xfe\x00", "not a JSON file: it is not UTF-8 text"),
    (b'{"catalog_version": "v"}', 'expected a list of prefabs or {"catalog_version": ..., "prefabs": [...]}'),
])
def test_a_file_that_is_not_a_catalog_is_one_problem_saying_why(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(content)
    assert read_catalog_file(path) == (None, [], [(-1, None, [reason])])


def test_the_shipped_catalog_and_the_docs_name_the_schema() -> None:
    assert read_catalog_file(SHIPPED_CATALOG)[2] == []
    docs = (Path(__file__).resolve().parents[2] / "docs" / "catalog.md").read_text(encoding="utf-8")
    assert CATALOG_SCHEMA.name in docs
    for name in SCHEMA["$defs"]["prefab"]["properties"]:
        assert f"`{name}`" in docs, f"docs/catalog.md does not describe {name}"
    example = json.loads(re.search(r"```json\n(.*?)```", docs, re.S).group(1))  # type: ignore[union-attr]
    assert REFERENCE.is_valid(example) and parse_catalog(example)[2] == []
