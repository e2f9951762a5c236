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

Ours and the baseline run side by side, measured in rounds that alternate between them; the
ratio is the median of the per-round ratios.

    python -m bench.telemetry [--smoke]
"""

from __future__ import annotations

import asyncio
import statistics
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
    seconds, socks, procs, rounds = (0.4, 2, 1, 1) if smoke else (15.0, 8, 2, 3)
    tag = f"r{int(time.time())}-"
    rows: list[dict[str, Any]] = []
    ratios: dict[bool, float] = {}
    with c.tempdir() as tmp, c.start_ours(tmp) as ours, c.start_baseline(tmp) as base:
        token = c.login(ours, "tele-user")
        servers = (("ours", ours, token), ("baseline", base, None))
        for resend in (False, True):
            # Rounds alternate between the servers, so load from elsewhere on the machine lands
            # on both alike; the ratio is the median of the rounds' ratios.
            per: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
            for r in range(rounds):
                for name, server, tok in servers if r % 2 == 0 else servers[::-1]:
                    per[name].append(measure(server, tok, socks, procs, seconds / rounds,
                                             f"{tag}{'r' * resend}{r}", resend))
            ratios[resend] = round(statistics.median(
                a["us_per_event"] / b["us_per_event"] for a, b in zip(per["ours"], per["baseline"], strict=True)), 2)
            rows += [{"server": name, "resends": resend, **_merge(per[name], seconds)} for name in per]
    ours_clean = rows[0]
    ok = ours_clean["errors"] == 0 and rows[2]["errors"] == 0 and ours_clean["events_per_s"] >= TARGET
    return c.report("telemetry", f"Telemetry: frames of {BATCH} events, {socks} sockets x {WINDOW} in flight",
                    rows, {"ratio_us_per_event": ratios[False], "ratio_us_per_event_with_resends": ratios[True],
                           "ratio_note": "median over interleaved rounds of ours / baseline server CPU per event",
                           "target": f">= {TARGET:,} events/s acked (durable on SQLite)", "ratio_target": 1.2,
                           "pass": ok, "smoke": smoke})


def _merge(rounds: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    acked = sum(r["events_acked"] for r in rounds)
    cpu = sum(r["server_cpu_s"] for r in rounds)
    return {"sockets": rounds[0]["sockets"], "rounds": len(rounds), "events_acked": acked,
            "errors": sum(r["errors"] for r in rounds), "events_per_s": round(acked / seconds),
            "ack_p50_ms": statistics.median(r["ack_p50_ms"] for r in rounds),
            "ack_p99_ms": statistics.median(r["ack_p99_ms"] for r in rounds), "server_cpu_s": round(cpu, 2),
            "us_per_event": round(cpu / max(1, acked) * 1e6, 2),
            "us_per_event_rounds": [r["us_per_event"] for r in rounds]}


if __name__ == "__main__":
    c.cli(run)
