"""Auth abuse (issue #8, item 3). REST forgeries are in tests/server/test_rest_auth.py; this
adds the same forgeries on the socket (header token, hello token, auth.refresh), login
throttling per account and per IP from several real source addresses, and revocation made
by another process closing open sockets.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from protocol.codes import CloseCode, ErrorCode
from tests.conftest import TIMEOUT, bearer, login
from tests.server.test_rest_auth import FORGERIES
from tests.session.peer import Peer

pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")  # the HS512 forgery's short key
EXPECTED_CLOSE = {kind: (CloseCode.TOKEN_EXPIRED if kind == "expired" else CloseCode.UNAUTHORIZED)
                  for kind in FORGERIES}


@pytest.mark.parametrize("kind", sorted(FORGERIES))
async def test_forged_tokens_are_refused_on_the_socket(server: Any, kind: str) -> None:
    client, open_peer = await server()
    bystander = await open_peer("bystander")
    forged = FORGERIES[kind]()
    # 1. in the Authorization header of the upgrade
    peer = Peer(await client.ws_connect("/ws", headers=bearer(forged)))
    bye = await peer.recv()
    assert bye["type"] == "bye" and bye["code"] == EXPECTED_CLOSE[kind], bye
    assert await peer.closed() == EXPECTED_CLOSE[kind]
    # 2. in the first hello frame (browsers)
    peer = Peer(await client.ws_connect("/ws"))
    await peer.send(type="hello", v=1, token=forged)
    assert await peer.closed() == EXPECTED_CLOSE[kind]
    assert not any(f.get("type") == "welcome" for f in peer.seen)
    # 3. as auth.refresh on a good session: refused, the old token stays in force
    good = await open_peer("mallory")
    err = await good.request("auth.refresh", token=forged)
    assert err["type"] == "error" and err["code"] == ErrorCode.INVALID_TOKEN, err
    assert (await good.request("ping"))["type"] == "pong"
    assert (await bystander.request("ping"))["type"] == "pong"


async def test_hello_with_another_users_token_after_a_header_token_is_refused(server: Any) -> None:
    client, _ = await server()
    mine, theirs = await login(client, "alice"), await login(client, "bob")
    peer = Peer(await client.ws_connect("/ws", headers=bearer(mine)))
    assert (await peer.recv())["type"] == "welcome"
    await peer.send(type="hello", v=1, token=theirs)
    assert await peer.closed() == CloseCode.UNAUTHORIZED


async def _password_login(port: int, source_ip: str, username: str, password: str) -> aiohttp.ClientResponse:
    """POST /auth/login from a given loopback source address (127.0.0.x are all local on Linux)."""
    connector = aiohttp.TCPConnector(local_addr=(source_ip, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        resp = await http.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                               json={"username": username, "password": password},
                               timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        await resp.read()
        return resp


async def test_login_is_throttled_per_account_and_per_ip(server: Any) -> None:
    client, _ = await server(login_attempts_per_min=3)
    port = client.server.port
    for user in ("carol", "dave", "erin", "fred", "gina"):
        resp = await client.post("/api/v1/auth/register", json={"username": user, "password": "correct horse"})
        assert resp.status == 201
    # per account: three failures from three addresses lock carol everywhere, even with the password
    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        assert (await _password_login(port, ip, "carol", "wrong guess")).status == 401
    locked = await _password_login(port, "127.0.0.5", "carol", "correct horse")
    assert locked.status == 429 and 1 <= int(locked.headers["Retry-After"]) <= 60
    # per IP: three failures on three accounts from one address lock that address for everyone
    for user in ("dave", "erin", "fred"):
        assert (await _password_login(port, "127.0.0.6", user, "wrong guess")).status == 401
    assert (await _password_login(port, "127.0.0.6", "gina", "correct horse")).status == 429
    # ... and nobody else: gina from another address, dave (one failure) from another address
    assert (await _password_login(port, "127.0.0.7", "gina", "correct horse")).status == 200
    assert (await _password_login(port, "127.0.0.8", "dave", "correct horse")).status == 200


async def test_revocation_by_another_process_closes_open_sockets(make_client: Any) -> None:
    """Two apps over one store (two nodes): logout on B closes A's sockets of that session (4501)
    within revocation_poll_s, and only those."""
    node_a = await make_client(revocation_poll_s=0.2)
    node_b = await make_client(revocation_poll_s=0.2)
    token, other = await login(node_a, "harry"), await login(node_a, "harry")
    sockets = []
    for tok in (token, token, other):
        peer = Peer(await node_a.ws_connect("/ws", headers=bearer(tok)))
        assert (await peer.recv())["type"] == "welcome"
        sockets.append(peer)
    assert (await node_b.post("/api/v1/auth/logout", headers=bearer(token))).status == 200
    for peer in sockets[:2]:
        assert await peer.closed(timeout=5) == CloseCode.TOKEN_REVOKED
        bye = next(f for f in peer.seen if f.get("type") == "bye")
        assert bye["reconnect"] is False
    assert (await sockets[2].request("ping"))["type"] == "pong"  # another session of the same user
    refused = Peer(await node_a.ws_connect("/ws", headers=bearer(token)))
    assert await refused.closed() == CloseCode.TOKEN_REVOKED
    resp = await node_a.get("/api/v1/auth/validate", headers=bearer(token))
    assert resp.status == 401
    await sockets[2].ws.close()
