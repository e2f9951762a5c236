"""Golden byte tables, h11 ``SIMPLE_CASES`` style: every message type ⇄ its exact bytes.

Keys follow the message table order of docs/protocol.md §5; optional fields without a value are
absent on the wire (§2.4). A change here is a wire change: bump the protocol version or justify.
"""

from __future__ import annotations

import pytest

from protocol import decode_client, decode_server, encode, encode_gen_chunk, encode_raw
from protocol import messages as m
from protocol import values as val
from protocol.codec import encode_gen_chunk_packed, pack_instances

INST: val.Instance = {
    "id": "i1",
    "prefab_id": "rock",
    "prefab_type": "rock",
    "pos": [0.5, 0.0, 1.0],
    "rot": [0.0, 0.0, 0.0, 1.0],
    "scale": [1.0, 1.0, 1.0],
    "props": {},
}
MEMBER: val.Member = {"user_id": "u1", "display_name": "Ada", "role": "owner", "session_id": "s1"}

CLIENT_CASES: list[tuple[object, str]] = [
    (
        m.Hello(v=1),
        "82a474797065a568656c6c6fa17601",
    ),
    (
        m.Hello(v=1, token="t", client=val.ClientInfo(name="unity", version="6")),
        (
            "84a474797065a568656c6c6fa17601a5746f6b656ea174a6636c69656e7482a46e616d65a5756e69"
            "7479a776657273696f6ea136"
        ),
    ),
    (
        m.AuthRefresh(rid=1, token="t2"),
        "83a474797065ac617574682e72656672657368a372696401a5746f6b656ea27432",
    ),
    (
        m.Ping(rid=3),
        "82a474797065a470696e67a372696403",
    ),
    (
        m.Prompt(rid=7, prompt="forest"),
        "84a474797065a670726f6d7074a372696407a670726f6d7074a6666f72657374a4726f6f6dc3",
    ),
    (
        m.Prompt(
            rid=7, prompt="forest", world_type="nature", seed=42, max_instances=300, room=False
        ),
        (
            "87a474797065a670726f6d7074a372696407a670726f6d7074a6666f72657374aa776f726c645f74"
            "797065a66e6174757265a4736565642aad6d61785f696e7374616e636573cd012ca4726f6f6dc2"
        ),
    ),
    (
        m.Cancel(rid=8, target=7),
        "83a474797065a663616e63656ca372696408a674617267657407",
    ),
    (
        m.Telemetry(
            rid=9,
            events=(
                val.TelemetryEvent(
                    id="e1", type="tp", ts=1.5, world_id="w1", experience_id="x1", data={"k": 1}
                ),
            ),
        ),
        (
            "83a474797065a974656c656d65747279a372696409a66576656e74739186a26964a26531a4747970"
            "65a27470a27473cb3ff8000000000000a8776f726c645f6964a27731ad657870657269656e63655f"
            "6964a27831a46461746181a16b01"
        ),
    ),
    (
        m.Join(rid=10, world_id="w1"),
        "83a474797065a46a6f696ea37269640aa8776f726c645f6964a27731",
    ),
    (
        m.Join(rid=10, world_id="w1", since_seq=17),
        "84a474797065a46a6f696ea37269640aa8776f726c645f6964a27731a973696e63655f73657111",
    ),
    (
        m.Leave(rid=11, world_id="w1"),
        "83a474797065a56c65617665a37269640ba8776f726c645f6964a27731",
    ),
    (
        m.Edit(
            rid=12,
            world_id="w1",
            ops=(
                val.AddOp(prefab_id="rock", pos=(1.0, 0.0, 2.0)),
                val.MoveOp(id="i1", rot=(0.0, 1.0, 0.0, 0.0)),
                val.SetOp(id="i1", props={"tint": "red"}),
                val.RemoveOp(id="i2"),
            ),
        ),
        (
            "84a474797065a465646974a37269640ca8776f726c645f6964a27731a36f70739483a26f70a36164"
            "64a97072656661625f6964a4726f636ba3706f7393cb3ff0000000000000cb0000000000000000cb"
            "400000000000000083a26f70a46d6f7665a26964a26931a3726f7494cb0000000000000000cb3ff0"
            "000000000000cb0000000000000000cb000000000000000083a26f70a3736574a26964a26931a570"
            "726f707381a474696e74a372656482a26f70a672656d6f7665a26964a26932"
        ),
    ),
    (
        m.Presence(world_id="w1"),
        "82a474797065a870726573656e6365a8776f726c645f6964a27731",
    ),
    (
        m.Presence(world_id="w1", cursor=(1.0, 2.0, 3.0), selection=("i1",)),
        (
            "84a474797065a870726573656e6365a8776f726c645f6964a27731a6637572736f7293cb3ff00000"
            "00000000cb4000000000000000cb4008000000000000a973656c656374696f6e91a26931"
        ),
    ),
]

