"""The one instance record (records/): its forms agree with each other and with the protocol's
frames, and splicing packed chunks keeps every instance, in order, byte for byte."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from protocol import messages as m
from protocol.codec import (
    decode_server,
    encode,
    encode_joined_packed,
    encode_presence_batch,
    encode_snapshot_packed,
    pack_header,
    pack_member,
    pack_members,
)
from records import InstanceRecord, array_header, generated, pack_generated, pack_records, spliced, unpack_records

REC = InstanceRecord("i00001", "oak_tree", "environment", (3.0, 0.5, -3.0), (0.0, 0.38268343, 0.0, 0.92387953),
                     (1.25, 1.25, 1.25), {"attributes": ["mossy"]})


def _records(n: int, props_size: int = 0) -> list[InstanceRecord]:
    return [REC._replace(id=f"i{k:05d}", pos=(float(k), 0.0, -float(k)), props={"p": "x" * (props_size * (k % 3))})
            for k in range(n)]


def test_the_forms_of_a_record_agree() -> None:
    wire = REC.wire()
    assert wire == {"id": "i00001", "prefab_id": "oak_tree", "prefab_type": "environment", "pos": [3.0, 0.5, -3.0],
                    "rot": [0.0, 0.38268343, 0.0, 0.92387953], "scale": [1.25, 1.25, 1.25],
                    "props": {"attributes": ["mossy"]}}
    assert InstanceRecord.from_wire(wire) == REC
    assert REC.blueprint() == {"id": "i00001", "prefab_id": "oak_tree", "prefab_type": "environment",
                               "position": {"x": 3.0, "y": 0.5, "z": -3.0},
                               "rotation": {"x": 0.0, "y": 0.38268343, "z": 0.0, "w": 0.92387953},
                               "scale": {"x": 1.25, "y": 1.25, "z": 1.25}, "properties": {"attributes": ["mossy"]}}
    row = SimpleNamespace(id=REC.id, **dict(zip(("prefab_id", "prefab_type", "px", "py", "pz", "rx", "ry", "rz", "rw",
                                                 "sx", "sy", "sz", "props"), REC.columns(), strict=True)))
    assert InstanceRecord.from_row(row) == REC
    # an added instance without rot, scale or props: identity, one, none
    bare = InstanceRecord.from_wire({"id": "a", "prefab_id": "rock", "prefab_type": "rock", "pos": [1, 2, 3]})
    assert (bare.rot, bare.scale, bare.props) == ((0.0, 0.0, 0.0, 1.0), (1.0, 1.0, 1.0), {})


def test_generator_rows_pack_as_their_records_and_as_the_protocols_instances() -> None:
    rows = [("i00001", "oak_tree", "environment", 3.0, 0.5, -3.0, (0.0, 0.38268343, 0.0, 0.92387953), 1.25,
             {"attributes": ["mossy"]})]
    assert generated(rows) == [REC]
    assert pack_generated(rows) == pack_records([REC]) == msgpack.packb([REC.wire()])
    frame = encode(m.GenChunk(rid=1, world_id="w", index=0, instances=[REC.wire()]))  # type: ignore[list-item]
    assert pack_generated(rows) in frame
    assert unpack_records(pack_generated(rows)) == [REC]


@given(n=st.integers(0, 70_000))
def test_an_array_header_is_msgpacks(n: int) -> None:
    assert array_header(n) == msgpack.packb([None] * n)[: len(array_header(n))]


@given(sizes=st.lists(st.integers(0, 40), max_size=8), max_items=st.integers(1, 50),
       max_bytes=st.integers(1, 4000), props_size=st.integers(0, 200))
def test_spliced_chunks_hold_every_instance_in_order_within_the_bounds(sizes: list[int], max_items: int,
                                                                       max_bytes: int, props_size: int) -> None:
    records = _records(sum(sizes), props_size)
    chunks, at = [], 0
    for size in sizes:
        chunks.append(pack_records(records[at:at + size]))
        at += size
    parts = list(spliced(chunks, max_items, max_bytes))
    assert [r for _, part in parts for r in unpack_records(part)] == records
    for count, part in parts:
        items = msgpack.unpackb(part)
        assert count == len(items) and 1 <= count <= max_items
        assert count == 1 or len(part) - len(array_header(count)) <= max_bytes  # one big instance alone


def test_a_stored_chunk_of_a_whole_frame_is_sent_as_it_is() -> None:
    chunks = [pack_records(_records(128)[a:a + 64]) for a in (0, 64)]
    parts = list(spliced(chunks, 64, 1 << 20))
    assert [part for _, part in parts] == chunks and parts[0][1] is chunks[0]


def test_a_spliced_snapshot_frame_is_the_frame_the_codec_encodes() -> None:
    records = _records(5, 10)
    header: dict[str, Any] = {"title": "Pond", "bounds": {"min": [-1.0, 0.0, -1.0], "max": [1.0, 2.0, 1.0]}}
    for head in (header, None):
        expected = encode(m.Snapshot(rid=7, world_id="w1", seq=3, index=0, last=head is None,
                                     instances=[r.wire() for r in records], header=head))  # type: ignore[misc]
        assert encode_snapshot_packed(7, "w1", 3, 0, head is None, pack_records(records), head) == expected
        packed_head = None if head is None else pack_header(head)
        assert encode_snapshot_packed(7, "w1", 3, 0, head is None, pack_records(records), packed_head) == expected
        assert decode_server(expected).instances[4]["id"] == "i00004"  # type: ignore[union-attr]


def test_a_batched_presence_frame_is_the_frame_the_codec_encodes() -> None:
    members = [{"user_id": f"u{k}", "display_name": "A", "role": "viewer", "session_id": f"s{k}"} for k in range(3)]
    batch = encode_presence_batch("w1", "join", [pack_member(mm) for mm in members])
    assert batch == encode(m.PresenceEvent(world_id="w1", event="join", member=members[0],  # type: ignore[arg-type]
                                           members=members))  # type: ignore[arg-type]
    assert decode_server(batch).members == tuple(members)  # type: ignore[union-attr]
    one = encode_presence_batch("w1", "leave", [pack_member(members[1])])
    assert one == encode(m.PresenceEvent(world_id="w1", event="leave", member=members[1]))  # type: ignore[arg-type]


def test_a_joined_frame_around_a_member_list_packed_once_is_the_frame_the_codec_encodes() -> None:
    members = [{"user_id": f"u{k}", "display_name": "A", "role": "viewer", "session_id": f"s{k}"} for k in range(20)]
    for listed in (members[:0], members[:1], members):
        expected = encode(m.Joined(rid=5, world_id="w1", seq=3, role="editor", mode="snapshot",
                                   members=listed))  # type: ignore[arg-type]
        assert encode_joined_packed(5, "w1", 3, "editor", "snapshot", pack_members(listed)) == expected
