"""The broker contract (server/broker.py), run on every implementation: MemoryBroker and
RedisBroker must be interchangeable to the hub and rooms."""

from __future__ import annotations

import asyncio
import sys

from server.broker import Broker, Envelope
from tests.broker.conftest import Recorder, world

Node = tuple[Broker, Recorder]


async def test_a_subscriber_gets_each_envelope_intact(broker: Node) -> None:
    b, rec = broker
    w = world()
    await b.subscribe(w)
    env = {"k": "op", "s": 7, "f": b"\x81\xa4type\xa2op\x00\xff", "o": "s_1", "r": 31,
           "res": [{"i": 0, "outcome": "applied", "id": "i_1"}]}
    await b.publish(w, env)
    await rec.until(lambda: len(rec.envelopes(w)) == 1)
    got = rec.envelopes(w)[0]
    assert got == env and isinstance(got["f"], bytes)


async def test_delivery_is_in_publish_order(broker: Node) -> None:
    b, rec = broker
    w = world()
    await b.subscribe(w)
    for s in range(1, 301):
        await b.publish(w, {"k": "op", "s": s, "f": b"x"})
    await rec.until(lambda: len(rec.envelopes(w)) == 300)
    assert [e["s"] for e in rec.envelopes(w)] == list(range(1, 301))


async def test_delivery_never_runs_inside_publish(broker: Node) -> None:
    """Like a real broker, delivery is a later callback from the loop, never a call made from
    inside `publish`: the hub and rooms never see re-entrancy."""
    b, rec = broker
    w = world()
    await b.subscribe(w)
    stacks: list[list[str]] = []

    def deliver(world_id: str, env: Envelope) -> None:
        frame, names = sys._getframe(1), []
        while frame is not None:
            names.append(frame.f_code.co_name)
            frame = frame.f_back
        stacks.append(names)
        rec(world_id, env)

    b.bind(deliver)
    await b.publish(w, {"k": "frame", "f": b"a"})
    await rec.until(lambda: len(rec.envelopes(w)) == 1)
    assert len(stacks) == 1 and "publish" not in stacks[0]


async def test_only_subscribed_worlds_are_delivered(broker: Node) -> None:
    b, rec = broker
    mine, other, still = world(), world(), world()
    await b.subscribe(mine)
    await b.subscribe(still)
    await b.publish(other, {"k": "frame", "f": b"not for us"})
    await b.publish(mine, {"k": "frame", "f": b"marker"})
    await rec.until(lambda: len(rec.envelopes(mine)) == 1)
    await b.unsubscribe(mine)
    await b.publish(mine, {"k": "frame", "f": b"after unsubscribe"})
    # One publisher's messages arrive in order: once this one is in, the one before would be.
    await b.publish(still, {"k": "frame", "f": b"barrier"})
    await rec.until(lambda: bool(rec.envelopes(still)))
    assert rec.envelopes(other) == []
    assert [e["f"] for e in rec.envelopes(mine)] == [b"marker"]


async def test_many_worlds_subscribed_at_once_all_deliver(broker: Node) -> None:
    b, rec = broker
    worlds = [world() for _ in range(50)]
    await asyncio.gather(*(b.subscribe(w) for w in worlds))
    for w in worlds:
        await b.publish(w, {"k": "frame", "f": w.encode()})
    await rec.until(lambda: all(rec.envelopes(w) for w in worlds))
    assert all(rec.envelopes(w)[0]["f"] == w.encode() for w in worlds)


async def test_presence_set_refresh_list_and_remove(broker: Node) -> None:
    b, _ = broker
    w, other = world(), world()
    ada = {"user_id": "u1", "display_name": "Ada", "role": "owner", "session_id": "s1"}
    lin = {"user_id": "u2", "display_name": "Lin", "role": "viewer", "session_id": "s2"}
    await b.presence_set(w, "s1", ada)
    await b.presence_set(w, "s2", lin)
    await b.presence_set(other, "s9", {**lin, "session_id": "s9"})
    await b.presence_set(w, "s2", {**lin, "role": "editor"})  # a refresh replaces the record
    members = sorted(await b.presence_list(w), key=lambda mm: mm["session_id"])
    assert members == [ada, {**lin, "role": "editor"}]
    await b.presence_remove(w, "s1")
    await b.presence_remove(w, "nobody")  # removing an absent member is a no-op
    assert await b.presence_list(w) == [{**lin, "role": "editor"}]
    await b.presence_remove(w, "s2")
    assert await b.presence_list(w) == []
    assert [mm["session_id"] for mm in await b.presence_list(other)] == ["s9"]


async def test_a_started_broker_is_healthy(broker: Node) -> None:
    assert broker[0].healthy
