"""Fixtures for the hardening suite: in-process servers with settings overrides (`peers`),
a real `immersiverse serve` subprocess (`ServerProcess`, for signals, logs and /metrics)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import TIMEOUT, AppFactory, login
from tests.session.peer import Peer

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("immersiverse"))


async def open_peer(client: TestClient, user: str = "alice", token: str | None = None) -> Peer:
    """An authenticated Peer (header token) that has read its `welcome`."""
    tok = token or await login(client, user)
    peer = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {tok}"}))
    first = await peer.recv()
    assert first["type"] == "welcome", first
    return peer


@pytest.fixture
async def server(make_client: AppFactory) -> AsyncIterator[Callable[..., Any]]:
    """server(**settings) → (client, open(user) → Peer); peers are closed at the end."""
    peers: list[Peer] = []

    async def factory(**overrides: Any) -> tuple[TestClient, Callable[..., Any]]:
        client = await make_client(**overrides)

        async def opener(user: str = "alice", token: str | None = None) -> Peer:
            peer = await open_peer(client, user, token)
            peers.append(peer)
            return peer
        return client, opener

    yield factory
    for peer in peers:
        await peer.ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`immersiverse serve` on 127.0.0.1:<free port> over a SQLite file in `tmp`.

    Output goes to `tmp/server-<n>.log`; `stop()` never leaves the process behind.
    """

    _n = 0

    def __init__(self, tmp: Path, **settings: Any) -> None:
        ServerProcess._n += 1
        self.tmp = tmp
        self.db = tmp / "x.db"
        self.port = free_port()
        self.log_path = tmp / f"server-{ServerProcess._n}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMMERSIVERSE_")}
        env.update({"DATABASE_URL": f"sqlite+aiosqlite:///{self.db}", "IMMERSIVERSE_REVOCATION_POLL_S": "0.2",
                    "IMMERSIVERSE_TELEMETRY_FLUSH_MS": "5", "IMMERSIVERSE_LOG_LEVEL": "INFO"})
        env.update({f"IMMERSIVERSE_{k.upper()}": str(v) for k, v in settings.items()})
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([EXE, "serve", "--port", str(self.port)], cwd=tmp, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 6 * TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early ({self.proc.returncode}):\n{self.output()}")
            if self.get("/health")[0] == 200:
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server did not come up:\n{self.output()}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return 0, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def login(self, user: str) -> str:
        status, body = self.request("POST", "/api/v1/auth/login", {"user_id": user})
        assert status == 200, body
        return str(body["token"])

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=3 * TIMEOUT)
        self.kill()


@pytest.fixture
def spawn_server(tmp_path: Path) -> Any:
    """spawn_server(**settings) → a running ServerProcess; all are stopped at the end."""
    started: list[ServerProcess] = []

    def factory(**settings: Any) -> ServerProcess:
        proc = ServerProcess(tmp_path, **settings)
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop()
