"""Time to first instance: 10 concurrent clients, each its own user, each sending a prompt (a
500-instance world), waiting for its `gen.done`, and sending the next; latency = prompt sent →
first `gen.chunk`.

Two loads, one after the other: **flat out** (each client sends its next prompt the moment its
world is done: the server is saturated, so the latency is mostly queueing behind other clients'
generations) and **paced** (each client sends at most one prompt every 250 ms, 40 prompts/s in
all: users who look at their world before asking for the next).

Ours runs twice: with plans in threads of the server process (`generation_processes = 0`) and
with every core generating (one worker process per core: the default). Ours plans the world's
first phase, stores the world row and the first chunk, then sends. The baseline answers the
prompt frame immediately with pre-built frames, so its first-frame latency is the floor:
socket, event loop, codec. Targets (issue 17): ours p99 ≤ 4× the baseline's paced, ≤ 8× flat out
with every core generating.

Each client is its own user, as 10 people at 10 clients are: one user's prompts take turns with
each other (server/scheduler.py; the noisy-neighbour figure, bench/noisy.py, is that case).

    python -m bench.ttfi [--smoke]
"""

from __future__ import annotations

import os
from typing import Any

from . import common as c

TARGETS = {"paced": 4.0, "flat out": 8.0}
CLIENTS = 10
INSTANCES = 500
LOADS = (("flat out", 0.0), ("paced", 0.25))  # seconds between one client's prompts
CORES = os.cpu_count() or 1


def measure(server: c.Server, token: list[str] | None, seconds: float, interval: float) -> dict[str, Any]:
    m, meter = c.run_prompters(server, token, procs=2, clients=CLIENTS // 2, parallel=1, seconds=seconds,
                               max_instances=INSTANCES, interval=interval)
    first = [x * 1000 for x in m["first"]]
    total = [x * 1000 for x in m["total"]]
    return {"prompts": m["prompts"], "errors": m["errors"], "first_p50_ms": round(c.pct(first, 50), 2),
            "first_p99_ms": round(c.pct(first, 99), 2), "first_max_ms": round(max(first, default=0), 2),
            "done_p50_ms": round(c.pct(total, 50), 2), "done_p99_ms": round(c.pct(total, 99), 2),
            "server_cpu_ms_per_prompt": round(meter.cpu / max(1, m["prompts"]) * 1000, 2)}


def run(smoke: bool = False) -> dict[str, Any]:
    seconds = 0.4 if smoke else 10.0
    rows: list[dict[str, Any]] = []
    with c.tempdir() as tmp:
        for processes in (0, CORES):
            with c.start_ours(tmp, generation_processes=processes) as ours:
                tokens = [c.login(ours, f"ttfi-user-{i}") for i in range(CLIENTS)]
                gen = f"{processes} processes" if processes else "threads"
                rows += [{"server": "ours", "generation": gen, "load": load, **measure(ours, tokens, seconds, iv)}
                         for load, iv in LOADS]
        with c.start_baseline(tmp) as base:
            rows += [{"server": "baseline", "generation": "-", "load": load, **measure(base, None, seconds, iv)}
                     for load, iv in LOADS]
    base_p99 = {r["load"]: r["first_p99_ms"] for r in rows if r["server"] == "baseline"}
    ratios = {f"{r['load']}, {r['generation']}": c.ratio(r["first_p99_ms"], base_p99[r["load"]])
              for r in rows if r["server"] == "ours"}
    # paced: both ways of generating; flat out: with every core generating
    ok = all(r["errors"] == 0 for r in rows) and all(
        ratio <= TARGETS[key.split(", ")[0]] for key, ratio in ratios.items()
        if key.startswith("paced") or not key.endswith("threads"))
    return c.report("ttfi", f"Time to first instance: {CLIENTS} concurrent clients, {INSTANCES}-instance worlds",
                    rows, {"ratio_first_p99": ratios,
                           "target": "ours first-chunk p99 <= 4x baseline paced, <= 8x flat out with every core "
                                     "generating", "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
