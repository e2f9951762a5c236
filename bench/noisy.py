"""Noisy neighbour: one user floods the server with prompts; how long does another user wait
for the first chunk of a small world?

The **flooder** (one user) keeps 3 prompts of 20,000 instances in flight on each of 20 sockets
(reading everything it is sent, so backpressure does not slow it) and calls REST prompt2world
with 20,000-instance worlds from 2 connections; a refused prompt is sent again after the
`retry_after_s` the server named (at most 1 s later). The **victims** (4 other users, one socket
each) send a 500-instance prompt every 500 ms (20 a minute: within the default per-user budget)
and time prompt sent → first `gen.chunk`.

Two servers, each measured unloaded (victims alone) and loaded (victims + flooder) in the same
run, one after the other:
- **defaults**: the shipped per-user budgets (prompts_per_min 20, max_generations_per_user 6, …);
- **budgets lifted**: those budgets set out of reach, so only the per-user round-robin scheduler
  (server/scheduler.py) stands between the flood and the victims.

Target: loaded victim median ≤ 2× the unloaded median of the same server (issue 15).

    python -m bench.noisy [--smoke]
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

from . import common as c

TARGET_RATIO = 2.0
FLOOD_SOCKETS = 20
FLOOD_PARALLEL = 3
FLOOD_REST = 2
FLOOD_INSTANCES = 20_000
VICTIMS = 4
VICTIM_INSTANCES = 500
VICTIM_INTERVAL_S = 0.5
RETRY_MAX_S = 1.0
DRAIN_S = 30.0  # after the phase: at most this long for in-flight work to finish
LIFTED = {"prompts_per_min": 1_000_000, "max_generations_per_user": 1_000_000,
          "max_pending_instances_per_user": 1_000_000_000, "max_worlds_per_user": 1_000_000,
          "max_stored_bytes_per_user": 10**12}
DEFAULTS = {"prompts_per_min": 20, "max_generations_per_user": 6, "max_pending_instances_per_user": 120_000,
            "max_worlds_per_user": 1000, "max_stored_bytes_per_user": 2**30}


# -- load processes -----------------------------------------------------------------------------
def load(q: Any, role: str, server_url: str, ws_url: str, tokens: list[str], seconds: float,
         start: Any, sizes: dict[str, int]) -> None:
    body = {"victim": _victims, "flood": _flood_sockets, "rest": _flood_rest}[role]
    c.guard(q, lambda q: c.run_async(body, q, server_url, ws_url, tokens, seconds, start, sizes))


async def _wait_start(start: Any) -> None:
    deadline = time.monotonic() + 120
    while not start.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


async def _victims(q: Any, _url: str, ws_url: str, tokens: list[str], seconds: float, start: Any,
                   sizes: dict[str, int]) -> None:
    socks = []
    for i, token in enumerate(tokens):
        ws = await c.ws_connect(ws_url, token, c.source_ip(i))
        await c.recv_until(ws, lambda m: m.get("type") == "welcome")
        socks.append(ws)
    q.put({"ready": len(socks)})
    await _wait_start(start)
    stop_at = time.perf_counter() + seconds
    first: list[float] = []
    counts = {"prompts": 0, "errors": 0}

    async def victim(i: int, ws: Any) -> None:
        await asyncio.sleep(VICTIM_INTERVAL_S * i / len(socks))  # spread the victims over one interval
        rid = 0
        while time.perf_counter() < stop_at:
            rid += 1
            sent = time.perf_counter()
            await ws.send(c.pack({"type": "prompt", "rid": rid, "prompt": c.PROMPTS[(i + rid) % len(c.PROMPTS)],
                                  "seed": i * 1000 + rid, "max_instances": sizes["victim"], "room": False}))
            got_first = False
            async with asyncio.timeout(DRAIN_S):
                while True:
                    data = await ws.recv()
                    if not got_first and b"gen.chunk" in data[:24]:
                        first.append(time.perf_counter() - sent)
                        got_first = True
                        continue
                    if b"gen.chunk" in data[:24]:
                        continue
                    msg = c.unpack(data)
                    if msg.get("rid") == rid and msg.get("type") in ("gen.done", "error"):
                        counts["prompts" if msg["type"] == "gen.done" else "errors"] += 1
                        break
            await asyncio.sleep(max(0.0, VICTIM_INTERVAL_S - (time.perf_counter() - sent)))
    await asyncio.gather(*(victim(i, ws) for i, ws in enumerate(socks)))
    q.put({"first": first, **counts})
    await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)


async def _flood_sockets(q: Any, _url: str, ws_url: str, tokens: list[str], seconds: float, start: Any,
                         sizes: dict[str, int]) -> None:
    """RawWS clients (a few µs per frame): the flood's own CPU must not be what slows the victims
    on a shared machine; chunks are recognised by their first bytes and never decoded."""
    port = int(ws_url.rsplit(":", 1)[1].split("/", 1)[0])
    socks = [await c.RawWS.connect(port, token, c.source_ip(i)) for i, token in enumerate(tokens)]
    q.put({"ready": len(socks)})
    await _wait_start(start)
    stop_at = time.perf_counter() + seconds
    loop = asyncio.get_running_loop()
    counts = {"done": 0, "refused": 0, "instances": 0}
    in_flight = [0] * len(socks)
    rids = [0] * len(socks)

    def send(i: int) -> None:
        if time.perf_counter() >= stop_at:
            return
        rids[i] += 1
        in_flight[i] += 1
        socks[i].send(c.pack({"type": "prompt", "rid": rids[i], "prompt": c.PROMPTS[(i + rids[i]) % len(c.PROMPTS)],
                              "max_instances": sizes["flood"], "room": False}))

    def on_frame(i: int, data: bytes, _t: float) -> None:
        if b"gen.chunk" in data[:24]:
            return
        msg = c.unpack(data)
        kind = msg.get("type")
        if kind == "gen.done":
            in_flight[i] -= 1
            counts["done"] += 1
            counts["instances"] += msg["instances"]
            send(i)
        elif kind == "error" and msg.get("rid") is not None:
            in_flight[i] -= 1
            counts["refused"] += 1
            delay = min(RETRY_MAX_S, max(0.05, float(msg.get("retry_after_s") or 0.05)))
            loop.call_later(delay, send, i)

    for i, ws in enumerate(socks):
        ws.listen(lambda data, t, i=i: on_frame(i, data, t))
        for _ in range(FLOOD_PARALLEL):
            send(i)
    await asyncio.sleep(seconds)
    try:
        async with asyncio.timeout(DRAIN_S):
            while any(in_flight):
                await asyncio.sleep(0.05)
    except TimeoutError:
        counts["unfinished"] = sum(in_flight)
    q.put(counts)
    for ws in socks:
        ws.close()


async def _flood_rest(q: Any, url: str, _ws_url: str, tokens: list[str], seconds: float, start: Any,
                      sizes: dict[str, int]) -> None:
    q.put({"ready": len(tokens)})
    await _wait_start(start)
    stop_at = time.perf_counter() + seconds
    counts = {"done": 0, "refused": 0, "instances": 0}

    def post(token: str) -> tuple[int, dict[str, Any], float]:
        req = urllib.request.Request(f"{url}/api/v1/prompt2world/", method="POST", data=json.dumps(
            {"prompt": c.PROMPTS[0], "max_instances": sizes["flood"]}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, {"bytes": len(r.read())}, 0.0  # not parsed: see _flood_sockets
        except urllib.error.HTTPError as exc:
            return exc.code, {}, float(exc.headers.get("Retry-After") or 0.05)

    async def one(token: str) -> None:
        while time.perf_counter() < stop_at:
            status, body, retry = await asyncio.to_thread(post, token)
            if status == 200:
                counts["done"] += 1
                counts["instances"] += sizes["flood"]  # at most; the body is not parsed
            else:
                counts["refused"] += 1
                await asyncio.sleep(min(RETRY_MAX_S, max(0.05, retry)))
    await asyncio.gather(*(one(t) for t in tokens))
    q.put(counts)


# -- phases ------------------------------------------------------------------------------------------
def phase(server: c.Server, victims: list[str], flooder: str | None, seconds: float,
          sizes: dict[str, int], sockets: int) -> dict[str, Any]:
    def args_for(start: Any) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = [("victim", server.url, server.ws_url, victims, seconds, start, sizes)]
        if flooder is not None:
            half = sockets // 2
            out += [("flood", server.url, server.ws_url, [flooder] * half, seconds, start, sizes),
                    ("flood", server.url, server.ws_url, [flooder] * (sockets - half), seconds, start, sizes),
                    ("rest", server.url, server.ws_url, [flooder] * FLOOD_REST, seconds, start, sizes)]
        return out
    reports, meter = c.run_load(server, load, args_for, seconds, slack_s=DRAIN_S + 30)
    victim = next(r for r in reports if "first" in r)
    flood = [r for r in reports if "first" not in r]
    first = [x * 1000 for x in victim["first"]]
    return {"victim_prompts": victim["prompts"], "victim_errors": victim["errors"],
            "first_p50_ms": round(c.pct(first, 50), 2), "first_p99_ms": round(c.pct(first, 99), 2),
            "first_max_ms": round(max(first, default=0), 2),
            "flood_worlds": sum(r["done"] for r in flood), "flood_refused": sum(r["refused"] for r in flood),
            "flood_instances": sum(r["instances"] for r in flood), "server_cpu_s": round(meter.cpu, 2),
            "wall_s": round(meter.wall, 2)}


def measure(name: str, settings: dict[str, Any], seconds: float, sizes: dict[str, int],
            sockets: int) -> list[dict[str, Any]]:
    rows = []
    with c.tempdir() as tmp, c.start_ours(tmp, **settings) as ours:
        flooder = c.login(ours, "flooder")
        c.http("POST", f"{ours.url}/api/v1/prompt2world/", {"prompt": c.PROMPTS[0], "max_instances": 500},
               c.login(ours, "warm-up"))  # the generator's first call loads its tables
        for load_name, who in (("unloaded", None), ("loaded", flooder)):
            # Fresh victims per phase: each stays within its own prompt budget.
            victims = [c.login(ours, f"victim-{load_name}-{i}") for i in range(VICTIMS)]
            rows.append({"server": "ours", "budgets": name, "load": load_name,
                         **phase(ours, victims, who, seconds, sizes, sockets)})
    return rows


def run(smoke: bool = False) -> dict[str, Any]:
    seconds = 0.6 if smoke else 8.0
    sizes = {"flood": 500 if smoke else FLOOD_INSTANCES, "victim": 50 if smoke else VICTIM_INSTANCES}
    sockets = 2 if smoke else FLOOD_SOCKETS
    rows = measure("defaults", DEFAULTS, seconds, sizes, sockets) + measure("lifted", LIFTED, seconds, sizes, sockets)
    ratios = {}
    for budgets in ("defaults", "lifted"):
        unloaded, loaded = (next(r for r in rows if r["budgets"] == budgets and r["load"] == ld)
                            for ld in ("unloaded", "loaded"))
        ratios[budgets] = {"p50": c.ratio(loaded["first_p50_ms"], unloaded["first_p50_ms"]),
                           "p99": c.ratio(loaded["first_p99_ms"], unloaded["first_p99_ms"])}
    ok = all(r["victim_errors"] == 0 for r in rows) and all(v["p50"] <= TARGET_RATIO for v in ratios.values())
    return c.report("noisy", f"Noisy neighbour: one user floods ({sockets} sockets x {FLOOD_PARALLEL} prompts of "
                    f"{sizes['flood']} instances + {FLOOD_REST} REST), {VICTIMS} other users' time to first chunk",
                    rows, {"ratio_loaded_to_unloaded": ratios,
                           "target": f"victim first-chunk p50 loaded <= {TARGET_RATIO}x unloaded, same server",
                           "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
