"""Log lines cannot be forged by user-supplied text, and a failed username is never logged
(issue 15, finding 12). Checked on the output of a real `immersiverse serve`."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import aiohttp

from tests.conftest import TIMEOUT
from tests.support.serve import EXE, ServerProcess

FORGED = "2026-12-06 00:00:00,000 ERROR immersiverse.auth: forged line"


def _forged_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(FORGED[:24]) or "\x00" in line]


def test_a_guest_id_with_a_line_break_or_nul_is_refused(spawn_server: Any) -> None:
    proc = spawn_server()
    for user_id in (f"mallory\n{FORGED}", "mallory\x00"):
        status, body = proc.request("POST", "/api/v1/auth/login", {"user_id": user_id})
        assert status == 400 and "user_id" in body["details"], body
    assert not _forged_lines(proc.output())


async def test_an_old_id_with_a_line_break_is_logged_escaped(spawn_server: Any) -> None:
    proc: ServerProcess = spawn_server()
    user = f"legacy\n{FORGED}"  # an account stored before ids were checked
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMMERSIVERSE_")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{proc.db}"
    made = await asyncio.to_thread(subprocess.run, [EXE, "token", user], cwd=proc.tmp, env=env,
                                   capture_output=True, text=True, timeout=6 * TIMEOUT, check=True)
    token = made.stdout.strip().splitlines()[0]
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(proc.ws_url, headers={"Authorization": f"Bearer {token}"})
        await ws.receive(timeout=TIMEOUT)  # welcome
        await ws.close()
    for _ in range(200):  # bounded: until the server has logged the end of that session
        if "session closed: user legacy" in proc.output():
            break
        proc.get("/health")
    out = proc.output()
    assert "session closed: user legacy\\x0a2026-12-06" in out, out[-2000:]
    assert not _forged_lines(out)


def test_a_failed_username_is_never_logged(spawn_server: Any) -> None:
    proc = spawn_server()
    typed = "correct-horse-battery-staple"  # a password typed into the username field
    status, _ = proc.request("POST", "/api/v1/auth/login", {"username": typed, "password": "x"})
    assert status == 401
    for _ in range(200):  # bounded: until the failure is logged
        if "failed password login" in proc.output():
            break
        proc.get("/health")
    out = proc.output()
    assert "failed password login for username #" in out, out[-2000:]
    assert typed not in out
