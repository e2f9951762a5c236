"""Telemetry: events sent over sockets in `telemetry` frames of 500 events, counted once acked
(the server acks only what is durably stored in SQLite).

Each socket keeps a few frames in flight; every event id is new. Rate = acked events / wall
time of the run (all acks in). The baseline stores each frame with one aiosqlite
`executemany` (INSERT OR IGNORE on a unique (user, id) key, WAL, synchronous=NORMAL) and
commits before acking — the same durability, none of the features. Target: ≥ 50,000 events/s.

Each server runs twice: every id new, then "with resends", where each frame but a socket's first
carries one event of its previous frame again (an at-least-once client resending what it has no
ack for yet). A resent event is a stored key: our writer must name it as a duplicate in that
frame's ack; the baseline's INSERT OR IGNORE skips it silently.

    python -m bench.telemetry [--smoke]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import common as c

TARGET = 50_000
BATCH = 500
WINDOW = 4


def _senders(q: Any, url: str, token: str | None, socks: int, seconds: float, tag: str, resend: bool,
             start: Any) -> None:
    c.guard(q, lambda q: c.run_async(_send, q, url, token, socks, seconds, tag, resend, start))


async def _send(q: Any, url: str, token: str | None, socks: int, seconds: float, tag: str, resend: bool,
                start: Any) -> None:
    conns = []
    for i in range(socks):
        ws = await c.ws_connect(url, token, c.source_ip(i))
        await c.recv_until(ws, lambda m: m.get("type") == "welcome")
        conns.append(ws)
    q.put({"ready": socks})
    while not start.is_set():
        await asyncio.sleep(0.002)
    stop_at = time.perf_counter() + seconds
    counts = {"acked": 0, "errors": 0, "frames": 0}
    lat: list[float] = []
    now = time.time()

    async def one(i: int, ws: Any) -> None:
        rid = 0
        sent: dict[int, float] = {}

        async def send() -> None:
            nonlocal rid
            rid += 1
            sent[rid] = time.perf_counter()
            events = [{"id": f"{tag}-{i}-{rid}-{k}", "type": "teleport", "ts": now,
                       "world_id": "w_bench", "data": {"to": [1.0, 0.0, float(k)]}} for k in range(BATCH)]
            if resend and rid > 1:
                events[0]["id"] = f"{tag}-{i}-{rid - 1}-1"
            await ws.send(c.pack({"type": "telemetry", "rid": rid, "events": events}))
        for _ in range(WINDOW):
            await send()
        while sent:
            msg = c.unpack(await ws.recv())
            if msg.get("type") == "telemetry.ack":
                lat.append(time.perf_counter() - sent.pop(msg["rid"]))
                counts["acked"] += len(msg["ids"])
                counts["frames"] += 1
                if time.perf_counter() < stop_at:
                    await send()
            elif msg.get("type") == "error":
                counts["errors"] += 1
                sent.pop(msg.get("rid"), None)
    await asyncio.gather(*(one(i, ws) for i, ws in enumerate(conns)))
    q.put({**counts, "lat": lat})
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)


def measure(server: c.Server, token: str | None, socks: int, procs: int, seconds: float, tag: str,
            resend: bool = False) -> dict[str, Any]:
    reports, meter = c.run_load(server, _senders, lambda start: [
        (server.ws_url, token, socks // procs, seconds, f"{tag}{p}", resend, start) for p in range(procs)], seconds)
    acked = sum(r["acked"] for r in reports)
    lat = sorted(x * 1000 for r in reports for x in r["lat"])
    return {"sockets": socks, "events_acked": acked, "errors": sum(r["errors"] for r in reports),
            "events_per_s": round(acked / meter.wall), "ack_p50_ms": round(c.pct(lat, 50), 1),
            "ack_p99_ms": round(c.pct(lat, 99), 1), "server_cpu_s": round(meter.cpu, 2),
            "us_per_event": round(meter.cpu / max(1, acked) * 1e6, 2)}


def run(smoke: bool = False) -> dict[str, Any]:
    seconds, socks, procs = (0.4, 2, 1) if smoke else (15.0, 8, 2)
    tag = f"r{int(time.time())}-"
    rows = []
    with c.tempdir() as tmp:
        with c.start_ours(tmp) as ours:
            token = c.login(ours, "tele-user")
            for resend in (False, True):
                rows.append({"server": "ours", "resends": resend,
                             **measure(ours, token, socks, procs, seconds, tag + "r" * resend, resend)})
        with c.start_baseline(tmp) as base:
            for resend in (False, True):
                rows.append({"server": "baseline", "resends": resend,
                             **measure(base, None, socks, procs, seconds, tag + "r" * resend, resend)})
    ok = rows[0]["errors"] == 0 and rows[1]["errors"] == 0 and rows[0]["events_per_s"] >= TARGET
    return c.report("telemetry", f"Telemetry: frames of {BATCH} events, {socks} sockets x {WINDOW} in flight",
                    rows, {"ratio_us_per_event": c.ratio(rows[0]["us_per_event"], rows[2]["us_per_event"]),
                           "ratio_us_per_event_with_resends": c.ratio(rows[1]["us_per_event"], rows[3]["us_per_event"]),
                           "target": f">= {TARGET:,} events/s acked (durable on SQLite)", "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
