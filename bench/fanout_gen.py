"""Fan-out under generation load (issue 17 item 3): the fan-out latency of one room while other
users flood the server with prompts, against the same room with no generation running.

One server (ours, SQLite). M members join one world; its owner edits at 20 Hz (one `move` op per
`edit`, as bench/fanout.py). Five phases of equal length on the same sockets, alternating: alone,
under generation load, alone, under load, alone; the phases of each kind are pooled. Under load,
another user keeps `FLOOD_PARALLEL` prompts of 500-instance worlds in flight on each of
`FLOOD_CLIENTS` sockets (per-user generation budgets lifted, as in every figure: the worst case)
for the phase's time, reading every chunk. Latency = member receive time − editor send time, per
delivery. The figure is the loaded p99 over the unloaded p99; target ≤ 1.5×. Measured twice in
one run: plans in one worker process per core (the default, `generation_processes`,
server/genpool.py) and in the server's threads (`generation_processes = 0`). Server CPU includes
the workers'.

    python -m bench.fanout_gen [--smoke]
"""

from __future__ import annotations

import array
import asyncio
import os
import time
from typing import Any

from . import common as c
from . import fanout

TARGET_RATIO = 1.5
RATE_HZ = fanout.RATE_HZ
FLOOD_CLIENTS = 10
FLOOD_PARALLEL = 2
FLOOD_INSTANCES = 500
# alternating, so a load that comes and goes on the shared machine lands on both kinds
PHASES = ("alone 1", "under generation 1", "alone 2", "under generation 2", "alone 3")


async def _paced(server: c.Server, editor: fanout.Editor, progress: list[Any], seconds: float
                 ) -> tuple[dict[int, float], float]:
    """Edits at RATE_HZ for `seconds` on an absolute schedule; (seq → send time, server CPU)."""
    with c.Meter(server) as m:
        t0 = time.perf_counter()
        for k in range(int(seconds * RATE_HZ)):
            await asyncio.sleep(max(0.0, t0 + k / RATE_HZ - time.perf_counter()))
            await editor.edit()
        await editor.drain()
        sent = editor.take()
        deadline = time.monotonic() + 30
        while min(p.value for p in progress) < max(sent) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    return sent, m.cpu


def measure(server: c.Server, members: int, procs: int, seconds: float, flood: tuple[int, int]) -> dict[str, Any]:
    token, flooder = c.login(server, "fan-gen-user"), c.login(server, "flood-user")
    per = [members // procs + (1 if i < members % procs else 0) for i in range(procs)]
    cmds = [c.MP.Queue() for _ in range(procs)]
    progress = [c.MP.Value("q", 0, lock=False) for _ in range(procs)]
    ps, q = c.spawn(fanout._members, [(server.ws_url, token, k, sum(per[:i]), cmds[i], progress[i])
                                      for i, k in enumerate(per)])
    flood_out: dict[str, Any] = {}

    async def orchestrate() -> list[tuple[str, dict[int, float], float]]:
        ws, world_id, inst_id, pos = await fanout._setup_world(server, token)
        for cq in cmds:
            cq.put(world_id)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, c.collect, q, procs, 300)
        await asyncio.sleep(0.5)
        editor = fanout.Editor(ws, world_id, inst_id, pos)
        phases = []
        for name in PHASES:
            if not name.startswith("under generation"):
                sent, cpu = await _paced(server, editor, progress, seconds)
            else:  # the flood: bounded in time (the phase) and in prompts in flight (clients × parallel)
                start = c.MP.Event()
                fps, fq = c.spawn(c.prompters, [(server.ws_url, flooder, flood[0], flood[1], seconds,
                                                 FLOOD_INSTANCES, start)])
                try:
                    await loop.run_in_executor(None, c.collect, fq, 1, 60)
                    start.set()
                    sent, cpu = await _paced(server, editor, progress, seconds)
                    (report,) = await loop.run_in_executor(None, c.collect, fq, 1, 120)
                finally:
                    c.reap(fps)
                for k in ("prompts", "instances", "errors"):
                    flood_out[k] = flood_out.get(k, 0) + report[k]
            phases.append((name, sent, cpu))
        editor.task.cancel()
        await ws.close()
        return phases

    try:
        phases = c.run_async(orchestrate)
        for cq in cmds:
            cq.put([(name, sent) for name, sent, _ in phases])
        reports = c.collect(q, procs, 120)
    finally:
        c.reap(ps)
    rows = []
    for kind in ("alone", "under generation"):  # the phases of a kind pooled: drift lands on both kinds
        mine = [(name, sent, cpu) for name, sent, cpu in phases if name.startswith(kind)]
        lat = array.array("f")
        p99s = []
        for name, _, _ in mine:
            one = array.array("f")
            for r in reports:
                one.frombytes(r[name]["lat"])
            p99s.append(round(c.pct(sorted(x * 1000 for x in one), 99), 1))
            lat.extend(one)
        lat_ms = sorted(x * 1000 for x in lat)
        edits = sum(len(sent) for _, sent, _ in mine)
        row = {"phase": kind, "phases": len(mine), "members": members, "edits": edits, "deliveries": len(lat),
               "expected": edits * members, "p50_ms": round(c.pct(lat_ms, 50), 2),
               "p99_ms": round(c.pct(lat_ms, 99), 2), "p99_ms_by_phase": p99s,
               "max_ms": round(lat_ms[-1], 2) if lat_ms else None,
               "server_cpu_s": round(sum(cpu for _, _, cpu in mine), 2)}
        if kind == "under generation":
            row.update({f"flood_{k}": v for k, v in flood_out.items()})
        rows.append(row)
    return {"rows": rows}


def run(smoke: bool = False) -> dict[str, Any]:
    members, procs, seconds, flood = (10, 1, 0.3, (2, 1)) if smoke else (1000, 2, 4.0, (FLOOD_CLIENTS, FLOOD_PARALLEL))
    load = [os.getloadavg()[0]]
    rows: list[dict[str, Any]] = []
    ratios: dict[str, float] = {}
    complete = True
    # Plans in the server's threads, then in one worker process per core (the default).
    for planning, settings in (("threads", {"generation_processes": 0}), ("processes", {})):
        with c.tempdir() as tmp, c.start_ours(tmp, **settings) as ours:
            got = [{"server": "ours", "planning": planning, **r}
                   for r in measure(ours, members, procs, seconds, flood)["rows"]]
        load.append(os.getloadavg()[0])
        by = {r["phase"]: r for r in got}
        ratios[planning] = c.ratio(by["under generation"]["p99_ms"], by["alone"]["p99_ms"])
        complete = complete and all(r["deliveries"] == r["expected"] for r in got)
        rows += got
    return c.report("fanout_gen", f"Fan-out under generation load: {members:,} members at {RATE_HZ} Hz; flood "
                    f"{flood[0]} sockets x {flood[1]} prompts of {FLOOD_INSTANCES} instances", rows,
                    {"ratio_p99_loaded_to_alone": ratios, "all_delivered": complete, "loadavg_1m": load,
                     "target": f"p99 under generation <= {TARGET_RATIO}x p99 alone",
                     "pass": complete and ratios["processes"] <= TARGET_RATIO, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
