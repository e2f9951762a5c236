"""Soak: clients connect, generate, edit, send telemetry and disconnect, over and over, for a
configured time; the server's RSS is sampled throughout.

    python -m bench.soak [--minutes 10] [--clients 16] [--smoke]

Each client repeats one *cycle* until the deadline: connect (header token) → welcome →
prompt (a small world, streamed) → gen.done → join it → a few edits (add, move) each acked →
telemetry batches each acked → ping → close. Every few cycles it also reconnects without
finishing (a dropped connection mid-generation) to exercise the teardown path.

Reported: RSS samples of the *server* process over time, the least-squares slope of RSS
(KB/min) over the run after a warm-up (the first 20 % of samples, at least one), error
counts by kind, cycle counts and p50/p99 latencies of connect, first chunk, gen.done,
edit.ack and telemetry.ack. Writes bench/results/soak.json (--smoke: soak_smoke.json). Loopback only; every loop is
bounded by the deadline. "Flat" memory: slope after warm-up below FLAT_KB_PER_MIN.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import common as c

FLAT_KB_PER_MIN = 256.0  # memory is "flat" when the post-warm-up slope is under this
PREFABS = ["oak_tree", "pine_tree", "small_rocks"]


def slope_kb_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (bytes) over time (s), in KB per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [t / 60.0 for t, _ in samples]
    ys = [r / 1024.0 for _, r in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den, 2) if den else 0.0


class Stats:
    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = {k: [] for k in ("connect", "first_chunk", "gen_done", "edit_ack",
                                                               "telemetry_ack")}
        self.errors: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()


async def _recv(ws: Any, pred: Any, stats: Stats, timeout: float = 30.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = c.unpack(await ws.recv())
            if msg.get("type") == "error":
                stats.errors[f"error:{msg.get('name')}"] += 1
                if pred(msg):
                    return msg
                continue
            if pred(msg):
                return msg
    return await asyncio.wait_for(loop(), timeout)


async def _cycle(url: str, token: str, n: int, stats: Stats, rng: random.Random, deadline: float) -> None:
    rids = itertools.count(1)
    t0 = time.perf_counter()
    ws = await c.ws_connect(url, token)
    try:
        welcome = c.unpack(await asyncio.wait_for(ws.recv(), 30))
        if welcome.get("type") != "welcome":
            stats.errors[f"connect:{welcome.get('type')}:{welcome.get('code')}"] += 1
            return
        stats.lat["connect"].append(time.perf_counter() - t0)
        # generate a small world
        r = next(rids)
        t1 = time.perf_counter()
        await ws.send(c.pack({"type": "prompt", "rid": r, "prompt": rng.choice(
            ["a quiet forest by a lake", "a desert town at dusk", "a snowy mountain village", "a city park"]),
            "max_instances": rng.choice([40, 80, 160]), "seed": rng.randrange(1 << 30)}))
        if n % 7 == 3:  # drop the connection mid-generation now and then
            await _recv(ws, lambda f: f.get("type") == "gen.chunk", stats)
            stats.counts["dropped_mid_generation"] += 1
            return
        first = True
        world_id = ""
        while True:
            f = await _recv(ws, lambda f: f.get("rid") == r, stats)
            if f["type"] == "error":
                return
            if f["type"] == "gen.start":
                world_id = f["world_id"]
            elif f["type"] == "gen.chunk" and first:
                first = False
                stats.lat["first_chunk"].append(time.perf_counter() - t1)
            elif f["type"] == "gen.done":
                stats.lat["gen_done"].append(time.perf_counter() - t1)
                stats.counts["generations"] += 1
                break
        # join and edit
        r = next(rids)
        await ws.send(c.pack({"type": "join", "rid": r, "world_id": world_id}))
        joined = await _recv(ws, lambda f: f.get("rid") == r, stats)
        if joined.get("type") != "joined":
            return
        if joined.get("mode") == "snapshot":
            await _recv(ws, lambda f: f.get("type") == "snapshot" and f.get("last"), stats)
        ids: list[str] = []
        for k in range(rng.randint(3, 8)):
            if time.monotonic() > deadline:
                break
            if ids and rng.random() < 0.5:
                ops = [{"op": "move", "id": rng.choice(ids), "pos": [rng.uniform(-5, 5), 0.0, rng.uniform(-5, 5)]}]
            else:
                iid = f"s{n}-{k}-{rng.randrange(1 << 20)}"
                ids.append(iid)
                ops = [{"op": "add", "id": iid, "prefab_id": rng.choice(PREFABS),
                        "pos": [rng.uniform(-5, 5), 0.0, rng.uniform(-5, 5)]}]
            r = next(rids)
            t2 = time.perf_counter()
            await ws.send(c.pack({"type": "edit", "rid": r, "world_id": world_id, "ops": ops}))
            ack = await _recv(ws, lambda f, r=r: f.get("rid") == r, stats)
            if ack.get("type") == "edit.ack":
                stats.lat["edit_ack"].append(time.perf_counter() - t2)
                stats.counts["edits"] += 1
        # telemetry
        for b in range(rng.randint(1, 4)):
            r = next(rids)
            events = [{"id": f"{token[-12:]}-{n}-{b}-{i}", "type": "soak_event", "ts": time.time(),
                       "data": {"i": i, "pad": "x" * rng.randrange(0, 200)}} for i in range(rng.randint(5, 50))]
            t3 = time.perf_counter()
            await ws.send(c.pack({"type": "telemetry", "rid": r, "events": events}))
            ack = await _recv(ws, lambda f, r=r: f.get("rid") == r, stats)
            if ack.get("type") == "telemetry.ack":
                stats.lat["telemetry_ack"].append(time.perf_counter() - t3)
                stats.counts["telemetry_events"] += len(ack.get("ids", []))
        r = next(rids)
        await ws.send(c.pack({"type": "ping", "rid": r}))
        await _recv(ws, lambda f: f.get("rid") == r, stats)
        stats.counts["cycles"] += 1
    finally:
        await ws.close()


async def _client(url: str, token: str, idx: int, stats: Stats, deadline: float) -> None:
    rng = random.Random(idx)
    for n in itertools.count():
        if time.monotonic() >= deadline:
            return
        try:
            await _cycle(url, token, n, stats, rng, deadline)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, the soak goes on
            stats.errors[f"exception:{type(exc).__name__}"] += 1
            await asyncio.sleep(0.2)


async def _sampler(server: c.Server, samples: list[tuple[float, int]], t0: float, every: float,
                   deadline: float, verbose: bool, extra: list[tuple[float, int, int]]) -> None:
    db = Path(server.tmp) / "ours.db"
    while time.monotonic() < deadline:
        rss = server.rss()
        t = round(time.monotonic() - t0, 2)
        samples.append((t, rss))
        # threads (one per pooled SQLite connection, plus the generator's) and the store's size
        size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.exists())
        extra.append((t, server.threads(), size))
        if verbose:
            print(f"  t={t:7.1f}s rss={rss / 2**20:7.1f} MiB threads={server.threads()} "
                  f"store={size / 2**20:7.1f} MiB", flush=True)
        await asyncio.sleep(every)


async def _soak(server: c.Server, tokens: list[str], seconds: float, every: float, verbose: bool
                ) -> tuple[Stats, list[tuple[float, int]]]:
    stats = Stats()
    samples: list[tuple[float, int]] = []
    stats.extra = []  # type: ignore[attr-defined]
    t0 = time.monotonic()
    deadline = t0 + seconds
    sampler = asyncio.ensure_future(_sampler(server, samples, t0, every, deadline, verbose,
                                             stats.extra))  # type: ignore[attr-defined]
    await asyncio.gather(*(_client(server.ws_url, tok, i, stats, deadline) for i, tok in enumerate(tokens)))
    await sampler
    samples.append((round(time.monotonic() - t0, 2), server.rss()))
    return stats, samples


def run(smoke: bool = False, minutes: float = 10.0, clients: int = 16) -> dict[str, Any]:
    seconds = 6.0 if smoke else minutes * 60
    every = 0.5 if smoke else 5.0
    clients = min(clients, 4) if smoke else clients
    with c.tempdir() as tmp:
        with c.start_ours(tmp) as server:
            tokens = [c.login(server, f"soak-{i}") for i in range(clients)]
            stats, samples = asyncio.run(_soak(server, tokens, seconds, every, not smoke))
    warm = max(1, len(samples) // 5)
    slope_all = slope_kb_per_min(samples)
    slope_after = slope_kb_per_min(samples[warm:])
    lat = {f"{k}_p50_ms": round(c.pct(v, 50) * 1000, 2) for k, v in stats.lat.items()}
    lat.update({f"{k}_p99_ms": round(c.pct(v, 99) * 1000, 2) for k, v in stats.lat.items()})
    rss_mib = [r / 2**20 for _, r in samples]
    errors = dict(stats.errors)
    hard_errors = sum(v for k, v in errors.items() if k.startswith("exception"))
    row = {"server": "ours", "minutes": round(seconds / 60, 2), "clients": clients, **dict(stats.counts),
           "errors": sum(errors.values()), "rss_start_mib": round(rss_mib[0], 1),
           "rss_after_warmup_mib": round(rss_mib[warm], 1), "rss_end_mib": round(rss_mib[-1], 1),
           "rss_max_mib": round(max(rss_mib), 1), "slope_kb_per_min": slope_all,
           "slope_after_warmup_kb_per_min": slope_after}
    flat = slope_after < FLAT_KB_PER_MIN
    ok = stats.counts["cycles"] > 0 and hard_errors == 0 and (smoke or flat)
    name = "soak_smoke" if smoke else "soak"  # a smoke run never overwrites the recorded soak
    out = c.report(name, f"Soak: {clients} clients cycling connect/generate/edit/telemetry/disconnect",
                   [row], {"latency": lat, "errors_by_kind": errors, "samples": len(samples),
                           "target": f"post-warm-up RSS slope < {FLAT_KB_PER_MIN} KB/min, no exceptions",
                           "flat": flat, "pass": ok, "smoke": smoke})
    out["rss_samples"] = [[t, r] for t, r in samples]  # (seconds, bytes); in the file, not the table
    out["threads_store_samples"] = [list(x) for x in stats.extra]  # type: ignore[attr-defined]
    (c.RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="a few seconds, a few clients (checks it works)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=16)
    a = ap.parse_args()
    res = run(a.smoke, a.minutes, a.clients)
    raise SystemExit(0 if res["pass"] else 1)


if __name__ == "__main__":
    main()
