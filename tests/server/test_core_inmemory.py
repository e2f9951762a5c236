"""The live core in memory (the tier centrifuge's `hub_test.go` tests with a `testTransport`):
Writer, Room and Hub built directly, with a recording transport in place of a socket and the
in-process broker. No server, no socket, no store: what is checked is what each role does with
the frames it is given — written whole and in order, encoded once for every member, queued and
bounded behind a transport that does not keep up, and rooms opened and dropped with their
members. End-to-end behaviour over real sockets is tests/session/."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgpack
import pytest

from protocol import messages as m
from protocol.codec import encode, encode_raw
from protocol.codes import ErrorCode
from server.broker_memory import MemoryBroker
from server.hub import Hub
from server.metrics import Metrics
from server.room import Room
from server.room_frames import op_frame
from server.writer import Writer, ws_header
from tests.conftest import TIMEOUT, make_settings


class RecordingTransport:
    """A FrameSink (server/writer.py) that keeps every byte written and parses it back into
    WebSocket frames; `paused` stands for a transport above its high-water mark."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0
        self.closing = False
        self._paused = False
        self._resumed = asyncio.Event()

    @property
    def writing_paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self._resumed.clear()

    def resume(self) -> None:
        self._paused = False
        self._resumed.set()

    def write(self, frames: bytes) -> None:
        assert not self.closing, "written after closing"
        self.data += frames
        self.writes += 1

    def writelines(self, parts: Any) -> None:
        self.write(b"".join(parts))

    async def drain(self) -> None:
        if self._paused:
            await self._resumed.wait()

    def payloads(self) -> list[bytes]:
        """The payloads of the frames written, in order; every byte must belong to a whole,
        final, unmasked binary frame (RFC 6455 §5.2)."""
        out, data, at = [], bytes(self.data), 0
        while at < len(data):
            assert data[at] == 0x82, f"byte {at}: not a final binary frame"
            size, at = data[at + 1], at + 2
            if size == 126:
                size, at = int.from_bytes(data[at:at + 2], "big"), at + 2
            elif size == 127:
                size, at = int.from_bytes(data[at:at + 8], "big"), at + 8
            assert at + size <= len(data), "a frame cut short"
            out.append(data[at:at + size])
            at += size
        return out

    def messages(self) -> list[dict[str, Any]]:
        return [msgpack.unpackb(p, raw=False) for p in self.payloads()]


def _writer(transport: RecordingTransport, max_bytes: int = 1 << 20) -> tuple[Writer, list[str]]:
    events: list[str] = []

    async def on_slow() -> None:
        events.append("slow")

    return Writer(transport, max_bytes, on_slow), events


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not check():
            await asyncio.sleep(0)


# -- Writer -------------------------------------------------------------------------------------------
async def test_a_writer_writes_whole_frames_at_once_while_the_transport_keeps_up() -> None:
    transport = RecordingTransport()
    writer, _ = _writer(transport)
    writer.start()
    big = b"x" * 70_000  # a 64-bit length header
    assert writer.send(b"one") and writer.send(big) and writer.send_many([b"a", b"b"])
    assert transport.payloads() == [b"one", big, b"a", b"b"]
    assert transport.writes == 3 and writer.queued_bytes == 0  # send_many: one write for both
    await writer.stop()


async def test_a_writer_queues_behind_a_paused_transport_and_hands_the_queue_over_in_order() -> None:
    transport = RecordingTransport()
    writer, events = _writer(transport)
    writer.start()
    transport.pause()
    frames = [bytes([i]) * 1000 for i in range(50)]
    for frame in frames:
        assert writer.send(frame)
    assert transport.payloads() == [] and writer.queued_bytes == 50_000
    transport.resume()
    await writer.flush(timeout=TIMEOUT)
    assert transport.payloads() == frames and writer.queued_bytes == 0 and not events
    await writer.stop()


async def test_a_writer_whose_queue_overflows_closes_as_slow_once_and_drops_its_backlog() -> None:
    transport = RecordingTransport()
    writer, events = _writer(transport, max_bytes=10_000)
    writer.start()
    transport.pause()
    sent = [writer.send(b"y" * 4000) for _ in range(4)]
    assert sent == [True, True, False, False]  # the third overflowed: closed from then on
    await _until(lambda: bool(events))
    assert events == ["slow"] and writer.slow and writer.closed and writer.queued_bytes == 0
    writer.close_slow()  # already closed: no second close
    await asyncio.sleep(0)
    assert events == ["slow"] and transport.payloads() == []
    await writer.stop()


