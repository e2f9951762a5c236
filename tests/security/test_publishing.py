"""A card is public only while its world is; cards can be unpublished (issue 15, finding 12).

A private world could be published as a public card, the card stayed public after the world
turned private, and there was no unpublish."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import bearer, login


async def _world(client: TestClient, token: str) -> str:
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token),
                             json={"prompt": "a quiet lake with reeds", "max_instances": 10, "seed": 2})
    assert resp.status == 200
    return str((await resp.json())["world_blueprint"]["id"])


async def _publish(client: TestClient, token: str, world_id: str, **extra: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/publish/", headers=bearer(token), json={
        "world_blueprint_id": world_id, "title": "Lake", "description": "reeds", **extra})
    assert resp.status == 200, await resp.text()
    return dict((await resp.json())["experience_card"])


async def _listed(client: TestClient, token: str) -> list[str]:
    resp = await client.get("/api/v1/publish/experiences", headers=bearer(token))
    return [item["experience_card"]["id"] for item in await resp.json()]


async def test_a_public_card_makes_its_world_public_and_hides_when_the_world_turns_private(
        client: TestClient) -> None:
    owner, other = await login(client, "owner"), await login(client, "other")
    world_id = await _world(client, owner)  # private, as every new world
    card = await _publish(client, owner, world_id)
    # Published public: the world it advertises can be opened by others.
    resp = await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(other))
    assert resp.status == 200 and (await resp.json())["world_blueprint"]["visibility"] == "public"
    assert await _listed(client, other) == [card["id"]]
    # The owner makes the world private again: the card is hidden from everyone else.
    resp = await client.put(f"/api/v1/worlds/{world_id}/visibility", headers=bearer(owner),
                            json={"visibility": "private"})
    assert resp.status == 200
    assert await _listed(client, other) == []
    resp = await client.get(f"/api/v1/publish/experiences/{card['id']}", headers=bearer(other))
    assert resp.status == 403
    mine = await client.get(f"/api/v1/publish/experiences/{card['id']}", headers=bearer(owner))
    assert mine.status == 200 and (await mine.json())["experience_card"]["is_public"] is False


async def test_a_private_card_leaves_a_private_world_private(client: TestClient) -> None:
    owner, other = await login(client, "owner"), await login(client, "other")
    world_id = await _world(client, owner)
    await _publish(client, owner, world_id, is_public=False)
    assert (await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(other))).status == 404
    assert await _listed(client, other) == []


async def test_only_the_author_can_unpublish_and_the_world_stays(client: TestClient) -> None:
    owner, other = await login(client, "owner"), await login(client, "other")
    world_id = await _world(client, owner)
    card = await _publish(client, owner, world_id)
    path = f"/api/v1/publish/experiences/{card['id']}"
    assert (await client.delete(path, headers=bearer(other))).status == 403
    resp = await client.delete(path, headers=bearer(owner))
    assert resp.status == 200 and (await resp.json())["success"] is True
    assert (await client.get(path, headers=bearer(owner))).status == 404
    assert (await client.delete(path, headers=bearer(owner))).status == 404
    assert await _listed(client, other) == []
    assert (await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(owner))).status == 200
