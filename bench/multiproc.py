"""Several server processes on one host (issue 17 item 4): N `immersiverse serve` processes share
one port (`reuse_port`: SO_REUSEPORT, the kernel spreads new connections over them), one
PostgreSQL store and the Redis broker (docs/operations.md §6). Measured with 1 and with 2
processes, in the same run:

- deliveries per second: M members of one world (their connections spread over the processes),
  the owner editing at 20 Hz (latency of each delivery), then flat out (16 edits in flight);
  every op reaches every member, across processes through Redis. Server CPU is the sum over the
  processes. One editing socket's edits are applied one after the other, each a store
  transaction, so the flat-out rate is bound by PostgreSQL's commit latency, not by the fan-out.
- prompts per second: clients keeping prompts of 500-instance worlds in flight, each world
  generated, stored and streamed by the process its socket landed on. The generation workers
  are shared out: cores ÷ N per process (docs/operations.md §6.1).

There is no baseline server: the figure is the 2-process rate over the 1-process rate, on the
same machine, minute and store. Load clients share the machine's cores with the servers.

Needs PostgreSQL and Redis on 127.0.0.1, named by BENCH_DATABASE_URL (postgresql+asyncpg://…) and
BENCH_REDIS_URL (a database the figure may fill: it writes users, worlds and ops); without them
the figure is skipped.

    python -m bench.multiproc [--smoke]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from . import common as c
from . import fanout

INSTANCES = 500
SECRET = "bench-multiproc-secret-" * 3  # the same on every process: a token minted by one is checked by another


class Cluster:
    """N server processes on one port, measured as one server (what `c.Meter` and the load
    helpers need: port, URLs, CPU of all processes)."""

    def __init__(self, tmp: str, n: int, database_url: str, redis_url: str) -> None:
        self.port = c.free_port()
        self.servers: list[c.Server] = []
        exe = str(Path(sys.executable).with_name("immersiverse"))
        try:
            for i in range(n):
                env = {**c.OURS_ENV, "DATABASE_URL": database_url, "SECRET_KEY": SECRET,
                       "IMMERSIVERSE_BROKER": "redis", "IMMERSIVERSE_REDIS_URL": redis_url,
                       "IMMERSIVERSE_REUSE_PORT": "true", "IMMERSIVERSE_NODE_ID": f"bench-{n}-{i}",
                       "IMMERSIVERSE_LOG_LEVEL": "INFO",
                       # the machine's cores shared out: generation workers x processes = cores
                       "IMMERSIVERSE_GENERATION_PROCESSES": str(max(1, (os.cpu_count() or 1) // n))}
                server = c.Server(f"node{n}-{i}", [exe, "serve", "--port", str(self.port)], env, self.port, tmp)
                self.servers.append(server)
                # /health may have been answered by an earlier process on the same port: wait for this one's bind
                deadline = time.monotonic() + 30
                while "listening on" not in server.tail() and time.monotonic() < deadline:
                    if server.proc.poll() is not None:
                        raise RuntimeError(f"process {i} exited:\n{server.tail()}")
                    time.sleep(0.05)
                if "listening on" not in server.tail():
                    raise RuntimeError(f"process {i} did not bind:\n{server.tail()}")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://{c.HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{c.HOST}:{self.port}/ws"

    def cpu_s(self) -> float:
        return sum(s.cpu_s() for s in self.servers)

    def cpu_each(self) -> list[float]:
        return [s.cpu_s() for s in self.servers]

    def stop(self) -> None:
        for s in self.servers:
            s.stop()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def stores() -> tuple[str, str] | None:
    db, redis = os.environ.get("BENCH_DATABASE_URL"), os.environ.get("BENCH_REDIS_URL")
    if not db or not redis or not db.startswith("postgresql"):
        return None
    return db, redis


def measure(cluster: Cluster, members: int, member_procs: int, seconds: float, clients: int) -> dict[str, Any]:
    token = c.login(cluster, f"multi-{len(cluster.servers)}-{int(time.time())}")
    before = cluster.cpu_each()
    rows = fanout.measure(cluster, token, members, member_procs, seconds)  # type: ignore[arg-type]
    paced = next(r for r in rows if r["phase"] != "flat out")
    flat = next(r for r in rows if r["phase"] == "flat out")
    fan_cpu = [b - a for a, b in zip(before, cluster.cpu_each(), strict=True)]
    before = cluster.cpu_each()
    m, meter = c.run_prompters(cluster, token, procs=2, clients=clients // 2, parallel=2,  # type: ignore[arg-type]
                               seconds=seconds, max_instances=INSTANCES)
    gen_cpu = [b - a for a, b in zip(before, cluster.cpu_each(), strict=True)]
    first = sorted(x * 1000 for x in m["first"])
    return {"processes": len(cluster.servers), "members": members,
            "paced_p50_ms": paced["p50_ms"], "paced_p99_ms": paced["p99_ms"],
            "paced_us_per_delivery": paced["us_per_delivery"], "edits": flat["edits"],
            "deliveries": flat["deliveries"], "all_delivered": flat["deliveries"] == flat["expected"],
            "deliveries_per_s": flat["deliveries_per_s"], "us_per_delivery": flat["us_per_delivery"],
            "delivery_p99_ms": flat["p99_ms"], "join_all_s": flat["join_all_s"],
            "fanout_cpu_s_by_process": [round(x, 2) for x in fan_cpu],
            "prompts": m["prompts"], "prompt_errors": m["errors"],
            "prompts_per_s": round(m["prompts"] / meter.wall, 1),
            "instances_per_s": round(m["instances"] / meter.wall),
            "first_chunk_p50_ms": round(c.pct(first, 50), 1), "first_chunk_p99_ms": round(c.pct(first, 99), 1),
            "server_cpu_ms_per_prompt": round(meter.cpu / max(1, m["prompts"]) * 1000, 2),
            "prompt_cpu_s_by_process": [round(x, 2) for x in gen_cpu]}


def run(smoke: bool = False) -> dict[str, Any]:
    members, member_procs, seconds, clients = (10, 1, 0.5, 4) if smoke else (500, 2, 6.0, 10)
    found = stores()
    if found is None:
        print("multiproc: skipped (set BENCH_DATABASE_URL=postgresql+asyncpg://... and BENCH_REDIS_URL=redis://...)")
        return c.report("multiproc", "Several processes on one host: skipped (no PostgreSQL/Redis)", [],
                        {"skipped": "BENCH_DATABASE_URL / BENCH_REDIS_URL not set", "pass": True, "smoke": smoke})
    db, redis = found
    rows = []
    load = [os.getloadavg()[0]]
    with c.tempdir() as tmp:
        for n in (1, 2):
            with Cluster(tmp, n, db, redis) as cluster:
                rows.append(measure(cluster, members, member_procs, seconds, clients))
            load.append(os.getloadavg()[0])
    one, two = rows
    scale = {"deliveries_per_s": c.ratio(two["deliveries_per_s"], one["deliveries_per_s"]),
             "prompts_per_s": c.ratio(two["prompts_per_s"], one["prompts_per_s"])}
    ok = all(r["all_delivered"] and not r["prompt_errors"] for r in rows)
    return c.report("multiproc", f"Several processes on one host: {members:,} members, {clients} prompt clients, "
                    f"PostgreSQL + Redis, {os.cpu_count()} cores", rows,
                    {"two_over_one": scale, "loadavg_1m": load, "target": "measured (no target): 2 vs 1 process",
                     "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
