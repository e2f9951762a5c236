"""REST catalog: GET /api/v1/prefab-catalog/ with a bearer token, over 10 and 500 keep-alive
connections, for a fixed time each, in rounds alternating with the baseline (both servers run
side by side; the ratio is the median of the per-round ratios: httpload.interleaved).

The baseline is a plain aiohttp handler returning the very bytes ours returned (fetched at the
start of the run). The load client is a minimal asyncio HTTP/1.1 client (one request in flight
per connection) in separate processes. Target: ≥ 5,000 req/s at 10 connections; at 500, no
errors, no dropped connection and no stall (every connection completes requests).

    python -m bench.rest_catalog [--smoke]
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from . import common as c
from . import httpload

TARGET_RPS = 5_000
PATH = "/api/v1/prefab-catalog/"


def run(smoke: bool = False) -> dict[str, Any]:
    seconds = 0.3 if smoke else 10.0
    # (connections, load processes, rounds): 500 connections need longer rounds to all get served
    levels = ((10, 1, 1), (20, 1, 1)) if smoke else ((10, 1, 4), (500, 2, 2))
    long = 1 if smoke else 2  # the 500-connection rounds are twice as long: every connection must be served
    rows: list[dict[str, Any]] = []
    ratios: list[float] = []
    with c.tempdir() as tmp:
        with c.start_ours(tmp) as ours:
            token = c.login(ours, "rest-user")
            status, body = c.http("GET", ours.url + PATH, token=token)
            assert status == 200, (status, body[:200])
            Path(tmp, "catalog.json").write_bytes(body)
            with c.start_baseline(tmp, "--canned", f"GET:{PATH}={tmp}/catalog.json") as base:
                servers = {name: (server, [httpload.http_request("GET", PATH, server.port, token)])
                           for name, server in (("ours", ours), ("baseline", base))}
                for conns, procs, rounds in levels:
                    span = seconds * (long if conns > 20 else 1)
                    level_rows, level_ratios = httpload.interleaved(servers, conns, procs, span, rounds)
                    rows += level_rows
                    ratios.append(round(statistics.median(level_ratios), 2))
    ours10, big = rows[0], rows[2]
    ok = (ours10["req_per_s"] >= TARGET_RPS and not ours10["errors"] and not big["errors"]
          and not big["dropped"] and big["min_per_conn"] > 1)
    return c.report("rest_catalog", f"REST catalog: GET {PATH} ({len(body):,} bytes)", rows,
                    {"ratio_us_per_req": ratios,
                     "ratio_note": "median over interleaved rounds of ours / baseline server CPU per request",
                     "target": f">= {TARGET_RPS:,} req/s at 10 connections; no errors or stall at {levels[-1][0]}",
                     "ratio_target": 1.3, "pass": ok, "smoke": smoke})


if __name__ == "__main__":
    c.cli(run)
