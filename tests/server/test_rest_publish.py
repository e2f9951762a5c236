"""/api/v1/publish: publish your own world; list and read experiences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.context import SERVICES
from tests.conftest import bearer, login

CARD_FIELDS = {"id", "world_blueprint_id", "title", "description", "thumbnail_url", "tags", "author_id",
               "is_public", "play_count", "rating", "created_at", "updated_at"}


async def _world(client: TestClient, world_id: str, owner: str) -> None:
    await client.app[SERVICES].store.worlds.create(
        id=world_id, owner_id=owner, prompt="A mystical forest with ancient trees", world_type="fantasy",
        title="Mystic Forest", description="ancient trees", header={}, seed=0)


@pytest.fixture
async def alice(client: TestClient) -> str:
    token = await login(client, "alice")
    await _world(client, "w-alice", "alice")
    return token


@pytest.fixture
async def bob(client: TestClient) -> str:
    token = await login(client, "bob")
    await _world(client, "w-bob", "bob")
    return token


async def _publish(client: TestClient, token: str, **changes: Any) -> Any:
    body = {"world_blueprint_id": "w-alice", "title": "Mystic Forest", "description": "Walk among ancient trees",
            "tags": ["forest", "fantasy"], "is_public": True, "user_id": "alice", **changes}
    return await client.post("/api/v1/publish/", json={k: v for k, v in body.items() if v is not None},
                             headers=bearer(token))


async def _error(resp: Any, status: int, code: str) -> dict[str, Any]:
    body = await resp.json()
    assert resp.status == status, body
    assert body["success"] is False and body["error"] == code
    return dict(body)


async def test_publishing_your_world_returns_the_experience_envelope(client: TestClient, alice: str) -> None:
    resp = await _publish(client, alice)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["success"] is True and isinstance(body["message"], str)
    card = body["experience_card"]
    assert CARD_FIELDS <= set(card)
    assert (card["world_blueprint_id"], card["title"], card["description"], card["tags"], card["author_id"],
            card["is_public"], card["play_count"], card["rating"]) == (
        "w-alice", "Mystic Forest", "Walk among ancient trees", ["forest", "fantasy"],
        client.app[SERVICES].public_id("alice"), True, 0, 0.0)  # a public id, never the login id
    for key in ("created_at", "updated_at"):
        datetime.fromisoformat(card[key].replace("Z", "+00:00"))
    resp = await client.get(f"/api/v1/publish/experiences/{card['id']}", headers=bearer(alice))
    assert resp.status == 200 and (await resp.json())["experience_card"] == card


async def test_user_id_and_optional_fields_may_be_omitted(client: TestClient, alice: str) -> None:
    resp = await _publish(client, alice, user_id=None, tags=None, is_public=None)
    card = (await resp.json())["experience_card"]
    assert resp.status == 200 and (card["author_id"], card["tags"], card["is_public"]) == (
        client.app[SERVICES].public_id("alice"), [], True)


async def test_publishing_another_users_world_is_403(client: TestClient, alice: str, bob: str) -> None:
    await _error(await _publish(client, bob, user_id="bob"), 403, "forbidden")
    await _error(await _publish(client, bob, user_id="alice"), 403, "forbidden")  # posing as its owner


async def test_publishing_as_someone_else_is_403(client: TestClient, alice: str) -> None:
    await _error(await _publish(client, alice, user_id="bob"), 403, "forbidden")


async def test_publishing_an_unknown_world_is_404(client: TestClient, alice: str) -> None:
    await _error(await _publish(client, alice, world_blueprint_id="w-nowhere"), 404, "not_found")


async def test_publishing_needs_a_token(client: TestClient, alice: str) -> None:
    await _error(await client.post("/api/v1/publish/", json={"world_blueprint_id": "w-alice"}), 401, "unauthorized")


@pytest.mark.parametrize(("changes", "fields"), [
    ({"world_blueprint_id": None, "title": None, "description": None},
     {"world_blueprint_id", "title", "description"}),
    ({"title": "", "description": "x" * 2001}, {"title", "description"}),
    ({"title": "t" * 201}, {"title"}),
    ({"tags": "forest"}, {"tags"}),
    ({"tags": [1, 2]}, {"tags"}),
    ({"is_public": "yes"}, {"is_public"}),
])
async def test_bad_publish_bodies_are_422_naming_the_fields(client: TestClient, alice: str,
                                                            changes: dict[str, Any], fields: set[str]) -> None:
    body = await _error(await _publish(client, alice, **changes), 422, "validation_error")
    assert set(body["details"]) == fields


async def test_list_is_a_bare_array_of_envelopes_newest_first(client: TestClient, alice: str) -> None:
    ids = []
    for i in range(3):
        ids.append((await (await _publish(client, alice, title=f"T{i}")).json())["experience_card"]["id"])
    resp = await client.get("/api/v1/publish/experiences", headers=bearer(alice))
    items = await resp.json()
    assert resp.status == 200 and isinstance(items, list)
    assert [i["experience_card"]["id"] for i in items] == ids[::-1]
    for item in items:
        assert item["success"] is True and CARD_FIELDS <= set(item["experience_card"])
    resp = await client.get("/api/v1/publish/experiences?limit=2&offset=1", headers=bearer(alice))
    assert [i["experience_card"]["id"] for i in await resp.json()] == ids[1::-1]


async def test_list_defaults_to_20(client: TestClient, alice: str) -> None:
    for i in range(21):
        assert (await _publish(client, alice, title=f"T{i}")).status == 200
    resp = await client.get("/api/v1/publish/experiences", headers=bearer(alice))
    assert len(await resp.json()) == 20


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=x"])
async def test_list_rejects_bad_paging(client: TestClient, alice: str, query: str) -> None:
    await _error(await client.get(f"/api/v1/publish/experiences?{query}", headers=bearer(alice)),
                 422, "validation_error")


async def test_a_private_experience_is_visible_only_to_its_author(client: TestClient, alice: str, bob: str) -> None:
    private = (await (await _publish(client, alice, is_public=False)).json())["experience_card"]
    public = (await (await _publish(client, alice, title="Open")).json())["experience_card"]
    mine = await (await client.get("/api/v1/publish/experiences", headers=bearer(alice))).json()
    theirs = await (await client.get("/api/v1/publish/experiences", headers=bearer(bob))).json()
    assert {i["experience_card"]["id"] for i in mine} == {private["id"], public["id"]}
    assert [i["experience_card"]["id"] for i in theirs] == [public["id"]]
    path = f"/api/v1/publish/experiences/{private['id']}"
    assert (await client.get(path, headers=bearer(alice))).status == 200
    await _error(await client.get(path, headers=bearer(bob)), 403, "forbidden")
    resp = await client.get(f"/api/v1/publish/experiences/{public['id']}", headers=bearer(bob))
    assert resp.status == 200


async def test_unknown_experience_is_404(client: TestClient, alice: str) -> None:
    await _error(await client.get("/api/v1/publish/experiences/nope", headers=bearer(alice)), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/publish/experiences", "/api/v1/publish/experiences/x"])
async def test_experiences_need_a_token(client: TestClient, path: str) -> None:
    await _error(await client.get(path), 401, "unauthorized")