SERVER_CASES: list[tuple[object, str]] = [
    (
        m.Welcome(
            session_id="s1",
            user_id="u1",
            server_version="0.1.0",
            protocol=1,
            heartbeat_s=15.0,
            limits={"chunk_size": 256},
        ),
        (
            "87a474797065a777656c636f6d65aa73657373696f6e5f6964a27331a7757365725f6964a27531ae"
            "7365727665725f76657273696f6ea5302e312e30a870726f746f636f6c01ab686561727462656174"
            "5f73cb402e000000000000a66c696d69747381aa6368756e6b5f73697a65cd0100"
        ),
    ),
    (
        m.AuthOk(rid=1, user_id="u1", expires_at=1767225600.0),
        (
            "84a474797065a7617574682e6f6ba372696401a7757365725f6964a27531aa657870697265735f61"
            "74cb41da556e40000000"
        ),
    ),
    (
        m.Pong(rid=3, server_time=1.25),
        "83a474797065a4706f6e67a372696403ab7365727665725f74696d65cb3ff4000000000000",
    ),
    (
        m.GenStart(rid=7, world_id="w1", session_id="s1", header={"title": "Forest"}),
        (
            "85a474797065a967656e2e7374617274a372696407a8776f726c645f6964a27731aa73657373696f"
            "6e5f6964a27331a668656164657281a57469746c65a6466f72657374"
        ),
    ),
    (
        m.GenChunk(rid=7, world_id="w1", index=0, instances=(INST,)),
        (
            "85a474797065a967656e2e6368756e6ba372696407a8776f726c645f6964a27731a5696e64657800"
            "a9696e7374616e6365739187a26964a26931a97072656661625f6964a4726f636bab707265666162"
            "5f74797065a4726f636ba3706f7393cb3fe0000000000000cb0000000000000000cb3ff000000000"
            "0000a3726f7494cb0000000000000000cb0000000000000000cb0000000000000000cb3ff0000000"
            "000000a57363616c6593cb3ff0000000000000cb3ff0000000000000cb3ff0000000000000a57072"
            "6f707380"
        ),
    ),
    (
        m.GenDone(
            rid=7,
            world_id="w1",
            status="complete",
            instances=1,
            chunks=1,
            timings={"plan_ms": 1.0, "total_ms": 2.0},
            warnings=(),
        ),
        (
            "88a474797065a867656e2e646f6e65a372696407a8776f726c645f6964a27731a6737461747573a8"
            "636f6d706c657465a9696e7374616e63657301a66368756e6b7301a774696d696e677382a7706c61"
            "6e5f6d73cb3ff0000000000000a8746f74616c5f6d73cb4000000000000000a87761726e696e6773"
            "90"
        ),
    ),
    (
        m.Cancelled(rid=8, target=7),
        "83a474797065a963616e63656c6c6564a372696408a674617267657407",
    ),
    (
        m.TelemetryAck(
            rid=9,
            ids=("e1", "e2"),
            duplicates=("e2",),
            rejected=({"id": "e3", "code": 1010, "message": "events[2].type: required"},),
        ),
        (
            "85a474797065ad74656c656d657472792e61636ba372696409a369647392a26531a26532aa647570"
            "6c69636174657391a26532a872656a65637465649183a26964a26533a4636f6465cd03f2a76d6573"
            "73616765b86576656e74735b325d2e747970653a207265717569726564"
        ),
    ),
    (
        m.Joined(rid=10, world_id="w1", seq=17, role="owner", mode="snapshot", members=(MEMBER,)),
        (
            "87a474797065a66a6f696e6564a37269640aa8776f726c645f6964a27731a373657111a4726f6c65"
            "a56f776e6572a46d6f6465a8736e617073686f74a76d656d626572739184a7757365725f6964a275"
            "31ac646973706c61795f6e616d65a3416461a4726f6c65a56f776e6572aa73657373696f6e5f6964"
            "a27331"
        ),
    ),
    (
        m.Snapshot(
            rid=10,
            world_id="w1",
            seq=17,
            index=0,
            last=True,
            instances=(INST,),
            header={"status": "complete"},
        ),
        (
            "88a474797065a8736e617073686f74a37269640aa8776f726c645f6964a27731a373657111a5696e"
            "64657800a46c617374c3a9696e7374616e6365739187a26964a26931a97072656661625f6964a472"
            "6f636bab7072656661625f74797065a4726f636ba3706f7393cb3fe0000000000000cb0000000000"
            "000000cb3ff0000000000000a3726f7494cb0000000000000000cb0000000000000000cb00000000"
            "00000000cb3ff0000000000000a57363616c6593cb3ff0000000000000cb3ff0000000000000cb3f"
            "f0000000000000a570726f707380a668656164657281a6737461747573a8636f6d706c657465"
        ),
    ),
    (
        m.WorldOp(world_id="w1", seq=18, author="u1", ops=(val.RemoveOp(id="i1"),)),
        (
            "85a474797065a26f70a8776f726c645f6964a27731a373657112a6617574686f72a27531a36f7073"
            "9182a26f70a672656d6f7665a26964a26931"
        ),
    ),
    (
        m.EditAck(
            rid=12, world_id="w1", seq=18, results=({"i": 0, "outcome": "applied", "id": "i1"},)
        ),
        (
            "85a474797065a8656469742e61636ba37269640ca8776f726c645f6964a27731a373657112a77265"
            "73756c74739183a16900a76f7574636f6d65a76170706c696564a26964a26931"
        ),
    ),
    (
        m.Left(rid=11, world_id="w1"),
        "83a474797065a46c656674a37269640ba8776f726c645f6964a27731",
    ),
    (
        m.PresenceEvent(
            world_id="w1", event="update", member=MEMBER, cursor=(1.0, 2.0, 3.0), selection=("i1",)
        ),
        (
            "86a474797065a870726573656e6365a8776f726c645f6964a27731a56576656e74a6757064617465"
            "a66d656d62657284a7757365725f6964a27531ac646973706c61795f6e616d65a3416461a4726f6c"
            "65a56f776e6572aa73657373696f6e5f6964a27331a6637572736f7293cb3ff0000000000000cb40"
            "00000000000000cb4008000000000000a973656c656374696f6e91a26931"
        ),
    ),
    (
        m.Error(code=1000, name="bad_frame", message="frame is not valid msgpack"),
        (
            "84a474797065a56572726f72a4636f6465cd03e8a46e616d65a96261645f6672616d65a76d657373"
            "616765ba6672616d65206973206e6f742076616c6964206d73677061636b"
        ),
    ),
    (
        m.Error(
            code=1104,
            name="rate_limited",
            message="rate limited",
            rid=5,
            fields={"rid": "x"},
            retry_after_s=0.5,
        ),
        (
            "87a474797065a56572726f72a4636f6465cd0450a46e616d65ac726174655f6c696d69746564a76d"
            "657373616765ac72617465206c696d69746564a372696405a66669656c647381a3726964a178ad72"
            "657472795f61667465725f73cb3fe0000000000000"
        ),
    ),
    (
        m.Bye(
            code=4502,
            reason="unsupported_protocol_version",
            reconnect=False,
            supported_versions=(1,),
        ),
        (
            "85a474797065a3627965a4636f6465cd1196a6726561736f6ebc756e737570706f727465645f7072"
            "6f746f636f6c5f76657273696f6ea97265636f6e6e656374c2b2737570706f727465645f76657273"
            "696f6e739101"
        ),
    ),
]


