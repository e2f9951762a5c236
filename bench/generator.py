"""Generator benchmark: throughput, time to first chunk, and a 20k world, against a baseline.

Baseline (same run, same machine): the cost of merely constructing N ``InstanceRecord``s (the
records the generator yields, records/__init__.py) with random transforms, i.e. the floor any
generator producing these objects must pay. Ratios say how many times that floor the real
generator costs.

    python -m bench.generator [--smoke]

Prints a table and writes bench/results/generator.json. The first-chunk target is judged warm
(the catalog has been used by plan() before, as in a running server, so its per-catalog caches
are filled); a cold row (fresh Catalog, empty caches, BM25 index built inside the timing) is
reported alongside. Wall-clock medians plus CPU (process_time) medians, as the box is shared.
The last rows are what the server benchmarks cost the generator: plan() plus records() in
128-instance chunks for their prompts, CPU medians (instances_per_s there is per CPU second).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

from generator import GENERATOR_VERSION, Catalog, InstanceRecord, cache, plan

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["A mystical forest with ancient trees and glowing mushrooms",
           "futuristic space station with alien technology",
           "a small village with three towers around a lake at sunset",
           "a busy downtown with skyscrapers, taxis and pedestrians along the road"]
TARGETS = {"instances_per_s": 100_000, "first_chunk_ms_1k": 5.0, "world_20k_s": 0.5}
# the prompts the server benchmarks send (bench/common.py PROMPTS): time to first instance and
# REST prompt2world plan 500-instance worlds of these, streaming 20,000-instance ones
SERVER_PROMPTS = ["a misty pine forest with a ruined tower",
                  "a small village with three towers around a lake",
                  "futuristic space station with alien technology",
                  "a busy downtown with skyscrapers and taxis"]


def load_catalog() -> Catalog:
    data = json.loads((ROOT / "persistence" / "data" / "catalog.json").read_text())
    return Catalog.from_records(data["prefabs"], data["catalog_version"])


def baseline_instances(n: int) -> float:
    """Seconds to construct n InstanceRecords with random transforms (the floor)."""
    rnd = random.Random(1)
    t = time.perf_counter()
    for k in range(n):
        InstanceRecord(f"i{k:05d}", "oak_tree", "environment",
                       (round(rnd.uniform(-500, 500), 3), 0.0, round(rnd.uniform(-500, 500), 3)),
                       (0.0, round(rnd.random(), 6), 0.0, round(rnd.random(), 6)),
                       (1.0, 1.0, 1.0), {})
    return time.perf_counter() - t


def full_world(cat: Catalog, prompt: str, seed: int, budget: int) -> tuple[float, int]:
    t = time.perf_counter()
    wp = plan(prompt, seed=seed, catalog=cat, budget=budget)
    n = sum(len(c) for c in wp.chunks(512))
    return time.perf_counter() - t, n


def first_chunk(cat: Catalog, prompt: str, seed: int, budget: int,
                size: int = 256) -> tuple[float, float, int]:
    """(wall s, CPU s, instances) from calling plan() to holding the first chunk. The plan is
    incremental (docs/generator.md): the first chunk is what the first phase placed (landmarks,
    structure, what the prompt asked for), at most ``size``; see ``first_n`` for a full one."""
    t, c = time.perf_counter(), time.process_time()
    wp = plan(prompt, seed=seed, catalog=cat, budget=budget)
    n = len(next(wp.chunks(size)))
    return time.perf_counter() - t, time.process_time() - c, n


def first_n(cat: Catalog, prompt: str, seed: int, budget: int,
            n: int = 256) -> tuple[float, float, int]:
    """(wall s, CPU s, instances) from calling plan() to holding the first n instances, across
    both phases of the plan."""
    t, c = time.perf_counter(), time.process_time()
    wp = plan(prompt, seed=seed, catalog=cat, budget=budget)
    got = 0
    for chunk in wp.chunks(n):
        got += len(chunk)
        if got >= n:
            break
    return time.perf_counter() - t, time.process_time() - c, got


def first_chunk_cold(data: dict, prompt: str, seed: int) -> tuple[float, float, int]:
    """Same, on a just-loaded Catalog with empty caches (BM25 index, palettes, ... built here)."""
    cat = Catalog.from_records(data["prefabs"], data["catalog_version"])
    cache.clear(cat)
    return first_chunk(cat, prompt, seed, 1_000)


def server_plan(cat: Catalog, seed: int, budget: int) -> tuple[list[float], list[int]]:
    """CPU seconds and instances of plan() plus records() in 128-instance chunks (what the
    server's streaming does), per server prompt."""
    cpu, n = [], []
    for prompt in SERVER_PROMPTS:
        c = time.process_time()
        wp = plan(prompt, seed=seed, catalog=cat, budget=budget)
        for a in range(0, len(wp), 128):
            wp.records(a, a + 128)
        cpu.append(time.process_time() - c)
        n.append(len(wp))
    return cpu, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="few repetitions, for CI")
    args = ap.parse_args()
    reps = 2 if args.smoke else 7
    cat = load_catalog()
    plan("warm up", seed=0, catalog=cat, budget=1000)  # numpy/first-call costs out of timing
    rows = []
    for budget in (1_000, 20_000):
        times, counts = [], []
        for r in range(reps):
            for prompt in PROMPTS:
                dt, n = full_world(cat, prompt, r, budget)
                times.append(dt)
                counts.append(n)
        base = statistics.median(baseline_instances(int(statistics.mean(counts)))
                                 for _ in range(reps))
        med = statistics.median(times)
        rows.append({"case": f"full world, budget {budget}", "median_s": round(med, 5),
                     "max_s": round(max(times), 5), "instances": int(statistics.mean(counts)),
                     "instances_per_s": round(statistics.mean(counts) / med),
                     "baseline_s": round(base, 5), "ratio_vs_baseline": round(med / base, 2)})
    # warm: every prompt planned once with this catalog before timing (per-catalog caches
    # filled), which is what a running server sees; cold: a fresh catalog per measurement
    for p in PROMPTS:
        plan(p, seed=10_000, catalog=cat, budget=1_000)
    fc = [first_chunk(cat, p, r, 1_000) for r in range(reps * 3) for p in PROMPTS]
    full = [first_n(cat, p, r, 1_000) for r in range(reps * 3) for p in PROMPTS]
    data = json.loads((ROOT / "persistence" / "data" / "catalog.json").read_text())
    cold = [first_chunk_cold(data, p, r) for r in range(max(1, reps // 2)) for p in PROMPTS]
    base_chunk = statistics.median(baseline_instances(256) for _ in range(reps))
    for label, runs in (("first chunk (<=256) of a 1k world", fc),
                        ("first chunk, cold catalog", cold),
                        ("first 256 instances of a 1k world", full)):
        wall = [w for w, _, _ in runs]
        rows.append({"case": label, "median_s": round(statistics.median(wall), 5),
                     "max_s": round(max(wall), 5),
                     "cpu_median_s": round(statistics.median(c for _, c, _ in runs), 5),
                     "instances": int(statistics.median(k for _, _, k in runs)),
                     "instances_per_s": None, "baseline_s": round(base_chunk, 5),
                     "ratio_vs_baseline": round(statistics.median(wall) / base_chunk, 2)})
    for budget, reps_b in ((500, reps * 6), (20_000, max(1, reps // 2))):
        cpu, n = [], []
        for r in range(reps_b):
            c, k = server_plan(cat, r, budget)
            cpu += c
            n += k
        med = statistics.median(cpu)
        rows.append({"case": f"server prompts, budget {budget}", "median_s": None,
                     "max_s": None, "cpu_median_s": round(med, 5),
                     "instances": int(statistics.mean(n)),
                     "instances_per_s": round(statistics.mean(n) / med), "baseline_s": None,
                     "ratio_vs_baseline": None})
    results = {
        "generator_version": GENERATOR_VERSION, "python": platform.python_version(),
        "machine": platform.machine(), "cpu_count": os.cpu_count(), "smoke": args.smoke,
        "rows": rows, "targets": TARGETS,
        "met": {"instances_per_s": rows[1]["instances_per_s"] >= TARGETS["instances_per_s"],
                "first_chunk_ms_1k": rows[2]["median_s"] * 1000 <= TARGETS["first_chunk_ms_1k"],
                "world_20k_s": rows[1]["max_s"] < TARGETS["world_20k_s"]},
    }
    print(f"{'case':<34} {'median ms':>10} {'max ms':>9} {'cpu ms':>7} {'inst':>7} "
          f"{'inst/s':>9} {'baseline ms':>12} {'x base':>7}")
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.2f}"

    for r in rows:
        ips = "-" if r["instances_per_s"] is None else f"{r['instances_per_s']:,}"
        print(f"{r['case']:<34} {ms(r['median_s']):>10} {ms(r['max_s']):>9} "
              f"{ms(r.get('cpu_median_s')):>7} {r['instances']:>7} {ips:>9} "
              f"{ms(r['baseline_s']):>12} {r['ratio_vs_baseline'] or '-':>7}")
    print("first chunk target is judged on the warm row (catalog already used once, as in a "
          "running server); wall-clock ms on a shared machine, CPU ms alongside; inst: median "
          "instances held; baseline: 256 instances")
    print("targets met:", results["met"])
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "generator.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
