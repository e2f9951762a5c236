"""The telemetry fast path (`protocol._decoders.decode_fast`) agrees with the general path.

The general path walks the whole frame (docs/protocol.md §2.3), then reads each event field by
field (§7.3). The fast path may only answer for frames that path accepts unchanged, with the
same message; for anything else it must say None so that the general path reports the problem
with its usual code and field path. These properties compare the two on generated frames, good
and bad, and `decode_client` against the general path end to end.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import ProtocolError, decode_client
from protocol import messages as m
from protocol._decoders import CLIENT_DECODERS, decode_fast
from protocol._reader import FieldErrors, Reader, walk
from protocol.codes import ErrorCode
from protocol.limits import DEFAULT_LIMITS, Limits

MANY = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Small limits, so that generated frames cross every one of them.
TIGHT = Limits(max_depth=6, max_id_chars=8, max_telemetry_events=6, max_event_data_bytes=40)


def general(obj: dict[str, Any], lim: Limits) -> m.ClientMessage:
    """What decode_client did before the fast path: walk, then the field decoder."""
    try:
        walk(obj, lim.max_depth)
        return CLIENT_DECODERS["telemetry"](Reader(obj, FieldErrors()), lim)
    except ProtocolError as exc:
        rid = obj.get("rid")
        exc.rid = rid if type(rid) is int and 0 <= rid <= 2**31 - 1 else None
        raise


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ProtocolError as exc:
        return ("error", exc.code, exc.message, exc.fields, exc.rid)


def event(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"e-{i}", "type": "teleport", "ts": 1_767_222_001.5 + i, "world_id": "w_3f2a",
            "data": {"to": [1.0, 0.0, float(i)]}, **fields}


# --- generated frames: mostly valid, each field sometimes broken in one of the ways §2.3/§7.3 name

leaf = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=6)
        | st.floats(allow_nan=True, allow_infinity=True) | st.just(b""))
anything = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=4) | st.just(b""), inner, max_size=3), max_leaves=10)
short_text = st.text(min_size=1, max_size=8)
plain = st.none() | st.booleans() | st.integers(-9, 9) | st.floats(-1e3, 1e3) | st.text(max_size=3)
valid_data = st.dictionaries(st.text(max_size=4), plain | st.lists(plain, max_size=3), max_size=3)
FIELDS = {  # name: (valid values, broken values)
    "id": (short_text, st.just("") | st.text(min_size=9, max_size=12) | anything),
    "type": (short_text, st.just("") | st.text(min_size=9, max_size=12) | anything),
    "ts": (st.floats(0, 1e11) | st.integers(0, 10**11),
           st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 10**12) | st.booleans() | anything),
    "world_id": (st.none() | short_text, st.just("") | st.text(min_size=9, max_size=12) | anything),
    "experience_id": (st.none() | short_text, st.just("") | anything),
    "data": (st.none() | valid_data, st.dictionaries(st.text(max_size=4) | st.just(b""), anything, max_size=3)
             | anything),
}


def sometimes_broken(draw: st.DrawFn, valid: Any, broken: Any) -> Any:
    return draw(broken if draw(st.integers(0, 11)) == 0 else valid)


@st.composite
def events(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 40)) == 0:
        return draw(anything)  # not a map at all
    ev: dict[Any, Any] = {}
    for name, (valid, broken) in FIELDS.items():
        if name in ("id", "type") or draw(st.integers(0, 3)):  # optional fields mostly present
            ev[name] = sometimes_broken(draw, valid, broken)
    if draw(st.integers(0, 10)) == 0:  # an unknown field, which must still be a valid value
        ev[draw(st.text(max_size=4) | st.just(b""))] = sometimes_broken(draw, plain, anything)
    return ev


@st.composite
def frames(draw: st.DrawFn) -> dict[Any, Any]:
    obj: dict[Any, Any] = {
        "type": "telemetry",
        "rid": sometimes_broken(draw, st.integers(0, 2**31 - 1), st.integers(-3, 2**32) | anything),
        "events": sometimes_broken(draw, st.lists(events(), min_size=1, max_size=TIGHT.max_telemetry_events),
                                   st.lists(events(), max_size=9) | anything)}
    if draw(st.integers(0, 10)) == 0:
        obj[draw(st.text(max_size=4))] = sometimes_broken(draw, plain, anything)
    if draw(st.integers(0, 20)) == 0:
        del obj[draw(st.sampled_from(["rid", "events"]))]
    return obj


@MANY
@given(frames())
def test_the_fast_path_answers_only_what_the_general_path_accepts_and_agrees(obj: dict[Any, Any]) -> None:
    fast = decode_fast(obj, TIGHT)
    if fast is not None:
        expected = general(obj, TIGHT)
        assert fast == expected and isinstance(expected, m.Telemetry) and expected.rejected == ()


@MANY
@given(frames())
def test_decode_client_answers_every_telemetry_frame_as_the_general_path_does(obj: dict[Any, Any]) -> None:
    frame = msgpack.packb(obj, use_bin_type=True)
    decoded = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    assert outcome(decode_client, frame, TIGHT) == outcome(general, decoded, TIGHT)


# --- the fast path is really taken, and refuses each kind of problem ---------------------------

def test_a_well_formed_batch_takes_the_fast_path() -> None:
    obj = {"type": "telemetry", "rid": 21, "events": [event(i) for i in range(498)]
           + [{"id": "bare", "type": "t"}, event(7, ts=17, data={}, experience_id="x", extra=[1, {"a": None}])]}
    fast = decode_fast(obj, DEFAULT_LIMITS)
    assert isinstance(fast, m.Telemetry) and len(fast.events) == 500
    assert fast == general(obj, DEFAULT_LIMITS)
    assert fast.events[-1].ts == 17.0 and type(fast.events[-1].ts) is float


@pytest.mark.parametrize("change", [
    {"ts": math.nan}, {"ts": math.inf}, {"ts": -1.0}, {"ts": 1e11 + 1}, {"ts": True}, {"ts": "1"},
    {"id": ""}, {"id": "x" * 65}, {"id": 5}, {"type": None}, {"world_id": ""}, {"experience_id": 1},
    {"data": []}, {"data": {"blob": "x" * 9000}}, {"data": {"v": math.nan}}, {"data": {"b": b""}},
    {"data": {b"": 1}}, {"extra": math.inf}, {"extra": [b""]}, {b"": 1},
])
def test_an_event_the_general_path_would_refuse_or_reject_is_left_to_it(change: dict[Any, Any]) -> None:
    obj = {"type": "telemetry", "rid": 3, "events": [event(0), {**event(1), **change}]}
    assert decode_fast(obj, DEFAULT_LIMITS) is None
    assert outcome(general, obj, DEFAULT_LIMITS) != outcome(general, {**obj, "events": [event(0), event(1)]},
                                                            DEFAULT_LIMITS)


def test_nesting_below_the_depth_limit_is_left_to_the_walk() -> None:
    deep: Any = 1.0
    for _ in range(DEFAULT_LIMITS.max_depth):
        deep = [deep]
    obj = {"type": "telemetry", "rid": 4, "events": [event(0, data={"d": deep})]}
    assert decode_fast(obj, DEFAULT_LIMITS) is None
    with pytest.raises(ProtocolError) as err:
        decode_client(msgpack.packb(obj), DEFAULT_LIMITS)
    assert err.value.code == ErrorCode.TOO_DEEP and err.value.rid == 4


@pytest.mark.parametrize("frame", [
    {"type": "telemetry", "rid": -1, "events": [event(0)]},
    {"type": "telemetry", "rid": 1, "events": []},
    {"type": "telemetry", "rid": 1, "events": [event(i) for i in range(501)]},
    {"type": "telemetry", "rid": 1, "events": [event(0), "not a map"]},
    {"type": "telemetry", "rid": 1, "events": [event(0)], "note": math.nan},
    {"type": "telemetry", "events": [event(0)]},
    {"type": "ping", "rid": 1},
])
def test_a_bad_frame_or_another_type_is_left_to_the_general_path(frame: dict[str, Any]) -> None:
    assert decode_fast(frame, DEFAULT_LIMITS) is None
