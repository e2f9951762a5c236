"""A server as a real process on 127.0.0.1: started, waited for and stopped in one place.

The tests that need a process of their own (signals, logs, the CLI, several nodes, the Unity
harness) and the benchmarks start their servers here. Standard library only, so that bench/
can import it too."""

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

TIMEOUT = 10.0  # tests/conftest.py's: every wait is a multiple of it
START_TIMEOUT_S = 6 * TIMEOUT  # a cold start migrates a store and loads the catalog
# The console script beside this interpreter (the venv's), else the same entry point by module.
EXE = str(Path(sys.executable).with_name("immersiverse"))
SERVE = [EXE] if Path(EXE).exists() else [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without IMMERSIVERSE_* settings (a developer's shell must not
    change what a test sees), plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMMERSIVERSE_")}
    env["IMMERSIVERSE_GENERATION_PROCESSES"] = "0"  # plans in threads unless a test asks for workers
    env.update(overrides)
    return env


def settings_env(settings: Mapping[str, object]) -> dict[str, str]:
    """Settings as the environment variables that override them."""
    return {f"IMMERSIVERSE_{k.upper()}": str(v) for k, v in settings.items()}


def get_json(url: str, timeout: float = 1.0) -> tuple[int, Any] | None:
    """GET `url`: (status, JSON body or None), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def healthy(base_url: str) -> bool:
    answer = get_json(f"{base_url}/health")
    return answer is not None and answer[0] == 200


def wait_started(proc: subprocess.Popen[Any], up: Callable[[], bool], output: Callable[[], str],
                 timeout: float = START_TIMEOUT_S) -> None:
    """Poll `up` until it holds. RuntimeError with the server's output when the process exits
    first, or when `timeout` passes (the process is killed then)."""
    deadline = time.monotonic() + timeout
    while not up():
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early ({proc.returncode}):\n{output()}")
        if time.monotonic() > deadline:
            stop(proc, grace=0)
            raise RuntimeError(f"the server did not come up within {timeout:g} s:\n{output()}")
        time.sleep(0.05)  # another process: nothing to await but its port


def stop(proc: subprocess.Popen[Any], grace: float = 3 * TIMEOUT) -> int:
    """SIGTERM (it drains), SIGKILL after `grace` seconds; its exit status."""
    if proc.poll() is None and grace > 0:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    if proc.poll() is None:
        proc.kill()
    return proc.wait(timeout=TIMEOUT)


class ServerProcess:
    """`immersiverse serve` on 127.0.0.1 over a SQLite file in `tmp`, up (/health answers 200)
    when the constructor returns. Output goes to `tmp/server-<n>.log`; `stop()` never leaves the
    process behind. `port`: a port of its own (e.g. the one a restarted server had); `prefix`:
    a command to run it under (e.g. `prlimit`)."""

    _n = 0

    def __init__(self, tmp: Path, *, port: int | None = None, prefix: Sequence[str] = (), **settings: Any) -> None:
        ServerProcess._n += 1
        self.tmp = tmp
        self.db = tmp / "x.db"
        self.port = port or free_port()
        self.log_path = tmp / f"server-{ServerProcess._n}.log"
        env = clean_env(DATABASE_URL=f"sqlite+aiosqlite:///{self.db}", IMMERSIVERSE_REVOCATION_POLL_S="0.2",
                        IMMERSIVERSE_TELEMETRY_FLUSH_MS="5", IMMERSIVERSE_LOG_LEVEL="INFO")
        env.update(settings_env(settings))
        self._log: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([*prefix, *SERVE, "serve", "--port", str(self.port)], cwd=tmp, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        wait_started(self.proc, lambda: healthy(self.url), self.output)

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
        stop(self.proc, grace=0)
        self._log.close()

    def stop(self) -> int:
        """SIGTERM, SIGKILL if it does not exit in time; its exit status."""
        code = stop(self.proc)
        self._log.close()
        return code
