"""Time to first instance: 10 concurrent clients, each sending a prompt (a 500-instance world),
waiting for its `gen.done`, and sending the next; latency = prompt sent → first `gen.chunk`.

Two loads, one after the other: **flat out** (each client sends its next prompt the moment its
world is done: the server is saturated, so the latency is mostly queueing behind other clients'
generations) and **paced** (each client sends at most one prompt every 250 ms, 40 prompts/s in
all: users who look at their world before asking for the next).

Ours plans the world (generator thread), stores the world row and the first chunk, then
sends. The baseline answers the prompt frame immediately with pre-built frames, so its
first-frame latency is the floor: socket, event loop, codec. Target: ours p99 ≤ 2× baseline p99,
under both loads.

    python -m bench.ttfi [--smoke]
"""

from __future__ import annotations

from typing import Any

from . import common as c

TARGET_RATIO = 2.0
CLIENTS = 10
INSTANCES = 500
LOADS = (("flat out", 0.0), ("paced", 0.25))  # seconds between one client's prompts


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
    rows = []
    with c.tempdir() as tmp:
        with c.start_ours(tmp) as ours:
            tokens = [c.login(ours, f"ttfi-user-{i}") for i in range(CLIENTS)]
            rows += [{"server": "ours", "load": load, **measure(ours, tokens, seconds, iv)} for load, iv in LOADS]
        with c.start_baseline(tmp) as base:
            rows += [{"server": "baseline", "load": load, **measure(base, None, seconds, iv)} for load, iv in LOADS]
    ratios = {load: c.ratio(rows[i]["first_p99_ms"], rows[i + len(LOADS)]["first_p99_ms"])
              for i, (load, _) in enumerate(LOADS)}
    ok = all(r["errors"] == 0 for r in rows) and all(r <= TARGET_RATIO for r in ratios.values())
    return c.report("ttfi", f"Time to first instance: {CLIENTS} concurrent clients, {INSTANCES}-instance worlds",
                    rows, {"ratio_first_p99": ratios, "target": f"ours first-chunk p99 <= {TARGET_RATIO}x baseline",
                           "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