async def test_wait_below_returns_once_the_transport_took_the_queue() -> None:
    transport = RecordingTransport()
    writer, _ = _writer(transport)
    writer.start()
    transport.pause()
    for _ in range(10):
        writer.send(b"z" * 10_000)
    waiting = asyncio.ensure_future(writer.wait_below(20_000))
    await asyncio.sleep(0)
    assert not waiting.done()
    transport.resume()
    async with asyncio.timeout(TIMEOUT):
        await waiting
    assert writer.queued_bytes <= 20_000
    await writer.stop()


async def test_a_writer_writes_nothing_once_its_transport_is_closing() -> None:
    transport = RecordingTransport()
    writer, _ = _writer(transport)
    writer.start()
    transport.closing = True
    assert writer.send(b"late") is False and writer.closed
    assert transport.payloads() == []
    await writer.stop()


# -- Room and Hub -------------------------------------------------------------------------------------
class RecordingMember:
    """A room member (server/room.py `Peer`) whose frames go to a RecordingTransport."""

    def __init__(self, session_id: str, max_bytes: int = 1 << 20) -> None:
        self.id = session_id
        self.display_name = session_id.title()
        self.rooms: dict[str, Room] = {}
        self.transport = RecordingTransport()
        self.writer, self.slow = _writer(self.transport, max_bytes)
        self.writer.start()
        self.errors: list[tuple[ErrorCode, str | None]] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def user_id(self) -> str:
        return f"user-{self.id}"

    @property
    def public_id(self) -> str:
        return f"public-{self.id}"

    def send(self, msg: m.ServerMessage) -> bool:
        return self.writer.send(encode(msg))

    def send_bytes(self, data: bytes, frame: bytes | None = None) -> bool:
        return self.writer.send(data, frame)

    def send_error(self, code: ErrorCode, rid: int | None = None, message: str | None = None, *,
                   world_id: str | None = None) -> None:
        self.errors.append((code, message))

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    # What the hub and its rooms read of Services without a store: settings and public ids.
    services = SimpleNamespace(settings=make_settings(tmp_path), public_id=lambda user: f"public-{user}", store=None)
    return Hub(services, MemoryBroker(), Metrics())  # type: ignore[arg-type]


async def _room_with(hub: Hub, world_id: str, *members: RecordingMember, seq: int = 0) -> Room:
    """A room of a world this node has just created (nothing read back), its members added
    the way a generation's requester is."""
    room = await hub.room(world_id, (seq, False, None))
    for member in members:
        room.add_generator(member)
    return room


async def _settle(room: Room) -> None:
    """Wait until the room's delivery task has handled everything queued so far."""
    await room.call(lambda: asyncio.sleep(0))


async def test_a_broadcast_is_encoded_once_and_every_member_gets_the_same_frame_bytes(hub: Hub) -> None:
    members = [RecordingMember(f"s{i}") for i in range(3)]
    room = await _room_with(hub, "w1", *members)
    frame = encode(m.PresenceEvent(world_id="w1", event="update", member={"user_id": "u", "display_name": "",
                                                                          "role": "viewer", "session_id": "x"}))
    await room.publish_frame(frame)
    await _settle(room)
    expected = ws_header(len(frame)) + frame
    assert [bytes(member.transport.data) for member in members] == [expected] * 3
    await hub.close()


async def test_a_members_own_presence_frame_is_not_echoed_to_it(hub: Hub) -> None:
    alice, bob = RecordingMember("alice"), RecordingMember("bob")
    room = await _room_with(hub, "w1", alice, bob)
    await hub.broker.publish("w1", {"k": "frame", "f": b"\x81\xa1k\x01", "o": "alice", "x": 1})
    await _settle(room)
    assert alice.transport.payloads() == [] and bob.transport.payloads() == [b"\x81\xa1k\x01"]
    await hub.close()