@pytest.mark.parametrize(("msg", "wire"), CLIENT_CASES)
def test_client_message_encodes_to_golden_bytes_and_decodes_back(msg: object, wire: str) -> None:
    assert encode(msg).hex() == wire  # type: ignore[arg-type]
    assert decode_client(bytes.fromhex(wire)) == msg


@pytest.mark.parametrize(("msg", "wire"), SERVER_CASES)
def test_server_message_encodes_to_golden_bytes_and_decodes_back(msg: object, wire: str) -> None:
    assert encode(msg).hex() == wire  # type: ignore[arg-type]
    assert decode_server(bytes.fromhex(wire)) == msg


def test_golden_tables_cover_every_message_type() -> None:
    assert {type(msg).TYPE for msg, _ in CLIENT_CASES} == set(m.CLIENT_MESSAGES)  # type: ignore[attr-defined]
    assert {type(msg).TYPE for msg, _ in SERVER_CASES} == set(m.SERVER_MESSAGES)  # type: ignore[attr-defined]


def test_ping_bytes_match_a_hand_assembled_msgpack_map() -> None:
    # Independent of the codec: fixmap(2) "type" "ping" "rid" 3, per the msgpack spec.
    hand = (
        bytes([0x82, 0xA4]) + b"type" + bytes([0xA4]) + b"ping" + bytes([0xA3]) + b"rid" + b"\x03"
    )
    assert encode(m.Ping(rid=3)) == hand


def test_encode_gen_chunk_is_byte_identical_to_encoding_the_dataclass() -> None:
    msg = m.GenChunk(rid=7, world_id="w1", index=3, instances=[INST, INST])
    assert encode_gen_chunk(7, "w1", 3, [INST, INST]) == encode(msg)


def test_a_chunk_packed_once_is_byte_identical_to_encoding_the_dataclass() -> None:
    packed = pack_instances([INST, INST])
    frame = encode_gen_chunk_packed(2**40, "w" * 24, 1000, packed)
    assert frame == encode(m.GenChunk(rid=2**40, world_id="w" * 24, index=1000, instances=[INST, INST]))
    assert list(decode_server(frame).instances) == [INST, INST]  # type: ignore[union-attr]


def test_encode_raw_puts_type_first_and_keeps_field_order() -> None:
    fields = {"world_id": "w1", "seq": 18, "author": "u1", "ops": [{"op": "remove", "id": "i1"}]}
    raw = encode_raw("op", fields)
    assert raw == encode(
        m.WorldOp(world_id="w1", seq=18, author="u1", ops=(val.RemoveOp(id="i1"),))
    )


def test_telemetry_rejected_events_never_go_on_the_wire() -> None:
    event = val.TelemetryEvent(id="e1", type="tp")
    rejection: val.TelemetryRejection = {"id": "e2", "code": 1010, "message": "x"}
    with_rejected = m.Telemetry(rid=1, events=(event,), rejected=(rejection,))
    assert encode(with_rejected) == encode(m.Telemetry(rid=1, events=(event,)))
