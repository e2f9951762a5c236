"""Behind the shipped proxy, per-IP limits see the client, not the proxy (issue 15, finding 6).

`trusted_proxies` lists the proxies whose `X-Forwarded-For` is believed; with `proxy_protocol`
their connections start with a PROXY v1/v2 header (deploy/haproxy.cfg sends v2). Anyone else's
header is ignored, so a client cannot choose its own address. The per-address WebSocket cap
(`max_connections_per_ip`) and the per-address connection cap make the address observable.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgpack
import pytest

from tests.conftest import TIMEOUT
from tests.security.traffic_util import Served, closed_by_server, connect, eventually, login, request, serve

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
OPEN: list[aiohttp.ClientWebSocketResponse] = []  # sockets a test keeps open until its end


def proxy_v1(client: str) -> bytes:
    return f"PROXY TCP4 {client} 10.0.0.1 40000 8000\r\n".encode()


def proxy_v2(client: str | None) -> bytes:
    if client is None:  # LOCAL: the proxy's own health check
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    body = (ipaddress.IPv4Address(client).packed + ipaddress.IPv4Address("10.0.0.1").packed
            + struct.pack("!HH", 40000, 8000))
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


@pytest.fixture
async def ws_session() -> AsyncIterator[dict[str, aiohttp.ClientSession]]:
    """One client session per loopback source address, closed at the end."""
    sessions: dict[str, aiohttp.ClientSession] = {}
    yield sessions
    while OPEN:
        await OPEN.pop().close()
    for s in sessions.values():
        await s.close()


async def open_ws(sessions: dict[str, aiohttp.ClientSession], srv: Served, token: str, *,
                  source: str = "127.0.0.1", forwarded_for: str | None = None) -> str | int:
    """A socket's first frame: "welcome", or the close code of a refusal (its `bye` skipped)."""
    if source not in sessions:
        sessions[source] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    ws = await sessions[source].ws_connect(f"http://127.0.0.1:{srv.port}/ws", headers=headers)
    async with asyncio.timeout(TIMEOUT):
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                frame = msgpack.unpackb(msg.data)
                if frame["type"] == "welcome":
                    OPEN.append(ws)  # left open: it holds its address's slot
                    return "welcome"
                continue
            return ws.close_code or 0


@contextlib.asynccontextmanager
async def behind_proxies(tmp_path: Path, trusted: str, per_ip: int) -> AsyncIterator[tuple[Served, str]]:
    """A server that trusts `trusted` as proxies and takes `per_ip` sockets per client address
    (and 50 per user), with alice's token."""
    async with serve(tmp_path, trusted_proxies=trusted, max_connections_per_ip=per_ip,
                     max_connections_per_user=50) as srv:
        yield srv, await login(srv.port, "alice")


async def test_a_trusted_proxys_forwarded_for_is_the_address_of_the_per_ip_limit(
        tmp_path: Path, ws_session: dict[str, aiohttp.ClientSession]) -> None:
    async with behind_proxies(tmp_path, "127.0.0.1", per_ip=2) as (srv, token):
        for _ in range(2):
            assert await open_ws(ws_session, srv, token, forwarded_for="203.0.113.5") == "welcome"
        # Another client behind the same proxy is not locked out by the first one's sockets.
        assert await open_ws(ws_session, srv, token, forwarded_for="203.0.113.6") == "welcome"
        assert await open_ws(ws_session, srv, token, forwarded_for="203.0.113.5") == 4004


async def test_forwarded_for_is_read_right_to_left_past_trusted_hops_only(
        tmp_path: Path, ws_session: dict[str, aiohttp.ClientSession]) -> None:
    async with behind_proxies(tmp_path, "127.0.0.1, 10.0.0.0/8", per_ip=1) as (srv, token):
        # The leftmost entries are whatever the client wrote; the client is the last untrusted hop.
        assert await open_ws(ws_session, srv, token, forwarded_for="1.1.1.1, 203.0.113.9, 10.0.0.5") == "welcome"
        assert await open_ws(ws_session, srv, token, forwarded_for="2.2.2.2, 203.0.113.9, 10.0.0.5") == 4004
        assert await open_ws(ws_session, srv, token, forwarded_for="1.1.1.1, 203.0.113.10, 10.0.0.5") == "welcome"


