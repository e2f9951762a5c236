"""Renders the parts of docs/protocol.md that must agree with the code.

Used by test_protocol_docs.py (doc and code must agree) and by hand when the code changes:
``python tests/protocol/protocol_docgen.py`` prints the tables and hex blocks to paste.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from protocol import messages as m
from protocol import values as val
from protocol.codec import encode
from protocol.codes import (
    CLOSE_EXPLANATIONS,
    ERROR_EXPLANATIONS,
    RETRYABLE_ERRORS,
    CloseCode,
    ErrorCode,
)

#: Frames shown byte for byte in docs/protocol.md §10, by block name.
HEX_EXAMPLES: dict[str, m.ClientMessage | m.ServerMessage] = {
    "hello": m.Hello(v=1, token="eyJhbGciOiJIUzI1NiJ9.e30.sig"),
    "gen.chunk": m.GenChunk(
        rid=7,
        world_id="w_3f2a",
        index=0,
        instances=(
            val.Instance(
                id="i_0001",
                prefab_id="tree_oak_01",
                prefab_type="tree",
                pos=[1.5, 0.0, -2.0],
                rot=[0.0, 0.0, 0.0, 1.0],
                scale=[1.0, 1.0, 1.0],
                props={},
            ),
        ),
    ),
    "bye": m.Bye(code=4000, reason="idle_timeout", reconnect=True, message="no message for 45 s"),
    "error": m.Error(
        rid=7,
        code=1012,
        name="invalid_value",
        message="invalid prompt",
        fields={"prompt": "length must be between 1 and 1000"},
    ),
}


#: The JSON examples of docs/protocol.md: ```json c2s / s2c / s2c-value <name> blocks.
JSON_BLOCK = re.compile(r"^```json (c2s|s2c|s2c-value)( [a-z_]+)?\n(.*?)\n```", re.MULTILINE | re.DOTALL)


def json_examples(doc: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(direction, name or type, value) of every JSON example in the doc, in order."""
    out = []
    for direction, name, body in JSON_BLOCK.findall(doc):
        value = json.loads(body)
        out.append((direction, name.strip() or value.get("type", ""), value))
    return out


def table_keys(doc: str, heading: str, next_heading: str) -> list[str]:
    """The backquoted first cell of every row of the first table under `heading`."""
    section = doc.split(heading, 1)[1].split(next_heading, 1)[0]
    keys = []
    for line in section.splitlines():
        match = re.match(r"^\| `([a-z_.]+)`(?:, `([a-z_.]+)`)? \|", line)
        if match:
            keys += [k for k in match.groups() if k]
    return keys


def field_spec(cls: type) -> list[str]:
    """Wire fields of ``cls`` with ``?`` marking the ones that may be absent."""
    out = []
    for f in dataclasses.fields(cls):
        if not f.metadata.get("wire", True):
            continue
        optional = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        out.append(f.name + ("?" if optional else ""))
    return out


def message_rows() -> list[str]:
    rows = []
    for direction, registry in (("C→S", m.CLIENT_MESSAGES), ("S→C", m.SERVER_MESSAGES)):
        for kind, cls in registry.items():
            cells = ", ".join(f"`{name}`" for name in field_spec(cls))
            rows.append(f"| `{kind}` | {direction} | {cells} |")
    return rows


def error_rows() -> list[str]:
    return [
        f"| {int(code)} | `{code.wire_name}` | {'yes' if code in RETRYABLE_ERRORS else 'no'} "
        f"| {ERROR_EXPLANATIONS[code]} |"
        for code in ErrorCode
    ]


def close_rows() -> list[str]:
    return [
        f"| {int(code)} | `{code.wire_name}` | {'yes' if code.reconnect else 'no'} "
        f"| {CLOSE_EXPLANATIONS[code]} |"
        for code in CloseCode
    ]


def hex_block(name: str) -> str:
    data = encode(HEX_EXAMPLES[name])
    lines = [" ".join(f"{b:02x}" for b in data[i : i + 16]) for i in range(0, len(data), 16)]
    return "```hex " + name + "\n" + "\n".join(lines) + "\n```"


if __name__ == "__main__":
    print("\n".join(message_rows()), end="\n\n")
    print("\n".join(error_rows()), end="\n\n")
    print("\n".join(close_rows()), end="\n\n")
    for name, msg in HEX_EXAMPLES.items():
        print(f"{hex_block(name)}  ({len(encode(msg))} bytes)\n")
