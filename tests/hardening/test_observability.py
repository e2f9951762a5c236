"""Observability on a real process (issue #8, item 8): after traffic, GET /metrics has every
required family and each one moved; with log_json every log line is one JSON object, session
lines carry session_id and request lines request_id, and no token or password ever appears.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import msgpack
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests.conftest import TIMEOUT
from tests.support.serve import ServerProcess

PASSWORD = "correct-horse-PW-9f3a"
WRONG = "wrong-guess-PW-7c1e"


async def _ws(proc: ServerProcess, token: str, *, header: bool = True, sock: socket.socket | None = None,
              **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if header else None
    ws = await connect(proc.ws_url, additional_headers=headers, max_size=None, compression=None, sock=sock,
                       open_timeout=TIMEOUT, **kw)
    if not header:
        await ws.send(msgpack.packb({"type": "hello", "v": 1, "token": token}))
    return ws


async def _until(ws: Any, pred: Any) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = msgpack.unpackb(await ws.recv(), raw=False)
            if pred(frame):
                return frame  # type: ignore[no-any-return]


async def _traffic(proc: ServerProcess, token: str) -> None:
    ws = await _ws(proc, token, header=False)  # the browser path: token in hello
    await _until(ws, lambda f: f["type"] == "welcome")
    await ws.send(msgpack.packb({"type": "ping", "rid": 1}))
    await _until(ws, lambda f: f.get("rid") == 1)
    await ws.send(msgpack.packb({"type": "prompt", "rid": 2, "prompt": "a forest with rocks", "seed": 1,
                                 "max_instances": 50}))
    done = await _until(ws, lambda f: f.get("rid") == 2 and f["type"] == "gen.done")
    world_id = done["world_id"]
    events = [{"id": f"o{i}", "type": "obs", "data": {"i": i}} for i in range(10)]
    await ws.send(msgpack.packb({"type": "telemetry", "rid": 3, "events": events}))
    assert (await _until(ws, lambda f: f.get("rid") == 3))["type"] == "telemetry.ack"
    await ws.send(msgpack.packb({"type": "join", "rid": 4, "world_id": world_id}))
    await _until(ws, lambda f: f.get("rid") == 4)
    await ws.send(b"\xc1")
    await _until(ws, lambda f: f["type"] == "error")
    status, _ = proc.request("PUT", f"/api/v1/worlds/{world_id}/visibility", {"visibility": "public"}, token)
    assert status == 200

    # a member that never reads: tiny receive buffer, then a flood of big edits (4001)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", proc.port))
    slow = await _ws(proc, await asyncio.to_thread(proc.login, "slowpoke"), sock=sock, max_queue=1)
    await slow.send(msgpack.packb({"type": "join", "rid": 1, "world_id": world_id}))
    await _until(ws, lambda f: f["type"] == "presence" and f.get("event") == "join")  # it is a member now
    ids = [f"i{n:05d}" for n in range(1, 48)]
    for i in range(60):
        ops = [{"op": "set", "id": inst, "props": {"note": "x" * 3800, "n": i}} for inst in ids]
        await ws.send(msgpack.packb({"type": "edit", "rid": 100 + i, "world_id": world_id, "ops": ops}))
        await _until(ws, lambda f, r=100 + i: f.get("rid") == r)
    await ws.close()
    slow.transport.abort() if hasattr(slow, "transport") else sock.close()


Metrics = dict[str, dict[tuple[tuple[str, str], ...], float]]


def _scrape(proc: ServerProcess) -> Metrics:
    status, text = proc.get("/metrics")
    assert status == 200
    out: Metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def _scrape_until(proc: ServerProcess, done: Callable[[Metrics], bool]) -> Metrics:
    """Scrape /metrics until `done` holds (bounded); the last scrape."""
    async with asyncio.timeout(TIMEOUT):
        while not done(m := await asyncio.to_thread(_scrape, proc)):
            await asyncio.sleep(0.05)
    return m


def _total(metrics: dict[str, Any], name: str) -> float:
    assert name in metrics, f"{name} missing from /metrics"
    return float(sum(metrics[name].values()))


async def test_metrics_move_and_logs_are_json_with_ids_and_no_secrets(spawn_server: Any) -> None:
    proc: ServerProcess = spawn_server(log_json="true", log_level="INFO", send_queue_bytes=131072,
                                       msgs_per_s=10000, msgs_burst=10000)
    status, reg = proc.request("POST", "/api/v1/auth/register", {"username": "obs_user", "password": PASSWORD})
    assert status == 201, reg
    status, good = proc.request("POST", "/api/v1/auth/login", {"username": "obs_user", "password": PASSWORD},
                                headers={"X-Request-Id": "req-good-login"})
    assert status == 200
    status, _ = proc.request("POST", "/api/v1/auth/login", {"username": "obs_user", "password": WRONG},
                             headers={"X-Request-Id": "req-failed-login"})
    assert status == 401
    guest = proc.login("alice")
    await _traffic(proc, guest)
    # The slow member is closed once its queue overflows, and the gauges are sampled every
    # revocation_poll_s (0.2 s here): scrape until both show.
    gauges = ("immersiverse_send_queue_bytes", "immersiverse_send_queue_bytes_max",
              "immersiverse_telemetry_buffer_events", "immersiverse_db_pool_checked_out",
              "immersiverse_generations_running", "immersiverse_rooms")
    m = await _scrape_until(proc, lambda m: m.get("immersiverse_closes_total", {}).get((("code", "4001"),), 0) >= 1
                            and all(g in m for g in gauges))
    assert "immersiverse_sessions" in m
    assert m["immersiverse_frames_in_total"][(("type", "ping"),)] >= 1
    for name in ("immersiverse_frames_in_total", "immersiverse_bytes_in_total"):  # by type, in
        assert {"ping", "prompt", "telemetry", "join", "edit"} <= {dict(k).get("type") for k in m[name]}, m[name]
    assert m["immersiverse_bytes_in_total"][(("type", "invalid"),)] >= 1  # the undecodable frame
    for name in ("immersiverse_frames_out_total", "immersiverse_bytes_out_total"):  # by type, out
        kinds = {dict(k).get("type"): v for k, v in m[name].items()}
        assert {"welcome", "pong", "gen.start", "gen.chunk", "gen.done", "telemetry.ack", "joined", "error",
                "edit.ack", "op"} <= set(kinds), kinds
        assert "other" not in kinds and all(v > 0 for v in kinds.values()), kinds
    for name in ("immersiverse_frames_in_total", "immersiverse_bytes_in_total", "immersiverse_frames_out_total",
                 "immersiverse_bytes_out_total", "immersiverse_generation_seconds_count",
                 "immersiverse_slow_consumer_disconnects_total", "immersiverse_telemetry_flush_seconds_count",
                 "immersiverse_telemetry_acked_total", "immersiverse_error_frames_total",
                 "immersiverse_instances_streamed_total", "immersiverse_world_ops_total"):
        assert _total(m, name) > 0, f"{name} did not move"
    for gauge in gauges:
        assert _total(m, gauge) >= 0

    proc.stop()
    lines = [line for line in proc.output().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    closed = [r for r in records if r["msg"].startswith("session closed")]
    assert closed and all(r.get("session_id") for r in closed), closed
    slow = [r for r in records if "slow consumer" in r["msg"]]
    assert slow and slow[0].get("session_id") and slow[0]["session_id"] in slow[0]["msg"], slow
    failed = [r for r in records if "failed password login" in r["msg"]]
    assert failed and failed[0].get("request_id") == "req-failed-login", failed
    text = "\n".join(lines)
    for secret in (PASSWORD, WRONG, good["token"], guest, reg["token"]):
        assert secret not in text, "a secret reached the log"
    assert "eyJ" not in text  # no JWT at all, whatever its source
    _ = time
