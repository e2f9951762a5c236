"""Idle sessions: N authenticated sockets held open; server RSS per socket, ours vs baseline.

Ours: every socket authenticates with a bearer token on the upgrade and waits for `welcome`.
Baseline: the socket is accepted, sent a pre-encoded `welcome` and held by a reader task.
RSS (VmRSS of the server) is read after one warm-up connection and again once all N sockets
are open and have settled; bytes per socket = ΔRSS / N. Target: ours ≤ 1.5× baseline.

    python -m bench.idle [--smoke]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import common as c

TARGET_RATIO = 1.5


def _holder(q: Any, url: str, token: str | None, n: int, offset: int, stop: Any) -> None:
    c.guard(q, lambda q: c.run_async(_hold, q, url, token, n, offset, stop))


async def _hold(q: Any, url: str, token: str | None, n: int, offset: int, stop: Any) -> None:
    sem = asyncio.Semaphore(64)
    sockets: list[Any] = []

    async def one(i: int) -> None:
        async with sem:
            ws = await c.ws_connect(url, token, c.source_ip(offset + i))
            await c.recv_until(ws, lambda m: m.get("type") == "welcome")
            sockets.append(ws)

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    q.put({"ready": len(sockets), "failed": len(failed), "first_error": repr(failed[0]) if failed else None})
    while not stop.is_set():
        await asyncio.sleep(0.05)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def measure(server: c.Server, token: str | None, n: int, procs: int) -> dict[str, Any]:
    c.run_async(_warm, server.ws_url, token)
    time.sleep(0.5)
    rss0 = server.rss()
    stop = c.MP.Event()
    per = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    offsets = [sum(per[:i]) for i in range(procs)]
    with c.Meter(server) as meter:
        ps, q = c.spawn(_holder, [(server.ws_url, token, k, off, stop) for k, off in zip(per, offsets, strict=True)])
        reports = c.collect(q, procs, timeout=120)
    time.sleep(0.2 if n < 1000 else 1.0)  # let lazily allocated buffers settle
    rss1 = server.rss()
    ready = sum(r["ready"] for r in reports)
    stop.set()
    c.reap(ps)
    errors = [r["first_error"] for r in reports if r["first_error"]]
    return {"sockets": ready, "failed": sum(r["failed"] for r in reports), "rss_before_mb": rss0 / 2**20,
            "rss_after_mb": rss1 / 2**20, "bytes_per_socket": round((rss1 - rss0) / max(1, ready)),
            "connect_cpu_us": round(meter.cpu / max(1, ready) * 1e6), "connect_wall_s": round(meter.wall, 2),
            "threads": server.threads(), "error": errors[0] if errors else None}


async def _warm(url: str, token: str | None) -> None:
    ws = await c.ws_connect(url, token)
    await c.recv_until(ws, lambda m: m.get("type") == "welcome")
    await ws.close()


def run(smoke: bool = False) -> dict[str, Any]:
    n, procs = (20, 1) if smoke else (10_000, 4)
    rows = []
    with c.tempdir() as tmp:
        with c.start_ours(tmp) as ours:
            rows.append({"server": "ours", **measure(ours, c.login(ours, "idle-user"), n, procs)})
        with c.start_baseline(tmp) as base:
            rows.append({"server": "baseline", **measure(base, None, n, procs)})
    r = c.ratio(rows[0]["bytes_per_socket"], rows[1]["bytes_per_socket"])
    ok = rows[0]["failed"] == 0 and rows[0]["sockets"] == n and r <= TARGET_RATIO
    return c.report("idle", f"Idle sessions: {n:,} authenticated sockets", rows,
                    {"ratio_bytes_per_socket": r, "target": f"ours <= {TARGET_RATIO}x baseline bytes/socket",
                     "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