async def test_ops_reach_members_in_seq_order_once_and_their_author_gets_an_ack_instead(hub: Hub) -> None:
    author, watcher = RecordingMember("author"), RecordingMember("watcher")
    room = await _room_with(hub, "w1", author, watcher, seq=4)
    ops = [{"op": "remove", "id": "i1", "outcome": "applied"}]
    for seq in (5, 6, 6, 5):  # the last two are duplicates (a broker redelivery): dropped
        await hub.broker.publish("w1", {"k": "op", "s": seq, "f": op_frame("w1", seq, "public-author", ops),
                                        "o": "author", "r": seq * 10, "res": [{"i": 0, "outcome": "applied"}]})
    await _settle(room)
    assert [(f["type"], f["seq"]) for f in watcher.transport.messages()] == [("op", 5), ("op", 6)]
    acks = author.transport.messages()
    assert [(f["type"], f["seq"], f["rid"]) for f in acks] == [("edit.ack", 5, 50), ("edit.ack", 6, 60)]
    assert room.seq == 6
    await hub.close()


async def test_a_member_that_falls_behind_a_broadcast_is_closed_slow_and_the_others_still_receive(
        hub: Hub) -> None:
    slow, fast = RecordingMember("slow", max_bytes=100_000), RecordingMember("fast")
    room = await _room_with(hub, "w1", slow, fast)
    slow.transport.pause()
    frame = encode_raw("op", {"pad": "p" * 30_000})
    for _ in range(5):
        await room.publish_frame(frame)
    await _settle(room)
    await _until(lambda: bool(slow.slow))
    assert slow.slow == ["slow"] and slow.writer.closed
    assert len(fast.transport.payloads()) == 5
    await hub.close()


async def test_frames_out_count_every_member_of_a_broadcast_once_whether_written_at_once_or_queued(
        hub: Hub) -> None:
    """A broadcast is counted once for the members written at once (server/writer.py Broadcast),
    a queued member when its copy is written: /metrics reports one frame per member either way."""
    members = [RecordingMember(f"s{i}") for i in range(4)]
    for member in members:  # as server/session.py wires them
        member.writer = Writer(member.transport, 1 << 20, member.writer._on_slow, on_sent=hub.metrics.frame_sent)
        member.writer.start()
    room = await _room_with(hub, "w1", *members)
    members[0].transport.pause()
    op = encode_raw("op", {"pad": "p" * 40})
    presence = encode(m.PresenceEvent(world_id="w1", event="update", member={
        "user_id": "u", "display_name": "", "role": "viewer", "session_id": "x"}))
    await room.publish_frame(op)
    await room.publish_frame(presence)
    await _settle(room)
    counts = hub.metrics.out_frames
    assert counts == {b"op": 3, b"presence": 3}  # the paused member's copies are not written yet
    members[0].transport.resume()
    await _until(lambda: len(members[0].transport.payloads()) == 2)
    assert counts == {b"op": 4, b"presence": 4}
    assert hub.metrics.out_bytes == {b"op": 4 * len(op), b"presence": 4 * len(presence)}
    await hub.close()


async def test_a_room_lives_while_it_has_members_or_a_join_in_progress(hub: Hub) -> None:
    member = RecordingMember("alice")
    room = await _room_with(hub, "w1", member)
    assert hub.rooms == {"w1": room} and member.rooms == {"w1": room}
    with hub.joining("w1"):
        room.remove(member)
        assert member.rooms == {}
        await hub.drop_if_empty(room)
        assert "w1" in hub.rooms  # a join is on its way in
    await hub.drop_if_empty(room)
    assert hub.rooms == {}
    await hub.broker.publish("w1", {"k": "frame", "f": b"\xc0"})  # unsubscribed: goes nowhere
    await asyncio.sleep(0)
    assert member.transport.payloads() == []
    await hub.close()


async def test_a_deleted_world_tells_its_members_and_its_room_is_dropped(hub: Hub) -> None:
    alice, bob = RecordingMember("alice"), RecordingMember("bob")
    await _room_with(hub, "w1", alice, bob)
    await hub.world_deleted("w1")
    await _until(lambda: not hub.rooms)
    assert alice.errors == bob.errors == [(ErrorCode.NOT_FOUND, "world w1 was deleted")]
    assert alice.rooms == bob.rooms == {}
    await hub.close()


def _member(name: str) -> dict[str, str]:
    return {"user_id": f"public-{name}", "display_name": name.title(), "role": "viewer", "session_id": name}


async def _announce(hub: Hub, world_id: str, name: str, event: str = "join") -> None:
    """A presence join or leave as server/session_rooms.py publishes it."""
    member = _member(name)
    frame = encode(m.PresenceEvent(world_id=world_id, event=event, member=member))  # type: ignore[arg-type]
    await hub.broker.publish(world_id, {"k": "presence", "f": frame, "o": name, "e": event, "m": member})


