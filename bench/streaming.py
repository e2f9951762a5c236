"""Streaming: instances delivered per second from prompts, per server CPU second.

Clients keep `max_generations` prompts of 20,000 instances running per socket; instances are
counted from `gen.done` (only whole generations, all received). Rate per server core =
instances / server CPU seconds (all threads: generator pool and SQLite included), so the
number does not depend on how many cores the machine has. The baseline sends pre-built
`gen.chunk` frames (128 instances each). Target: ours ≥ 200,000 instances/s on one core.

    python -m bench.streaming [--smoke]
"""

from __future__ import annotations

from typing import Any

from . import common as c

TARGET = 200_000


def measure(server: c.Server, token: str | None, seconds: float, instances: int) -> dict[str, Any]:
    m, meter = c.run_prompters(server, token, procs=1, clients=2, parallel=3, seconds=seconds,
                               max_instances=instances)
    return {"prompts": m["prompts"], "errors": m["errors"], "instances": m["instances"],
            "chunks": m["chunks"], "bytes_per_instance": round(m["chunk_bytes"] / max(1, m["instances"]), 1),
            "wall_s": round(meter.wall, 2), "server_cpu_s": round(meter.cpu, 2),
            "instances_per_s_wall": round(m["instances"] / meter.wall),
            "instances_per_cpu_s": round(m["instances"] / max(1e-9, meter.cpu)),
            "us_per_instance": round(meter.cpu / max(1, m["instances"]) * 1e6, 3)}


def run(smoke: bool = False) -> dict[str, Any]:
    seconds, instances = (0.4, 2_000) if smoke else (15.0, 20_000)
    rows = []
    with c.tempdir() as tmp:
        with c.start_ours(tmp, max_instances=instances) as ours:
            rows.append({"server": "ours", **measure(ours, c.login(ours, "stream-user"), seconds, instances)})
        with c.start_baseline(tmp) as base:
            rows.append({"server": "baseline", **measure(base, None, seconds, instances)})
    rate = rows[0]["instances_per_cpu_s"]
    return c.report("streaming", f"Streaming: prompts of {instances:,} instances, 2 sockets x 3 generations",
                    rows, {"ratio_us_per_instance": c.ratio(rows[0]["us_per_instance"], rows[1]["us_per_instance"]),
                           "target": f"ours >= {TARGET:,} instances per server CPU second",
                           "pass": rows[0]["errors"] == 0 and rate >= TARGET, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
