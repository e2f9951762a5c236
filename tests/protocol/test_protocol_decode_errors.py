"""Every decoding failure maps to its documented ErrorCode, field paths and rid (§8.1)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from protocol import (
    DEFAULT_LIMITS,
    CloseCode,
    ErrorCode,
    Limits,
    ProtocolError,
    decode_client,
    decode_server,
)
from protocol import messages as m
from protocol import values as val


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


ADD = {"op": "add", "prefab_id": "rock", "pos": [0.0, 0.0, 0.0]}
NAN = float("nan")

# (id, frame, expected code, expected fields or None, expected rid)
ERROR_CASES: list[tuple[str, bytes, ErrorCode, dict[str, str] | None, int | None]] = [
    ("reserved byte", b"\xc1", ErrorCode.BAD_FRAME, None, None),
    ("empty frame", b"", ErrorCode.BAD_FRAME, None, None),
    ("truncated map", b"\x82\xa4typ", ErrorCode.BAD_FRAME, None, None),
    ("trailing bytes", pack({"type": "ping", "rid": 1}) + b"\x00", ErrorCode.BAD_FRAME, None, None),
    ("array top level", pack([1, 2]), ErrorCode.NOT_A_MAP, None, None),
    ("int top level", pack(3), ErrorCode.NOT_A_MAP, None, None),
    ("invalid utf-8", b"\x81\xa4type\xa2\xff\xfe", ErrorCode.INVALID_UTF8, None, None),
    (
        "ext type",
        pack({"type": "ping", "rid": 1, "x": msgpack.ExtType(5, b"a")}),
        ErrorCode.UNSUPPORTED_TYPE,
        None,
        None,
    ),
    (
        "timestamp",
        pack({"type": "ping", "rid": 1, "x": msgpack.Timestamp(1)}),
        ErrorCode.UNSUPPORTED_TYPE,
        None,
        None,
    ),
    ("bin value", pack({"type": "ping", "x": b"ab"}), ErrorCode.UNSUPPORTED_TYPE, None, None),
    (
        "empty bin value",
        pack({"type": "ping", "rid": 1, "x": [b""]}),
        ErrorCode.UNSUPPORTED_TYPE,
        {"x[0]": "bytes values are not allowed"},
        1,
    ),
    ("int map key", pack({"type": "ping", 1: 2}), ErrorCode.UNSUPPORTED_TYPE, None, None),
    (
        "empty bin map key",
        pack({"type": "ping", "rid": 2, "x": {b"": 1}}),
        ErrorCode.UNSUPPORTED_TYPE,
        {"x.b''": "map keys must be strings"},
        2,
    ),
    (
        "too deep for the walk",
        pack({"type": "ping", "rid": 5, "x": nested(16)}),
        ErrorCode.TOO_DEEP,
        {"x" + "[0]" * 15: "nested deeper than 16"},
        5,
    ),
    (
        "too deep for msgpack",
        b"\x81\xa1x" + b"\x91" * 5000 + b"\x00",
        ErrorCode.TOO_DEEP,
        None,
        None,
    ),
    (
        "too many items",
        pack({"type": "ping", "x": [0] * 10_001}),
        ErrorCode.TOO_MANY_ITEMS,
        None,
        None,
    ),
    (
        "string too long",
        pack({"type": "ping", "x": "a" * 65_537}),
        ErrorCode.STRING_TOO_LONG,
        None,
        None,
    ),
    (
        "nan anywhere",
        pack({"type": "ping", "rid": 3, "x": {"y": [1.0, NAN]}}),
        ErrorCode.NON_FINITE_NUMBER,
        {"x.y[1]": "must be finite"},
        3,
    ),
    (
        "infinite position",
        pack(
            {
                "type": "edit",
                "rid": 4,
                "world_id": "w",
                "ops": [dict(ADD, pos=[0.0, float("inf"), 0.0])],
            }
        ),
        ErrorCode.NON_FINITE_NUMBER,
        {"ops[0].pos[1]": "must be finite"},
        4,
    ),
    ("type missing", pack({"rid": 4}), ErrorCode.MISSING_FIELD, {"type": "required"}, 4),
    (
        "type not a string",
        pack({"type": 5, "rid": 4}),
        ErrorCode.WRONG_TYPE,
        {"type": "expected string"},
        4,
    ),
    ("unknown type", pack({"type": "teleport", "rid": 4}), ErrorCode.UNKNOWN_TYPE, None, 4),
    (
        "server type sent by client",
        pack({"type": "welcome", "rid": 4}),
        ErrorCode.UNKNOWN_TYPE,
        None,
        4,
    ),
    ("rid missing", pack({"type": "ping"}), ErrorCode.MISSING_FIELD, {"rid": "required"}, None),
    (
        "rid nil",
        pack({"type": "ping", "rid": None}),
        ErrorCode.MISSING_FIELD,
        {"rid": "required"},
        None,
    ),
    (
        "rid string",
        pack({"type": "ping", "rid": "3"}),
        ErrorCode.WRONG_TYPE,
        {"rid": "expected integer"},
        None,
    ),
    (
        "rid bool",
        pack({"type": "ping", "rid": True}),
        ErrorCode.WRONG_TYPE,
        {"rid": "expected integer"},
        None,
    ),
    (
        "rid float",
        pack({"type": "ping", "rid": 1.0}),
        ErrorCode.WRONG_TYPE,
        {"rid": "expected integer"},
        None,
    ),
    (
        "rid negative",
        pack({"type": "ping", "rid": -1}),
        ErrorCode.INVALID_VALUE,
        {"rid": "must be between 0 and 2147483647"},
        None,
    ),
    (
        "rid too big",
        pack({"type": "ping", "rid": 2**31}),
        ErrorCode.INVALID_VALUE,
        {"rid": "must be between 0 and 2147483647"},
        None,
    ),
    ("hello without v", pack({"type": "hello"}), ErrorCode.MISSING_FIELD, {"v": "required"}, None),
    (
        "hello client not a map",
        pack({"type": "hello", "v": 1, "client": "unity"}),
        ErrorCode.WRONG_TYPE,
        {"client": "expected map"},
        None,
    ),
    (
        "hello client name wrong type",
        pack({"type": "hello", "v": 1, "client": {"name": 3}}),
        ErrorCode.WRONG_TYPE,
        {"client.name": "expected string"},
        None,
    ),
    (
        "prompt too long",
        pack({"type": "prompt", "rid": 7, "prompt": "a" * 1001}),
        ErrorCode.INVALID_VALUE,
        {"prompt": "length must be between 1 and 1000"},
        7,
    ),
    (
        "prompt empty",
        pack({"type": "prompt", "rid": 7, "prompt": ""}),
        ErrorCode.INVALID_VALUE,
        {"prompt": "length must be between 1 and 1000"},
        7,
    ),
    (
        "prompt blank",
        pack({"type": "prompt", "rid": 7, "prompt": "  \n"}),
        ErrorCode.INVALID_VALUE,
        {"prompt": "must not be blank"},
        7,
    ),
    (
        "prompt options all wrong",
        pack(
            {
                "type": "prompt",
                "rid": 7,
                "prompt": "x",
                "world_type": "moon",
                "seed": -1,
                "max_instances": 0,
                "room": 1,
            }
        ),
        ErrorCode.INVALID_VALUE,
        {
            "world_type": "must be one of fantasy, sci_fi, realistic, surreal, historical, urban, nature, space",
            "seed": "must be between 0 and 9223372036854775807",
            "max_instances": "must be between 1 and 100000",
            "room": "expected boolean",
        },
        7,
    ),
    (
        "telemetry events missing",
        pack({"type": "telemetry", "rid": 9}),
        ErrorCode.MISSING_FIELD,
        {"events": "required"},
        9,
    ),
    (
        "telemetry events empty",
        pack({"type": "telemetry", "rid": 9, "events": []}),
        ErrorCode.INVALID_VALUE,
        {"events": "must have between 1 and 500 items"},
        9,
    ),
    (
        "telemetry too many events",
        pack({"type": "telemetry", "rid": 9, "events": [{"id": "e", "type": "t"}] * 501}),
        ErrorCode.INVALID_VALUE,
        {"events": "must have between 1 and 500 items"},
        9,
    ),
    (
        "telemetry event without id",
        pack({"type": "telemetry", "rid": 9, "events": [{"id": "a", "type": "t"}, {"type": "t"}]}),
        ErrorCode.MISSING_FIELD,
        {"events[1].id": "required"},
        9,
    ),
    (
        "telemetry event not a map",
        pack({"type": "telemetry", "rid": 9, "events": ["e1"]}),
        ErrorCode.WRONG_TYPE,
        {"events[0]": "expected map"},
        9,
    ),
    (
        "edit ops empty",
        pack({"type": "edit", "rid": 12, "world_id": "w", "ops": []}),
        ErrorCode.INVALID_VALUE,
        {"ops": "must have between 1 and 500 items"},
        12,
    ),
    (
        "edit too many ops",
        pack({"type": "edit", "rid": 12, "world_id": "w", "ops": [ADD] * 501}),
        ErrorCode.INVALID_VALUE,
        {"ops": "must have between 1 and 500 items"},
        12,
    ),
    (
        "edit every problem reported",
        pack(
            {
                "type": "edit",
                "rid": 12,
                "ops": [
                    {"op": "add", "pos": [1.0, 2.0]},
                    3,
                    {"op": "spin", "id": "i"},
                    {"id": "i"},
                    {"op": "move", "id": "i"},
                    {"op": "move", "id": "i", "rot": [0, 0, 0, 0]},
                    {"op": "set", "id": "i", "props": [1]},
                    {"op": "remove", "id": ""},
                    {"op": "add", "prefab_id": "r", "pos": [0, "a", 0]},
                ],
            }
        ),
        ErrorCode.MISSING_FIELD,
        {
            "world_id": "required",
            "ops[0].pos": "must have 3 numbers",
            "ops[0].prefab_id": "required",
            "ops[1]": "expected map",
            "ops[2].op": "must be one of add, move, set, remove",
            "ops[3].op": "required",
            "ops[4]": "move needs pos, rot or scale",
            "ops[5].rot": "quaternion must not be zero",
            "ops[6].props": "expected map",
            "ops[7].id": "length must be between 1 and 64",
            "ops[8].pos": "expected array of 3 numbers",
        },
        12,
    ),
    (
        "edit props too big",
        pack(
            {
                "type": "edit",
                "rid": 12,
                "world_id": "w",
                "ops": [{"op": "set", "id": "i", "props": {"k": "x" * 5000}}],
            }
        ),
        ErrorCode.INVALID_VALUE,
        {"ops[0].props": "larger than 4096 bytes packed"},
        12,
    ),
    (
        "presence bad cursor and selection",
        pack({"type": "presence", "world_id": "w", "cursor": [1.0], "selection": ["a", 3, ""]}),
        ErrorCode.INVALID_VALUE,
        {
            "cursor": "must have 3 numbers",
            "selection[1]": "expected string",
            "selection[2]": "bad id length",
        },
        None,
    ),
    (
        "join since_seq negative",
        pack({"type": "join", "rid": 1, "world_id": "w", "since_seq": -1}),
        ErrorCode.INVALID_VALUE,
        {"since_seq": "must be between 0 and 9223372036854775807"},
        1,
    ),
    (
        "world_id too long",
        pack({"type": "leave", "rid": 1, "world_id": "w" * 65}),
        ErrorCode.INVALID_VALUE,
        {"world_id": "length must be between 1 and 64"},
        1,
    ),
]


@pytest.mark.parametrize(
    ("frame", "code", "fields", "rid"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_invalid_client_frame_raises_documented_code_with_fields_and_rid(
    frame: bytes, code: ErrorCode, fields: dict[str, str] | None, rid: int | None
) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client(frame)
    assert info.value.code is code
    assert info.value.fields == fields
    assert info.value.rid == rid
    reply = info.value.reply()
    assert (reply.code, reply.name, reply.rid) == (int(code), code.wire_name, rid)


def test_every_decoding_error_code_has_a_case() -> None:
    decoding = {c for c in ErrorCode if 1000 <= c < 1100}
    assert {case[2] for case in ERROR_CASES} | {ErrorCode.FRAME_TOO_LARGE} == decoding


def test_frame_over_max_frame_bytes_is_refused_before_unpacking_and_forces_close_1009() -> None:
    frame = pack({"type": "ping", "rid": 1, "pad": "x" * 50})
    with pytest.raises(ProtocolError) as info:
        decode_client(frame, Limits(max_frame_bytes=len(frame) - 1))
    assert info.value.code is ErrorCode.FRAME_TOO_LARGE
    assert info.value.close_code is CloseCode.MESSAGE_TOO_BIG
    assert decode_client(frame, Limits(max_frame_bytes=len(frame))) == m.Ping(rid=1)


def test_default_frame_limit_is_one_mebibyte() -> None:
    frame = pack({"type": "ping", "rid": 1, "pad": "x" * 60_000})  # well under the limit
    assert DEFAULT_LIMITS.max_frame_bytes == 1 << 20
    big = b"\x00" * ((1 << 20) + 1)
    with pytest.raises(ProtocolError) as info:
        decode_client(big)
    assert info.value.code is ErrorCode.FRAME_TOO_LARGE
    assert decode_client(frame) == m.Ping(rid=1)


def test_other_errors_do_not_force_a_close() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client(b"\xc1")
    assert info.value.close_code is None


def test_custom_limits_apply_to_items_strings_and_depth() -> None:
    limits = Limits(max_items=3, max_str_len=4, max_depth=2)
    for obj, code in [
        ({"type": "ping", "rid": 1, "x": [1, 2, 3, 4]}, ErrorCode.TOO_MANY_ITEMS),
        ({"type": "ping", "rid": 1, "xxxxx": 1}, ErrorCode.STRING_TOO_LONG),
        ({"type": "ping", "rid": 1, "x": [[1]]}, ErrorCode.TOO_DEEP),
    ]:
        with pytest.raises(ProtocolError) as info:
            decode_client(pack(obj), limits)
        assert info.value.code is code
    assert decode_client(pack({"type": "ping", "rid": 1, "x": [1]}), limits) == m.Ping(rid=1)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    frame = pack({"type": "join", "rid": 1, "world_id": "w", "lod": 2, "extra": {"a": [1]}})
    assert decode_client(frame) == m.Join(rid=1, world_id="w")


def test_nil_optional_field_means_absent() -> None:
    frame = pack({"type": "prompt", "rid": 1, "prompt": "p", "seed": None, "room": None})
    assert decode_client(frame) == m.Prompt(rid=1, prompt="p", seed=None, room=True)


def test_integers_are_accepted_where_floats_are_specified() -> None:
    frame = pack({"type": "presence", "world_id": "w", "cursor": [1, 2, 3]})
    msg = decode_client(frame)
    assert isinstance(msg, m.Presence)
    assert msg.cursor == (1.0, 2.0, 3.0)
    assert all(type(x) is float for x in msg.cursor)


def test_one_bad_telemetry_event_is_set_aside_not_failing_the_batch() -> None:
    events = [
        {"id": "ok", "type": "t", "ts": 5},
        {"id": "bad-ts", "type": "t", "ts": "yesterday"},
        {"id": "big", "type": "t", "data": {"k": "x" * 9000}},
        {"id": "no-type"},
    ]
    msg = decode_client(pack({"type": "telemetry", "rid": 9, "events": events}))
    assert msg == m.Telemetry(
        rid=9,
        events=(val.TelemetryEvent(id="ok", type="t", ts=5.0),),
        rejected=(
            {"id": "bad-ts", "code": 1011, "message": "events[1].ts: expected number"},
            {"id": "big", "code": 1012, "message": "events[2].data: larger than 8192 bytes packed"},
            {"id": "no-type", "code": 1010, "message": "events[3].type: required"},
        ),
    )


def test_decode_server_reports_missing_and_wrong_fields() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_server(pack({"type": "pong", "rid": "1"}))
    assert info.value.code is ErrorCode.WRONG_TYPE
    assert info.value.fields == {"rid": "expected int", "server_time": "required"}
    with pytest.raises(ProtocolError) as info:
        decode_server(
            pack(
                {
                    "type": "gen.done",
                    "rid": 2,
                    "world_id": "w",
                    "status": "meh",
                    "instances": 0,
                    "chunks": 0,
                    "timings": {},
                }
            )
        )
    assert info.value.code is ErrorCode.INVALID_VALUE
    assert info.value.rid == 2
    with pytest.raises(ProtocolError) as info:
        decode_server(pack({"type": "ping", "rid": 1}))
    assert info.value.code is ErrorCode.UNKNOWN_TYPE
