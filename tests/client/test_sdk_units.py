"""Pure parts of the SDK: URL mapping, op application, the telemetry buffer, backoff, routing."""

from __future__ import annotations

import pytest

from client._base import ws_url
from client.cli import http_base
from client.telemetry import TelemetryBuffer
from client.world import apply_ops
from protocol.codec import encode_raw
from tests.client.sdkutil import SdkFactory


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws"),
    ("https://example.org/", "wss://example.org/ws"),
    ("ws://h:1/ws", "ws://h:1/ws"),
    ("wss://h/custom/ws", "wss://h/custom/ws"),
])
def test_ws_url(given: str, expected: str) -> None:
    assert ws_url(given) == expected


def test_http_base_accepts_ws_urls_and_rejects_others() -> None:
    assert http_base("ws://h:1/ws") == "http://h:1" and http_base("https://h/") == "https://h"
    with pytest.raises(Exception, match="--url"):
        http_base("ftp://h")


def test_apply_ops_add_move_set_remove() -> None:
    world = {"a": {"id": "a", "prefab_id": "p", "prefab_type": "prop", "pos": [0, 0, 0],
                   "rot": [0, 0, 0, 1], "scale": [1, 1, 1], "props": {"k": 1, "gone": 2}}}
    apply_ops(world, [{"op": "add", "id": "b", "prefab_id": "q", "prefab_type": "tree", "pos": [1, 2, 3]},
                      {"op": "move", "id": "a", "scale": [2, 2, 2]},
                      {"op": "set", "id": "a", "props": {"gone": None, "new": "x"}},
                      {"op": "remove", "id": "missing"}])
    assert world["b"]["rot"] == [0.0, 0.0, 0.0, 1.0] and world["b"]["scale"] == [1.0, 1.0, 1.0]
    assert world["a"]["scale"] == [2, 2, 2] and world["a"]["pos"] == [0, 0, 0]
    assert world["a"]["props"] == {"k": 1, "new": "x"}
    apply_ops(world, [{"op": "remove", "id": "b"}])
    assert set(world) == {"a"}


def test_telemetry_buffer_keeps_unacked_events_and_bounds_memory() -> None:
    buf = TelemetryBuffer(max_events=3)
    ids = [buf.add("e", {"i": i}) for i in range(4)]
    assert len(buf) == 3 and buf.dropped == 1 and ids[0] not in buf.events
    batch = buf.take(2)
    assert [e.id for e in batch] == ids[1:3] and buf.pending() == 1
    assert [e.id for e in buf.take(10)] == ids[3:]  # in-flight events are not taken twice
    buf.failed([ids[1]])  # no ack for this one: it is sent again
    buf.acked([ids[2]], rejected=[ids[3]])
    assert list(buf.events) == [ids[1]] and [e.id for e in buf.take(10)] == [ids[1]]


async def test_backoff_is_jittered_bounded_and_honours_retry_after(sdk: SdkFactory) -> None:
    s = await sdk(base_delay=0.1, max_delay=1.0)
    delays = [s._backoff(n, None) for n in range(8)]
    assert 0.05 <= delays[0] <= 0.1 and max(delays) <= 1.0
    assert delays[-1] >= 0.5  # capped ceiling of 1.0, at least half of it
    assert len({s._backoff(3, None) for _ in range(20)}) > 1  # jitter
    assert s._backoff(0, 0.8) >= 0.8


async def test_unknown_server_frames_are_ignored(sdk: SdkFactory) -> None:
    s = await sdk()
    s._on_frame(encode_raw("future.thing", {"x": 1}))  # a newer server's informational frame
    s._on_frame(b"\xc1")  # not msgpack at all
    assert (await s.ping()).rid > 0
