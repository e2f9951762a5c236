"""Hypothesis properties: round trips in both directions, and a fuzz that decoding only ever
raises ProtocolError (docs/protocol.md §8.1: nothing a client sends can crash the session loop).
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import ProtocolError, decode_client, decode_server, encode
from protocol import messages as m
from protocol import values as val

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.text(min_size=1, max_size=64)
rids = st.integers(0, 2**31 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)
vec3 = st.tuples(finite, finite, finite)
quat = st.tuples(finite, finite, finite, finite).filter(lambda q: sum(x * x for x in q) >= 1e-12)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | finite | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
json_map = st.dictionaries(st.text(max_size=8), json_value, max_size=5)
opt = st.none


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


ops = st.one_of(
    st.builds(
        val.AddOp,
        prefab_id=st.text(min_size=1, max_size=128),
        pos=vec3,
        id=optional(ids),
        rot=optional(quat),
        scale=optional(vec3),
        props=optional(json_map),
    ),
    st.builds(val.MoveOp, id=ids, pos=vec3, rot=optional(quat), scale=optional(vec3)),
    st.builds(val.MoveOp, id=ids, rot=quat),
    st.builds(val.SetOp, id=ids, props=json_map),
    st.builds(val.RemoveOp, id=ids),
)
events = st.builds(
    val.TelemetryEvent,
    id=ids,
    type=ids,
    ts=optional(st.floats(0, 1e11)),
    world_id=optional(ids),
    experience_id=optional(ids),
    data=optional(json_map),
)

CLIENT_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {
    m.Hello: st.builds(
        m.Hello,
        v=st.integers(1, 2**31 - 1),
        token=optional(st.text(min_size=1, max_size=300)),
        client=optional(st.builds(val.ClientInfo, name=optional(ids), version=optional(ids))),
    ),
    m.AuthRefresh: st.builds(m.AuthRefresh, rid=rids, token=st.text(min_size=1, max_size=300)),
    m.Ping: st.builds(m.Ping, rid=rids),
    m.Prompt: st.builds(
        m.Prompt,
        rid=rids,
        prompt=st.text(min_size=1, max_size=1000).filter(str.strip),
        world_type=optional(st.sampled_from(val.WORLD_TYPES)),
        seed=optional(st.integers(0, 2**63 - 1)),
        max_instances=optional(st.integers(1, 100_000)),
        room=st.booleans(),
    ),
    m.Cancel: st.builds(m.Cancel, rid=rids, target=rids),
    m.Telemetry: st.builds(
        m.Telemetry, rid=rids, events=st.lists(events, min_size=1, max_size=5).map(tuple)
    ),
    m.Join: st.builds(
        m.Join, rid=rids, world_id=ids, since_seq=optional(st.integers(0, 2**63 - 1))
    ),
    m.Leave: st.builds(m.Leave, rid=rids, world_id=ids),
    m.Edit: st.builds(
        m.Edit, rid=rids, world_id=ids, ops=st.lists(ops, min_size=1, max_size=5).map(tuple)
    ),
    m.Presence: st.builds(
        m.Presence,
        world_id=ids,
        cursor=optional(vec3),
        selection=optional(st.lists(ids, max_size=5).map(tuple)),
    ),
}

client_messages = st.one_of(*CLIENT_STRATEGIES.values())

wire_vec = st.lists(finite, min_size=3, max_size=3)
instances = st.fixed_dictionaries(
    {
        "id": ids,
        "prefab_id": ids,
        "prefab_type": ids,
        "pos": wire_vec,
        "rot": st.lists(finite, min_size=4, max_size=4),
        "scale": wire_vec,
        "props": json_map,
    }
)
members = st.fixed_dictionaries(
    {
        "user_id": ids,
        "display_name": st.text(max_size=20),
        "role": st.sampled_from(["owner", "editor", "viewer"]),
        "session_id": ids,
    }
)
def tuples_of(s: Any) -> Any:
    return st.lists(s, max_size=4).map(tuple)

SERVER_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {
    m.Welcome: st.builds(
        m.Welcome,
        session_id=ids,
        user_id=ids,
        server_version=ids,
        protocol=st.integers(1, 9),
        heartbeat_s=finite,
        limits=st.dictionaries(ids, finite, max_size=4),
    ),
    m.AuthOk: st.builds(m.AuthOk, rid=rids, user_id=ids, expires_at=finite),
    m.Pong: st.builds(m.Pong, rid=rids, server_time=finite),
    m.GenStart: st.builds(m.GenStart, rid=rids, world_id=ids, session_id=ids, header=json_map),
    m.GenChunk: st.builds(
        m.GenChunk,
        rid=rids,
        world_id=ids,
        index=st.integers(0, 10_000),
        instances=tuples_of(instances),
    ),
    m.GenDone: st.builds(
        m.GenDone,
        rid=rids,
        world_id=ids,
        status=st.sampled_from(["complete", "cancelled", "failed"]),
        instances=st.integers(0, 10**6),
        chunks=st.integers(0, 10**4),
        timings=st.dictionaries(ids, finite, max_size=3),
        warnings=tuples_of(st.text(max_size=30)),
    ),
    m.Cancelled: st.builds(m.Cancelled, rid=rids, target=rids),
    m.TelemetryAck: st.builds(
        m.TelemetryAck,
        rid=rids,
        ids=tuples_of(ids),
        duplicates=tuples_of(ids),
        rejected=tuples_of(
            st.fixed_dictionaries(
                {"id": ids, "code": st.integers(1000, 1299), "message": st.text(max_size=30)}
            )
        ),
    ),
    m.Joined: st.builds(
        m.Joined,
        rid=rids,
        world_id=ids,
        seq=st.integers(0, 2**63 - 1),
        role=st.sampled_from(["owner", "editor", "viewer"]),
        mode=st.sampled_from(["snapshot", "replay"]),
        members=tuples_of(members),
    ),
    m.Snapshot: st.builds(
        m.Snapshot,
        rid=rids,
        world_id=ids,
        seq=st.integers(0, 2**40),
        index=st.integers(0, 99),
        last=st.booleans(),
        instances=tuples_of(instances),
        header=optional(json_map),
    ),
    m.WorldOp: st.builds(
        m.WorldOp, world_id=ids, seq=st.integers(1, 2**40), author=ids, ops=tuples_of(ops)
    ),
    m.EditAck: st.builds(
        m.EditAck,
        rid=rids,
        world_id=ids,
        seq=st.integers(0, 2**40),
        results=tuples_of(
            st.fixed_dictionaries(
                {
                    "i": st.integers(0, 499),
                    "outcome": st.sampled_from(["applied", "superseded", "noop"]),
                    "id": ids,
                }
            )
        ),
    ),
    m.Left: st.builds(m.Left, rid=rids, world_id=ids),
    m.PresenceEvent: st.builds(
        m.PresenceEvent,
        world_id=ids,
        event=st.sampled_from(["update", "join", "leave"]),
        member=members,
        cursor=optional(st.tuples(finite, finite, finite)),
        selection=optional(tuples_of(ids)),
    ),
    m.Error: st.builds(
        m.Error,
        code=st.integers(1000, 1299),
        name=ids,
        message=st.text(max_size=50),
        rid=optional(rids),
        fields=optional(st.dictionaries(ids, st.text(max_size=20), min_size=1, max_size=3)),
        retry_after_s=optional(finite),
    ),
    m.Bye: st.builds(
        m.Bye,
        code=st.integers(1000, 4999),
        reason=st.text(max_size=30),
        reconnect=st.booleans(),
        retry_after_s=optional(finite),
        supported_versions=optional(tuples_of(st.integers(1, 9))),
        message=optional(st.text(max_size=30)),
    ),
}

server_messages = st.one_of(*SERVER_STRATEGIES.values())


@FAST
@given(client_messages)
def test_every_valid_client_message_round_trips(msg: m.ClientMessage) -> None:
    assert decode_client(encode(msg)) == msg


@FAST
@given(server_messages)
def test_every_server_message_round_trips(msg: m.ServerMessage) -> None:
    assert decode_server(encode(msg)) == msg


def test_strategies_cover_every_message_type() -> None:
    assert set(CLIENT_STRATEGIES) == set(m.CLIENT_MESSAGES.values())
    assert set(SERVER_STRATEGIES) == set(m.SERVER_MESSAGES.values())


# --- fuzz: only ProtocolError, never anything else -------------------------------------------

any_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=4)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=3)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=6) | st.integers(0, 3) | st.binary(max_size=2), inner, max_size=4
        )
    ),
    max_leaves=20,
)


def loose_map(
    keys: list[str], **fixed: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Maps with the right keys (each maybe present) holding clean but arbitrary values.

    Clean (JSON-like) values get past the frame walk and reach the field decoders, which is
    where a missed type check would crash; hostile values are covered by the other fuzzers.
    """
    return st.fixed_dictionaries(
        fixed, optional={k: small_json | st.lists(finite, max_size=5) for k in keys}
    )


