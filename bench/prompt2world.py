"""REST prompt2world: POST /api/v1/prompt2world/ for worlds of 500 instances, over a few
keep-alive connections; instances per second = worlds answered × instances per world / time.

Each request names another seed, so every world is planned, stored and serialised anew. The
baseline is a plain aiohttp handler that reads the body and returns the bytes of one world
ours generated at the start of the run. Target: ≥ 60,000 instances/s.

    python -m bench.prompt2world [--smoke]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import common as c
from . import httpload

TARGET = 60_000
PATH = "/api/v1/prompt2world/"
INSTANCES = 500
CONNS = 4
COUNT = b'"prefab_id":'


def _requests(port: int, token: str) -> list[bytes]:
    return [httpload.http_request("POST", PATH, port, token, json.dumps(
        {"prompt": c.PROMPTS[k % len(c.PROMPTS)], "seed": 1000 + k, "max_instances": INSTANCES}).encode())
        for k in range(200)]


def _row(server: str, r: dict[str, Any], seconds: float) -> dict[str, Any]:
    inst = r["counted"]  # instances actually returned: each has one "prefab_id" key
    return {"server": server, "worlds": r["requests"], "errors": r["errors"], "worlds_per_s": r["req_per_s"],
            "instances": inst, "instances_per_s": round(inst / seconds), "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
            "server_cpu_s": r["server_cpu_s"], "us_per_instance": round(r["server_cpu_s"] / max(1, inst) * 1e6, 2),
            "instances_per_cpu_s": round(inst / max(1e-9, r["server_cpu_s"])), "status": r["status"]}


def run(smoke: bool = False) -> dict[str, Any]:
    seconds = 0.4 if smoke else 15.0
    rows = []
    with c.tempdir() as tmp:
        with c.start_ours(tmp) as ours:
            token = c.login(ours, "p2w-user")
            status, body = c.http("POST", ours.url + PATH, {"prompt": c.PROMPTS[0], "seed": 1,
                                                             "max_instances": INSTANCES}, token)
            assert status == 200, (status, body[:300])
            per_world = len(json.loads(body)["world_blueprint"]["prefab_instances"])
            assert body.count(COUNT) == per_world, "one prefab_id key per instance is how they are counted"
            Path(tmp, "world.json").write_bytes(body)
            rows.append(_row("ours", httpload.http_bench(ours, _requests(ours.port, token), CONNS, 1, seconds,
                                                  COUNT), seconds))
        with c.start_baseline(tmp, "--canned", f"POST:{PATH}={tmp}/world.json") as base:
            rows.append(_row("baseline", httpload.http_bench(base, _requests(base.port, token), CONNS, 1, seconds,
                                                  COUNT), seconds))
    ok = rows[0]["errors"] == 0 and rows[0]["instances_per_s"] >= TARGET
    return c.report("prompt2world", f"REST prompt2world: worlds of max_instances={INSTANCES} (baseline: a "
                    f"{per_world}-instance world, {len(body):,} bytes), {CONNS} connections", rows,
                    {"ratio_us_per_instance": c.ratio(rows[0]["us_per_instance"], rows[1]["us_per_instance"]),
                     "target": f">= {TARGET:,} instances/s", "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
