"""HTTP/1.1 keep-alive load for the REST figures: raw asyncio protocols in load processes,
counting requests, errors and per-connection progress (a stalled connection shows as 0)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any

from . import common as c
from .common import HOST, Server


class _HttpConn(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection sending one request after the other (Content-Length only)."""

    def __init__(self, requests: Sequence[bytes], stats: dict[str, Any], stop_at: float) -> None:
        self.requests, self.stats, self.stop_at = requests, stats, stop_at
        self.buf = b""
        self.k = 0
        self.sent = 0.0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._next()

    def _next(self) -> None:
        if time.perf_counter() >= self.stop_at:
            self.transport.close()
            return
        self.sent = time.perf_counter()
        self.transport.write(self.requests[self.k % len(self.requests)])
        self.k += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n")[1:]:
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(self.buf) < head_end + 4 + length:
                return
            status = int(head[9:12])
            if self.stats["count"]:
                self.stats["counted"] += self.buf.count(self.stats["count"], head_end + 4, head_end + 4 + length)
            self.stats["lat"].append(time.perf_counter() - self.sent)
            self.stats["ok" if status < 400 else "errors"] += 1
            self.stats["status"][status] = self.stats["status"].get(status, 0) + 1
            self.buf = self.buf[head_end + 4 + length:]
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if time.perf_counter() < self.stop_at:
            self.stats["dropped"] += 1
        if not self.done.done():
            self.done.set_result(None)


async def http_load(port: int, requests: Sequence[bytes], conns: int, seconds: float,
                    count: bytes = b"") -> dict[str, Any]:
    """`conns` keep-alive connections, each sending the requests round-robin for `seconds`;
    `count`: occurrences of these bytes in response bodies are summed (e.g. instances)."""
    loop = asyncio.get_running_loop()
    stats: dict[str, Any] = {"ok": 0, "errors": 0, "dropped": 0, "status": {}, "lat": [], "count": count,
                             "counted": 0}
    stop_at = time.perf_counter() + seconds
    protos = []
    for _ in range(conns):
        _, proto = await loop.create_connection(lambda: _HttpConn(requests, stats, stop_at), HOST, port)
        protos.append(proto)
    await asyncio.wait([p.done for p in protos], timeout=seconds + 30)
    stats["per_conn_min"] = min((p.k for p in protos), default=0)
    return stats


def http_request(method: str, path: str, port: int, token: str | None = None, body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: keep-alive"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body or method == "POST":
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _http_proc(q: Any, port: int, requests: Sequence[bytes], conns: int, seconds: float, start: Any,
               count: bytes) -> None:
    async def body(q: Any) -> None:
        q.put({"ready": 1})
        while not start.is_set():
            await asyncio.sleep(0.002)
        q.put(await http_load(port, requests, conns, seconds, count))
    c.guard(q, lambda q: c.run_async(body, q))


def http_bench(server: Server, requests: Sequence[bytes], conns: int, procs: int, seconds: float,
               count: bytes = b"") -> dict[str, Any]:
    """`conns` keep-alive connections spread over `procs` load processes; server CPU measured."""
    per = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
    reports, meter = c.run_load(server, _http_proc, lambda start: [
        (server.port, requests, k, seconds, start, count) for k in per], seconds, ready_s=30, slack_s=60)
    lat = sorted(x * 1000 for r in reports for x in r["lat"])
    ok = sum(r["ok"] for r in reports)
    status: dict[int, int] = {}
    for r in reports:
        for k, v in r["status"].items():
            status[k] = status.get(k, 0) + v
    return {"conns": conns, "requests": ok, "errors": sum(r["errors"] for r in reports),
            "dropped": sum(r["dropped"] for r in reports), "req_per_s": round(ok / seconds),
            "p50_ms": round(c.pct(lat, 50), 2), "p99_ms": round(c.pct(lat, 99), 2),
            "max_ms": round(lat[-1], 1) if lat else None,
            "min_per_conn": min(r["per_conn_min"] for r in reports),
            "server_cpu_s": round(meter.cpu, 2), "us_per_req": round(meter.cpu / max(1, ok) * 1e6, 1),
            "status": status, "counted": sum(r["counted"] for r in reports)}


def interleaved(servers: dict[str, tuple[Server, Sequence[bytes]]], conns: int, procs: int, seconds: float,
                rounds: int, count: bytes = b"") -> tuple[list[dict[str, Any]], list[float]]:
    """`http_bench` on each server in turn, `rounds` times (`seconds` in all per server), the
    order alternating so each pair of rounds sits side by side in time. On a machine other work
    shares, a load that comes and goes then lands on both servers alike: the figure's ratio is
    the median of the per-round ratios (first server over second). One merged row per server."""
    names = list(servers)
    per: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            server, requests = servers[name]
            per[name].append(http_bench(server, requests, conns, procs, seconds / rounds, count))
    first, second = (per[name] for name in names[:2])
    ratios = [a["us_per_req"] / b["us_per_req"] for a, b in zip(first, second, strict=True) if b["us_per_req"]]
    return [{"server": name, **merge(per[name], seconds)} for name in names], ratios


def merge(rounds: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Rounds of `http_bench` as one row: totals, the server's CPU per request over all of them,
    latencies as the median of the rounds' (p50, p99) and their max."""
    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in rounds), 2)
    ok = sum(r["requests"] for r in rounds)
    cpu = sum(r["server_cpu_s"] for r in rounds)
    status: dict[int, int] = {}
    for r in rounds:
        for k, v in r["status"].items():
            status[k] = status.get(k, 0) + v
    return {"conns": rounds[0]["conns"], "rounds": len(rounds), "requests": ok,
            "errors": sum(r["errors"] for r in rounds), "dropped": sum(r["dropped"] for r in rounds),
            "req_per_s": round(ok / seconds), "p50_ms": median("p50_ms"), "p99_ms": median("p99_ms"),
            "max_ms": max((r["max_ms"] for r in rounds if r["max_ms"] is not None), default=None),
            "min_per_conn": min(r["min_per_conn"] for r in rounds), "server_cpu_s": round(cpu, 2),
            "us_per_req": round(cpu / max(1, ok) * 1e6, 1),
            "us_per_req_rounds": [r["us_per_req"] for r in rounds], "status": status,
            "counted": sum(r["counted"] for r in rounds)}