small_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | finite | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
OP_KEYS = ["id", "pos", "rot", "scale", "props", "prefab_id"]
loose_op = loose_map(OP_KEYS, op=st.sampled_from(["add", "move", "set", "remove"]) | small_json)
NESTED: dict[str, st.SearchStrategy[Any]] = {
    "ops": st.lists(loose_op, max_size=3),
    "events": st.lists(
        loose_map(["id", "type", "ts", "world_id", "experience_id", "data"]), max_size=3
    ),
    "client": loose_map(["name", "version"]),
    "member": loose_map(["user_id", "display_name", "role", "session_id"]),
}


def loose_frame(kind: str, cls: type) -> st.SearchStrategy[dict[str, Any]]:
    return loose_map(
        [],
        type=st.just(kind),
        **{name: small_json | NESTED.get(name, small_json) for name in m.wire_fields(cls)},
    )


def decode_or_protocol_error(data: bytes) -> None:
    for decode in (decode_client, decode_server):
        try:
            decode(data)
        except ProtocolError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_protocol_error(data: bytes) -> None:
    decode_or_protocol_error(data)


@pytest.mark.parametrize("kind", [*m.CLIENT_MESSAGES, *m.SERVER_MESSAGES])
def test_message_shaped_garbage_only_raises_protocol_error(kind: str) -> None:
    cls = m.CLIENT_MESSAGES.get(kind) or m.SERVER_MESSAGES[kind]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(loose_frame(kind, cls))
    def check(frame: dict[str, Any]) -> None:
        decode_or_protocol_error(msgpack.packb(frame, use_bin_type=True))

    check()


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text(max_size=6) | st.sampled_from(["type", "rid"]), any_value, max_size=4)
)
def test_hostile_maps_only_raise_protocol_error(frame: dict[Any, Any]) -> None:
    decode_or_protocol_error(msgpack.packb(frame, use_bin_type=True))


@settings(max_examples=300, deadline=None)
@given(client_messages, st.data())
def test_mutated_valid_frames_only_raise_protocol_error(
    msg: m.ClientMessage, data: st.DataObject
) -> None:
    frame = bytearray(encode(msg))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = data.draw(st.integers(0, max(len(frame) - 1, 0)))
        if action == "flip" and frame:
            frame[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            frame[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and frame:
            del frame[at]
        else:
            del frame[at:]
    decode_or_protocol_error(bytes(frame))


def test_decoded_floats_are_always_finite() -> None:
    # The walk refuses NaN/Inf before field validation ever sees them (§2.3).
    frame = msgpack.packb({"type": "presence", "world_id": "w", "cursor": [math.nan, 0.0, 0.0]})
    try:
        decode_client(frame)
    except ProtocolError as exc:
        assert exc.fields == {"cursor[0]": "must be finite"}
    else:
        raise AssertionError("NaN cursor was accepted")
