"""REST catalog: GET /api/v1/prefab-catalog/ with a bearer token, over 10 and 500 keep-alive
connections, for a fixed time each.

The baseline is a plain aiohttp handler returning the very bytes ours returned (fetched at the
start of the run). The load client is a minimal asyncio HTTP/1.1 client (one request in flight
per connection) in separate processes. Target: ≥ 5,000 req/s at 10 connections; at 500, no
errors, no dropped connection and no stall (every connection completes requests).

    python -m bench.rest_catalog [--smoke]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import common as c
from . import httpload

TARGET_RPS = 5_000
PATH = "/api/v1/prefab-catalog/"


def run(smoke: bool = False) -> dict[str, Any]:
    seconds = 0.3 if smoke else 10.0
    levels = ((10, 1), (20, 1)) if smoke else ((10, 1), (500, 2))
    rows = []
    with c.tempdir() as tmp:
        with c.start_ours(tmp) as ours:
            token = c.login(ours, "rest-user")
            status, body = c.http("GET", ours.url + PATH, token=token)
            assert status == 200, (status, body[:200])
            Path(tmp, "catalog.json").write_bytes(body)
            req = [httpload.http_request("GET", PATH, ours.port, token)]
            for conns, procs in levels:
                rows.append({"server": "ours", **httpload.http_bench(ours, req, conns, procs, seconds)})
        with c.start_baseline(tmp, "--canned", f"GET:{PATH}={tmp}/catalog.json") as base:
            req = [httpload.http_request("GET", PATH, base.port, token)]
            for conns, procs in levels:
                rows.append({"server": "baseline", **httpload.http_bench(base, req, conns, procs, seconds)})
    ours10, big = rows[0], rows[1]
    ok = (ours10["req_per_s"] >= TARGET_RPS and not ours10["errors"] and not big["errors"]
          and not big["dropped"] and big["min_per_conn"] > 1)
    return c.report("rest_catalog", f"REST catalog: GET {PATH} ({len(body):,} bytes)", rows,
                    {"ratio_us_per_req": [c.ratio(rows[i]["us_per_req"], rows[i + len(levels)]["us_per_req"])
                                          for i in range(len(levels))],
                     "target": f">= {TARGET_RPS:,} req/s at 10 connections; no errors or stall at {levels[-1][0]}",
                     "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
