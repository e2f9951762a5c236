"""Accounts cannot be taken over by knowing their public id (issue 15, finding 1).

A guest's `user_id` was its only credential, and the server published it (card authors, world
owners, members, op authors). Now: the first login of a guest id answers a device secret that
later logins must present when `guest_secret_required` is on (production's default); public
surfaces show opaque public ids; a share names an existing account; every login path is rate
limited per IP and per account. The development default keeps the seed's user_id-only login.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from server.context import SERVICES
from tests.conftest import AppFactory, bearer
from tests.session.peer import open_peer

PRODUCTION = {"environment": "production", "secret_key": "s" * 48}
VICTIM = "victim-device-5f2c81"  # a guest id: the victim's login


async def _login(client: TestClient, **body: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/v1/auth/login", json=body)
    return resp.status, await resp.json()


async def _world(client: TestClient, token: str) -> str:
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token),
                             json={"prompt": "a small pine forest with rocks", "max_instances": 10, "seed": 1})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["world_blueprint"]["id"])


async def test_in_production_a_guest_id_alone_no_longer_logs_in(make_client: AppFactory) -> None:
    client = await make_client(**PRODUCTION)
    status, first = await _login(client, user_id=VICTIM)
    assert status == 200 and len(first["device_secret"]) >= 40, first
    world_id = await _world(client, first["token"])

    # The attacker knows the id (as anyone did from the public listing) but not the secret.
    status, body = await _login(client, user_id=VICTIM)
    assert (status, body["error"]) == (401, "device_secret_required"), body
    status, body = await _login(client, user_id=VICTIM, device_secret="guessed-" + "x" * 40)
    assert (status, body["error"]) == (401, "invalid_credentials"), body
    # The device that holds the secret logs in as before, and is not sent a new one.
    status, again = await _login(client, user_id=VICTIM, device_secret=first["device_secret"])
    assert status == 200 and again["user_id"] == VICTIM and "device_secret" not in again
    resp = await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(again["token"]))
    assert resp.status == 200


async def test_a_guest_from_before_device_secrets_is_bound_in_development_and_refused_in_production(
        make_client: AppFactory) -> None:
    dev = await make_client()
    await dev.app[SERVICES].store.users.ensure_guest("old-device")  # an account without a secret
    status, body = await _login(dev, user_id="old-device")
    assert status == 200 and body["device_secret"], body  # bound at its next login
    status, again = await _login(dev, user_id="old-device")
    assert status == 200 and "device_secret" not in again  # the seed's contract: the id alone still works
    status, wrong = await _login(dev, user_id="old-device", device_secret="not-it")
    assert status == 401, wrong  # a secret that is sent is checked
    status, _ = await _login(dev, user_id="old-device", device_secret=body["device_secret"])
    assert status == 200

    prod = await make_client(**PRODUCTION)
    await prod.app[SERVICES].store.users.ensure_guest("older-device")
    status, refused = await _login(prod, user_id="older-device")
    assert (status, refused["error"]) == (401, "device_secret_required"), refused


async def test_guest_secret_required_can_be_set_explicitly_in_development(make_client: AppFactory) -> None:
    client = await make_client(guest_secret_required="true")
    status, first = await _login(client, user_id="d1")
    assert status == 200 and first["device_secret"]
    assert (await _login(client, user_id="d1"))[0] == 401
    assert (await _login(client, user_id="d1", device_secret=first["device_secret"]))[0] == 200


async def test_public_surfaces_show_a_public_id_never_the_login_id(make_client: AppFactory) -> None:
    client = await make_client()
    status, owner = await _login(client, user_id=VICTIM)
    assert status == 200 and owner["public_id"] != VICTIM and owner["display_name"] != VICTIM
    world_id = await _world(client, owner["token"])
    resp = await client.post("/api/v1/publish/", headers=bearer(owner["token"]), json={
        "world_blueprint_id": world_id, "title": "Pines", "description": "a forest", "is_public": True})
    assert resp.status == 200, await resp.text()
    _, stranger = await _login(client, user_id="stranger")

    # REST: the card list, the card, the public world, the share answer.
    texts = []
    for path in ("/api/v1/publish/experiences", f"/api/v1/worlds/{world_id}"):
        resp = await client.get(path, headers=bearer(stranger["token"]))
        assert resp.status == 200
        texts.append(await resp.text())
    card = json.loads(texts[0])[0]["experience_card"]
    assert card["author_id"] == owner["public_id"] and card["author_name"] == owner["display_name"]
    assert json.loads(texts[1])["world_blueprint"]["owner_id"] == owner["public_id"]
    resp = await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(owner["token"]),
                             json={"user_id": "stranger", "role": "editor"})
    assert resp.status == 200
    texts.append(await resp.text())

    # Socket: joined members, presence, and the author of an op, as another member sees them.
    owner_peer = await open_peer(client, token=owner["token"])
    watcher = await open_peer(client, token=stranger["token"])
    joined = await watcher.request("join", world_id=world_id)
    assert joined["type"] == "joined", joined
    assert (await owner_peer.request("join", world_id=world_id))["type"] == "joined"
    presence = await watcher.until(lambda f: f.get("type") == "presence" and f.get("event") == "join")
    ack = await owner_peer.request("edit", world_id=world_id, ops=[
        {"op": "add", "prefab_id": _a_prefab(client), "pos": [0.0, 0.0, 0.0]}])
    assert ack["type"] == "edit.ack", ack
    op = await watcher.until_type("op")
    assert op["author"] == owner["public_id"] and presence["member"]["user_id"] == owner["public_id"]
    frames = [repr(f) for f in watcher.seen]
    for text in [*texts, *frames]:
        assert VICTIM not in text, text[:500]
    for peer in (owner_peer, watcher):
        await peer.ws.close()


def _a_prefab(client: TestClient) -> str:
    return str(next(iter(client.app[SERVICES].catalog.by_id)))


async def test_sharing_with_an_unknown_id_is_refused_and_grants_nothing(client: TestClient) -> None:
    _, owner = await _login(client, user_id="owner")
    world_id = await _world(client, owner["token"])
    resp = await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(owner["token"]),
                             json={"user_id": "not-registered-yet", "role": "editor"})
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    # Whoever takes that name later gets nothing.
    _, squatter = await _login(client, user_id="not-registered-yet")
    resp = await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(squatter["token"]))
    assert resp.status == 404
    resp = await client.get("/api/v1/worlds", headers=bearer(squatter["token"]))
    assert (await resp.json())["total_count"] == 0


async def test_guest_login_is_rate_limited_per_account(make_client: AppFactory) -> None:
    client = await make_client(auth_requests_per_account_per_min=3, auth_requests_per_ip_per_min=1000)
    for _ in range(3):
        assert (await _login(client, user_id="g"))[0] == 200
    resp = await client.post("/api/v1/auth/login", json={"user_id": "g"})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await _login(client, user_id="h"))[0] == 200  # another account is not affected


async def test_every_login_path_is_rate_limited_per_ip(make_client: AppFactory) -> None:
    client = await make_client(auth_requests_per_ip_per_min=4, auth_requests_per_account_per_min=1000)
    _, session = await _login(client, user_id="a1")
    resp = await client.post("/api/v1/auth/register", json={"username": "carol", "password": "correct horse"})
    assert resp.status == 201
    assert (await client.post("/api/v1/auth/refresh", headers=bearer(session["token"]))).status == 200
    assert (await _login(client, username="carol", password="correct horse"))[0] == 200
    # the budget of this address is spent: each path now answers 429
    calls = [client.post("/api/v1/auth/login", json={"user_id": "a2"}),
             client.post("/api/v1/auth/login", json={"username": "carol", "password": "correct horse"}),
             client.post("/api/v1/auth/register", json={"username": "dave", "password": "correct horse"}),
             client.post("/api/v1/auth/refresh", headers=bearer(session["token"]))]
    for call in calls:
        resp = await call
        assert resp.status == 429, await resp.text()
        assert (await resp.json())["error"] == "rate_limited" and "Retry-After" in resp.headers


async def test_register_and_refresh_count_against_the_account(make_client: AppFactory) -> None:
    client = await make_client(auth_requests_per_account_per_min=2, auth_requests_per_ip_per_min=1000)
    resp = await client.post("/api/v1/auth/register", json={"username": "erin", "password": "correct horse"})
    token = (await resp.json())["token"]
    assert (await client.post("/api/v1/auth/refresh", headers=bearer(token))).status == 200
    assert (await client.post("/api/v1/auth/refresh", headers=bearer(token))).status == 429
    assert (await _login(client, username="erin", password="correct horse"))[0] == 429
