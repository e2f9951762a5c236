"""Every connection is bounded in time and number (issue 15, finding 3): slowloris and descriptor
exhaustion.

Counts are small and loopback only: the limits are lowered through settings, and a few hundred
connections at most are opened. Other loopback source addresses (127.0.0.2, …) stand for other
clients. No timed assertions: each check waits, up to the one TIMEOUT, for what must happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT
from tests.security.traffic_util import closed_by_server, connect, eventually, login, request, serve
from tests.support.serve import ServerProcess

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def idle_connections(port: int, n: int, sources: list[str]) -> AsyncIterator[list[Conn]]:
    """`n` connections that send nothing, spread over `sources`; closed at the end."""
    conns: list[Conn] = []
    try:
        for i in range(n):
            conns.append(await connect(port, sources[i % len(sources)]))
        yield conns
    finally:
        for _, writer in conns:
            writer.transport.abort()


def still_open(conns: list[Conn]) -> int:
    return sum(not reader.at_eof() for reader, _ in conns)


async def test_a_silent_connection_is_closed_after_the_header_timeout(tmp_path: Path) -> None:
    async with serve(tmp_path, http_header_timeout_s=0.2) as srv:
        reader, writer = await connect(srv.port)
        assert await closed_by_server(reader), "a connection that never sent a request stayed open"
        writer.close()


async def test_request_headers_trickled_byte_by_byte_are_cut_off(tmp_path: Path) -> None:
    async with serve(tmp_path, http_header_timeout_s=0.3) as srv:
        reader, writer = await connect(srv.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed = False
        for _ in range(500):  # a byte every 20 ms, within every size limit; the head never ends
            if reader.at_eof():
                closed = True
                break
            with contextlib.suppress(ConnectionError):
                writer.write(b"y")
                await writer.drain()
            await asyncio.sleep(0.02)
        assert closed or await closed_by_server(reader), "a slowloris head kept the connection open"
        writer.transport.abort()


async def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    async with serve(tmp_path, http_keepalive_timeout_s=0.2, http_header_timeout_s=60.0) as srv:
        reader, writer = await connect(srv.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: HTTP/1.1's default
        async with asyncio.timeout(TIMEOUT):
            assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
        assert await closed_by_server(reader), "an idle keep-alive connection stayed open"
        writer.close()


async def test_a_request_body_that_never_arrives_in_full_is_a_408(tmp_path: Path) -> None:
    async with serve(tmp_path, http_body_timeout_s=0.2) as srv:
        token = await login(srv.port, "alice")
        reader, writer = await connect(srv.port)
        writer.write((f"POST /api/v1/telemetry/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"event_type\"").encode())
        async with asyncio.timeout(TIMEOUT):
            assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 408")
        writer.transport.abort()


async def test_one_address_holding_many_idle_connections_is_capped_and_health_answers(tmp_path: Path) -> None:
    async with serve(tmp_path, http_max_connections_per_ip=50, http_header_timeout_s=60.0) as srv, \
            idle_connections(srv.port, 200, ["127.0.0.2"]) as conns:
        # Each connection past the cap closed the address's oldest idle one.
        await eventually(lambda: still_open(conns) <= 50, "one address holds at most 50 connections")
        assert (await request(srv.port, "GET", "/health", source="127.0.0.1"))[0] == 200
        # The same address still gets in: its new connection replaces an idle one.
        assert (await request(srv.port, "GET", "/health", source="127.0.0.2"))[0] == 200
        assert srv.runner.guard.open <= 50 + 1
        _, text = await request(srv.port, "GET", "/metrics")
        assert 'immersiverse_http_connections_closed_total{reason="idle_at_cap"}' in text


async def test_at_the_total_cap_idle_connections_make_room_and_health_answers(tmp_path: Path) -> None:
    sources = [f"127.0.0.{i}" for i in range(2, 8)]  # six addresses, each under its own cap
    async with serve(tmp_path, http_max_connections=100, http_max_connections_per_ip=60,
                     http_header_timeout_s=60.0) as srv, idle_connections(srv.port, 300, sources) as conns:
        await eventually(lambda: still_open(conns) <= 100, "at most 100 connections in all")
        assert (await request(srv.port, "GET", "/health"))[0] == 200


@contextlib.contextmanager
def limited_server(tmp_path: Path, nofile: int) -> Iterator[ServerProcess]:
    """`immersiverse serve` (server/runner.py) under a descriptor limit of `nofile`."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    server = ServerProcess(tmp_path, prefix=["prlimit", f"--nofile={nofile}:{nofile}"], log_level="WARNING",
                           http_header_timeout_s=60)
    try:
        yield server
    finally:
        server.stop()


async def test_at_the_descriptor_limit_health_keeps_answering(tmp_path: Path) -> None:
    """256 descriptors, 400 idle connections from one address: the oldest idle ones are closed
    before the process runs out, so a new client (and /health) always gets in."""
    with limited_server(tmp_path, 256) as server:
        async with idle_connections(server.port, 400, ["127.0.0.2"]) as conns:
            assert (await request(server.port, "GET", "/health"))[0] == 200, server.output()
            await eventually(lambda: still_open(conns) < 256, "fewer connections than descriptors")