async def test_joins_of_one_room_tick_go_out_as_one_presence_frame_without_the_receiver_itself(hub: Hub) -> None:
    old, a, b, c = (RecordingMember(n) for n in ("old", "a", "b", "c"))
    room = await _room_with(hub, "w1", old, a, b, c)
    for name in ("a", "b", "c"):  # published together: delivered in one round of the room
        await _announce(hub, "w1", name)
    await _settle(room)
    (frame,) = old.transport.messages()
    assert frame["event"] == "join" and frame["member"] == _member("a")
    assert frame["members"] == [_member("a"), _member("b"), _member("c")]
    (for_b,) = b.transport.messages()  # b is told of the others only
    assert for_b["members"] == [_member("a"), _member("c")] and for_b["member"] == _member("a")
    (for_a,) = a.transport.messages()
    assert for_a["members"] == [_member("b"), _member("c")] and for_a["member"] == _member("b")
    assert room.known.keys() == {"a", "b", "c"}
    await hub.close()


async def test_a_lone_join_keeps_its_frame_and_a_leave_between_joins_keeps_the_order(hub: Hub) -> None:
    old, a, b = RecordingMember("old"), RecordingMember("a"), RecordingMember("b")
    room = await _room_with(hub, "w1", old, a, b)
    await _announce(hub, "w1", "a")
    await _settle(room)
    lone = old.transport.messages()
    assert lone == [{"type": "presence", "world_id": "w1", "event": "join", "member": _member("a")}]
    for name, event in (("b", "join"), ("x", "leave"), ("y", "leave"), ("a", "join")):
        await _announce(hub, "w1", name, event)
    await _until(lambda: len(old.transport.messages()) == 4)  # at the room's next presence tick
    frames = old.transport.messages()[1:]
    assert [(f["event"], f["member"]["session_id"], [mm["session_id"] for mm in f.get("members", [])])
            for f in frames] == [("join", "b", []), ("leave", "x", ["x", "y"]), ("join", "a", [])]
    assert [f["event"] for f in a.transport.messages()] == ["join", "leave"]  # not its own join
    await hub.close()


async def test_presence_within_a_tick_waits_for_it_or_goes_out_ahead_of_the_next_frame(
        hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.room.PRESENCE_TICK_S", 1.0)  # "within a tick" however slow this machine is
    old, a, b, c = (RecordingMember(n) for n in ("old", "a", "b", "c"))
    room = await _room_with(hub, "w1", old, a, b, c)
    await _announce(hub, "w1", "a")  # the first after a quiet spell: at once
    await _settle(room)
    assert [f["member"]["session_id"] for f in old.transport.messages()] == ["a"]
    await _announce(hub, "w1", "b")  # within the tick: held for it
    await _settle(room)
    assert len(old.transport.messages()) == 1
    await _until(lambda: len(old.transport.messages()) == 2)  # the tick
    assert old.transport.messages()[1]["member"] == _member("b")
    await _announce(hub, "w1", "c")  # held again, until a frame for the room comes
    await _settle(room)
    await room.publish_frame(b"\x81\xa1k\x02")
    await _settle(room)
    assert [f.get("member", f) for f in old.transport.messages()[2:]] == [_member("c"), {"k": 2}]  # same order
    await hub.close()


async def test_a_change_of_roles_reads_every_members_role_once_and_applies_them(tmp_path: Path) -> None:
    reads: list[list[str]] = []

    async def roles_in_world(world_id: str, user_ids: list[str]) -> dict[str, str | None]:
        reads.append(list(user_ids))
        return {"user-keep": "editor", "user-lose": None, "user-pub": "public"}

    services = SimpleNamespace(settings=make_settings(tmp_path), public_id=lambda user: f"public-{user}",
                               store=SimpleNamespace(worlds=SimpleNamespace(roles_in_world=roles_in_world)))
    hub = Hub(services, MemoryBroker(), Metrics())  # type: ignore[arg-type]
    keep, lose, pub = RecordingMember("keep"), RecordingMember("lose"), RecordingMember("pub")
    room = await _room_with(hub, "w1", keep, lose, pub)
    await hub.roles_changed("w1")
    await _settle(room)
    assert reads == [["user-keep", "user-lose", "user-pub"]]  # one read for the room, not one per member
    assert {sid: mm.role for sid, mm in room.members.items()} == {"keep": "editor", "pub": "viewer"}
    assert lose.errors == [(ErrorCode.FORBIDDEN, "you no longer have access to w1")] and lose.rooms == {}
    await hub.close()
