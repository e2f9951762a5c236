"""docs/protocol.md is normative: its tables, byte dumps and JSON examples must agree with protocol/."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest
from protocol_docgen import HEX_EXAMPLES, close_rows, error_rows, field_spec, json_examples, table_keys

from protocol import encode
from protocol import messages as m
from protocol.codec import decode_client, decode_server

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `([a-z.]+)` \| (C→S|S→C) \| (.*) \|$", re.MULTILINE)


def doc_message_table() -> dict[tuple[str, str], list[str]]:
    table: dict[tuple[str, str], list[str]] = {}
    for kind, direction, cells in ROW.findall(DOC):
        assert (kind, direction) not in table, f"{kind} {direction} listed twice"
        table[(kind, direction)] = re.findall(r"`([a-z_]+\??)`", cells)
    return table


def test_message_table_lists_exactly_the_registered_types() -> None:
    documented = set(doc_message_table())
    in_code = {(k, "C→S") for k in m.CLIENT_MESSAGES} | {(k, "S→C") for k in m.SERVER_MESSAGES}
    assert documented == in_code


@pytest.mark.parametrize(
    ("kind", "direction", "cls"),
    [(k, "C→S", c) for k, c in m.CLIENT_MESSAGES.items()]
    + [(k, "S→C", c) for k, c in m.SERVER_MESSAGES.items()],
)
def test_message_table_fields_match_dataclass_fields_and_optionality(
    kind: str, direction: str, cls: type
) -> None:
    assert doc_message_table()[(kind, direction)] == field_spec(cls)


def test_field_spec_marks_defaults_optional() -> None:
    # The helper itself: a field with a default is "?", a required one is not.
    spec = field_spec(m.Join)
    assert spec == ["rid", "world_id", "since_seq?"]
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(m.Ping))


def table_rows(heading: str, next_heading: str) -> list[str]:
    """The numeric rows of the table between two headings of the doc."""
    section = DOC.split(heading, 1)[1].split(next_heading, 1)[0]
    return [line for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]


def test_error_code_table_matches_codes_py() -> None:
    assert table_rows("## 8. Error codes", "### 8.1") == error_rows()


def test_close_code_table_matches_codes_py() -> None:
    assert table_rows("## 9. Close codes", "## 10.") == close_rows()


HEX_BLOCK = re.compile(r"^```hex ([a-z.]+)\n(.*?)\n```", re.MULTILINE | re.DOTALL)


def test_every_hex_example_is_in_the_doc() -> None:
    assert {name for name, _ in HEX_BLOCK.findall(DOC)} == set(HEX_EXAMPLES)


@pytest.mark.parametrize("name", sorted(HEX_EXAMPLES))
def test_hex_dump_in_doc_equals_codec_output(name: str) -> None:
    blocks = dict(HEX_BLOCK.findall(DOC))
    assert bytes.fromhex(blocks[name]) == encode(HEX_EXAMPLES[name])


@pytest.mark.parametrize("name", sorted(HEX_EXAMPLES))
def test_hex_dump_byte_count_stated_in_doc_is_right(name: str) -> None:
    size = len(encode(HEX_EXAMPLES[name]))
    assert re.search(rf"— {size} bytes:\n\n```hex {re.escape(name)}\n", DOC)


# -- the JSON examples of §6-§7 -------------------------------------------------------------------
EXAMPLES = json_examples(DOC)


def test_every_message_type_has_a_json_example() -> None:
    shown = {(d, v["type"]) for d, _, v in EXAMPLES if d != "s2c-value"}
    expected = {("c2s", k) for k in m.CLIENT_MESSAGES} | {("s2c", k) for k in m.SERVER_MESSAGES}
    assert expected - shown == set()


@pytest.mark.parametrize(("direction", "name", "value"), EXAMPLES,
                         ids=[f"{d}-{n}-{i}" for i, (d, n, _) in enumerate(EXAMPLES)])
def test_json_example_decodes_and_encodes_back_to_itself(direction: str, name: str, value: dict[str, Any]) -> None:
    """Each example is a valid frame of its direction, and the codec keeps every key and value:
    nothing in it is unknown to the code, nothing the code sends is missing from it."""
    if direction == "s2c-value":  # a value, shown inside the frame that carries it
        assert name == "instance"
        value = {"type": "gen.chunk", "rid": 1, "world_id": "w", "index": 0, "instances": [value]}
        direction = "s2c"
    data = msgpack.packb(value)
    msg = decode_client(data) if direction == "c2s" else decode_server(data)
    assert msgpack.unpackb(encode(msg)) == value


def test_header_table_names_every_key_of_the_header_example() -> None:
    header = next(v for d, _, v in EXAMPLES if d == "s2c" and v["type"] == "snapshot")["header"]
    keys = table_keys(DOC, "### 6.5 The world header", "### 6.6")
    top = {k for k in keys if "." not in k}
    assert top == set(header)
    for key in keys:
        if "." in key:
            parent, child = key.split(".")
            assert child in header[parent], key
    for parent in ("environment_settings", "terrain"):
        assert {k.split(".")[1] for k in keys if k.startswith(parent + ".")} == set(header[parent])


def test_limits_table_lists_every_key_of_the_welcome_example_with_its_value() -> None:
    limits = next(v for d, _, v in EXAMPLES if d == "s2c" and v["type"] == "welcome")["limits"]
    section = DOC.split("### 4.6 Limits", 1)[1].split("## 5.", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([0-9.]+) \|", section, re.MULTILINE)
    assert {k: json.loads(v) for k, v in rows} == limits