async def test_an_untrusted_peer_cannot_choose_its_address_with_forwarded_for(
        tmp_path: Path, ws_session: dict[str, aiohttp.ClientSession]) -> None:
    async with behind_proxies(tmp_path, "127.0.0.1", per_ip=2) as (srv, token):
        for i in range(2):
            outcome = await open_ws(ws_session, srv, token, source="127.0.0.2", forwarded_for=f"198.51.100.{i}")
            assert outcome == "welcome"
        assert await open_ws(ws_session, srv, token, source="127.0.0.2", forwarded_for="198.51.100.9") == 4004


@pytest.mark.parametrize("header", [proxy_v1, proxy_v2], ids=["v1", "v2"])
async def test_a_proxy_protocol_header_names_the_client_of_the_connection(tmp_path: Path, header: object) -> None:
    make = proxy_v1 if header is proxy_v1 else proxy_v2
    async with serve(tmp_path, trusted_proxies="127.0.0.1", proxy_protocol=True, http_max_connections_per_ip=1,
                     http_header_timeout_s=60.0) as srv:
        assert (await request(srv.port, "GET", "/health", prefix=make("198.51.100.7")))[0] == 200
        # One connection per client address: a second from A closes A's idle one, not B's.
        b_reader, b_writer = await connect(srv.port)
        b_writer.write(make("198.51.100.8"))
        a_reader, a_writer = await connect(srv.port)
        a_writer.write(make("198.51.100.7"))
        await eventually(lambda: srv.runner.guard.open == 2, "both connections sent their headers")
        a2_reader, a2_writer = await connect(srv.port)
        a2_writer.write(make("198.51.100.7"))
        assert await closed_by_server(a_reader), "the client's older idle connection was closed"
        assert not b_reader.at_eof(), "another client's connection was closed"
        for w in (a_writer, a2_writer, b_writer):
            w.transport.abort()


async def test_a_proxy_health_check_with_a_local_header_is_answered(tmp_path: Path) -> None:
    async with serve(tmp_path, trusted_proxies="127.0.0.1", proxy_protocol=True) as srv:
        assert (await request(srv.port, "GET", "/health", prefix=proxy_v2(None)))[0] == 200


async def test_a_trusted_proxy_connection_without_a_proxy_header_is_closed(tmp_path: Path) -> None:
    async with serve(tmp_path, trusted_proxies="127.0.0.1", proxy_protocol=True) as srv:
        reader, writer = await connect(srv.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(TIMEOUT):
            assert await reader.read() == b""  # closed without an answer
        writer.close()


async def test_an_untrusted_peer_cannot_send_a_proxy_header(tmp_path: Path) -> None:
    async with serve(tmp_path, trusted_proxies="127.0.0.1", proxy_protocol=True) as srv:
        status, _ = await request(srv.port, "GET", "/health", prefix=proxy_v1("198.51.100.7"), source="127.0.0.2")
        assert status == 400


def test_the_shipped_deployment_sends_the_header_the_nodes_expect() -> None:
    """deploy/haproxy.cfg speaks PROXY v2 (health checks included) to nodes that trust exactly
    the load balancer's fixed address (docker-compose.yml)."""
    root = Path(__file__).resolve().parents[2]
    cfg = (root / "deploy" / "haproxy.cfg").read_text()
    default_server = next(line.split() for line in cfg.splitlines() if line.strip().startswith("default-server"))
    assert "send-proxy-v2" in default_server and "check-send-proxy" in default_server
    compose = (root / "docker-compose.yml").read_text()
    trusted = re.search(r"IMMERSIVERSE_TRUSTED_PROXIES: (\S+)", compose)
    lb_address = re.search(r"ipv4_address: (\S+)", compose)
    assert trusted and lb_address and trusted.group(1) == lb_address.group(1)
    assert re.search(r'IMMERSIVERSE_PROXY_PROTOCOL: "true"', compose)
