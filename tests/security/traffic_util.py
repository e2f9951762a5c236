"""Helpers of the traffic tests (telemetry isolation and quotas, connections, proxies): a server
behind the production runner (`GuardedRunner`) on 127.0.0.1, raw TCP clients bound to a chosen
loopback source address, and polling with one deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from server.app import create_app
from server.connections import GuardedRunner
from server.context import SERVICES, Services
from server.http import TRUSTED_PROXIES
from tests.conftest import TIMEOUT, make_settings


class Served:
    """A running server: its port, runner (with the connection guard) and services."""

    def __init__(self, runner: GuardedRunner, port: int) -> None:
        self.runner = runner
        self.port = port

    @property
    def services(self) -> Services:
        return self.runner.app[SERVICES]


@contextlib.asynccontextmanager
async def serve(tmp_path: Path, **overrides: Any) -> AsyncIterator[Served]:
    """The app as `immersiverse serve` runs it (server/runner.py), on a free loopback port."""
    settings = make_settings(tmp_path, **overrides)
    app = create_app(settings)
    runner = GuardedRunner(app, settings, app[TRUSTED_PROXIES], access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Served(runner, port)
    finally:
        await runner.cleanup()


async def connect(port: int, source: str = "127.0.0.1") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the server from `source` (any 127.0.0.0/8 address on Linux)."""
    async with asyncio.timeout(TIMEOUT):
        return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> bool:
    """Whether the server closes the connection (EOF or reset) within `timeout`; data is skipped."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
        return True
    except TimeoutError:  # before OSError, of which it is a subclass
        return False
    except (ConnectionError, OSError):
        return True


async def request(port: int, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
                  source: str = "127.0.0.1", prefix: bytes = b"") -> tuple[int, Any]:
    """One HTTP/1.1 request on a fresh connection ("Connection: close"): (status, JSON body or
    text). `prefix` goes before the request line (a PROXY header)."""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
            f"Content-Length: {len(body)}"]
    if body:
        head.append("Content-Type: application/json")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    reader, writer = await connect(port, source)
    try:
        writer.write(prefix + ("\r\n".join(head) + "\r\n\r\n").encode() + body)
        async with asyncio.timeout(TIMEOUT):
            raw = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    status = int(status_line.split()[1])
    payload = rest.partition(b"\r\n\r\n")[2]
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


async def login(port: int, user: str, source: str = "127.0.0.1") -> str:
    status, body = await request(port, "POST", "/api/v1/auth/login", body=json.dumps({"user_id": user}).encode(),
                                 source=source)
    assert status == 200, body
    return str(body["token"])


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = check()
                if await result if isinstance(result, Awaitable) else result:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g} s: {what}") from None
