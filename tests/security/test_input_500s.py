"""Input that used to answer 500 now gets a 4xx; an aborted upload is no error (issue 15, finding 11).

Telemetry's own strings and timestamps are covered with the telemetry isolation tests.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import TIMEOUT, bearer, login

SURROGATE = '"\\ud800"'  # JSON's escape for a lone surrogate: decodes, but no column can store it


async def _raw(client: TestClient, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(TIMEOUT):
            return await reader.read()
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/static/%00.js", "/static/vendor/%00", "/static/%ED%A0%80.js"])
async def test_a_nul_or_a_surrogate_in_a_static_path_is_404(client: TestClient, path: str) -> None:
    answer = await _raw(client, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]


async def _post(client: TestClient, path: str, body: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    resp = await client.post(path, data=body.encode(), headers=headers)
    return resp.status, await resp.json()


@pytest.mark.parametrize("user_id", [SURROGATE, '"a\\u0000b"', '"line\\nbreak"'])
async def test_a_guest_id_that_cannot_be_stored_is_400(client: TestClient, user_id: str) -> None:
    status, body = await _post(client, "/api/v1/auth/login", f'{{"user_id": {user_id}}}')
    assert status == 400 and "user_id" in body["details"], body


async def test_a_lone_surrogate_in_a_prompt_is_422(client: TestClient) -> None:
    token = await login(client)
    status, body = await _post(client, "/api/v1/prompt2world/", f'{{"prompt": "a forest {SURROGATE[1:-1]}"}}',
                               token)
    assert status == 422 and "prompt" in body["details"], body


@pytest.mark.parametrize("field", ["title", "description"])
async def test_a_lone_surrogate_in_a_card_is_422(client: TestClient, field: str) -> None:
    token = await login(client)
    fields = {"world_blueprint_id": '"w"', "title": '"t"', "description": '"d"', field: SURROGATE}
    body = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    status, answer = await _post(client, "/api/v1/publish/", body, token)
    assert status == 422 and field in answer["details"], answer


async def test_a_lone_surrogate_in_a_registered_name_is_422(client: TestClient) -> None:
    status, body = await _post(client, "/api/v1/auth/register",
                               f'{{"username": "greta", "password": "correct horse", "display_name": {SURROGATE}}}')
    assert status == 422 and "display_name" in body["details"], body


def test_a_client_aborting_its_upload_is_logged_as_info_not_error(spawn_server: Any) -> None:
    # A real `immersiverse serve` (its runner does not cancel handlers when the peer goes).
    proc = spawn_server()
    with socket.create_connection(("127.0.0.1", proc.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{\"username\": \"hal")
    # Bounded: ask until the server has logged the aborted request, one way or the other.
    for _ in range(200):
        if "/api/v1/auth/register" in proc.output():
            break
        proc.get("/health")
    out = proc.output()
    assert "client closed the connection during POST /api/v1/auth/register" in out, out[-2000:]
    assert "ERROR" not in out and "Traceback" not in out, out[-2000:]
