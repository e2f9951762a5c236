"""REST for worlds: prompt2world (seed contract) and /api/v1/worlds (list, get, delete, share,
visibility, map)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.context import SERVICES
from tests.conftest import bearer, login

PROMPT = "A mystical forest with ancient trees and glowing mushrooms"


async def generate(client: TestClient, token: str, **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token),
                             json={"prompt": PROMPT, "max_instances": 60, **body})
    data = await resp.json()
    assert resp.status == 200, data
    return data  # type: ignore[no-any-return]


async def test_prompt2world_answers_the_seed_shape_and_persists_the_world(client: TestClient) -> None:
    token = await login(client, "user123")
    data = await generate(client, token, user_id="user123", seed=5)
    assert data["success"] is True and data["message"] and data["processing_time_ms"] >= 0
    bp = data["world_blueprint"]
    for key in ("id", "prompt", "world_type", "title", "description", "environment_settings",
                "prefab_instances", "spawn_points", "created_at", "updated_at", "processing_time_ms"):
        assert key in bp, key
    inst = bp["prefab_instances"][0]
    assert set(inst["position"]) == {"x", "y", "z"} and set(inst["rotation"]) == {"x", "y", "z", "w"}
    assert set(inst["scale"]) == {"x", "y", "z"} and isinstance(inst["properties"], dict)
    world = await client.app[SERVICES].store.worlds.require(bp["id"])
    assert world.owner_id == "user123" and world.status == "complete"
    assert world.instance_count == len(bp["prefab_instances"])


@pytest.mark.parametrize("max_instances", [60, 3000])  # a world of one chunk (1,024 on REST), and of several
async def test_prompt2world_answers_exactly_what_a_later_read_of_the_world_returns(
        client: TestClient, max_instances: int) -> None:
    # The response is built from what was written, not read back: it must not drift from the store.
    token = await login(client, "reader")
    bp = (await generate(client, token, seed=11, max_instances=max_instances))["world_blueprint"]
    got = await (await client.get(f"/api/v1/worlds/{bp['id']}", headers=bearer(token))).json()
    stored = got["world_blueprint"]
    assert stored.pop("role") == "owner"
    assert stored == bp
    assert (len(bp["prefab_instances"]) > 1024) == (max_instances > 1024)


async def test_prompt2world_infers_the_world_type_from_the_prompt(client: TestClient) -> None:
    token = await login(client)
    data = await generate(client, token, prompt="futuristic space station with alien technology")
    assert data["world_blueprint"]["world_type"] == "sci_fi"
    data = await generate(client, token, world_type="fantasy")
    assert data["world_blueprint"]["world_type"] == "fantasy"


@pytest.mark.parametrize(("body", "field"), [
    ({"prompt": ""}, "prompt"), ({"prompt": "x" * 1001}, "prompt"), ({}, "prompt"),
    ({"prompt": "ok", "world_type": "steampunk"}, "world_type"),
    ({"prompt": "ok", "max_instances": 5}, "max_instances"),
])
async def test_prompt2world_rejects_bad_fields_with_422(client: TestClient, body: dict[str, Any], field: str) -> None:
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(await login(client)), json=body)
    data = await resp.json()
    assert resp.status == 422 and field in data["details"], data


async def test_prompt2world_needs_a_token_and_your_own_user_id(client: TestClient) -> None:
    assert (await client.post("/api/v1/prompt2world/", json={"prompt": PROMPT})).status == 401
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(await login(client, "a")),
                             json={"prompt": PROMPT, "user_id": "b"})
    assert resp.status == 403


async def test_worlds_list_get_share_visibility_delete(client: TestClient) -> None:
    owner, friend, stranger = [await login(client, u) for u in ("owner", "friend", "stranger")]
    world_id = (await generate(client, owner))["world_blueprint"]["id"]
    listed = await (await client.get("/api/v1/worlds", headers=bearer(owner))).json()
    assert listed["total_count"] == 1 and listed["worlds"][0]["role"] == "owner"
    # private: invisible to others
    assert (await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(friend))).status == 404
    # share as viewer: listed and readable, but not theirs to manage
    resp = await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(owner),
                             json={"user_id": "friend", "role": "viewer"})
    # members by public id and display name, never the account id (a guest's login)
    public_friend = client.app[SERVICES].public_id("friend")
    assert resp.status == 200 and (await resp.json())["members"] == [
        {"user_id": public_friend, "display_name": f"Guest {public_friend[-6:]}", "role": "viewer"}]
    mine = await (await client.get("/api/v1/worlds", headers=bearer(friend))).json()
    assert [(w["id"], w["role"]) for w in mine["worlds"]] == [(world_id, "viewer")]
    got = await (await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(friend))).json()
    assert got["world_blueprint"]["id"] == world_id and got["world_blueprint"]["role"] == "viewer"
    stored = await client.app[SERVICES].store.worlds.instances(world_id)
    assert [i["id"] for i in got["world_blueprint"]["prefab_instances"]] == [r.id for r in stored]
    for method, path, body in (("post", "share", {"user_id": "x", "role": "viewer"}),
                               ("put", "visibility", {"visibility": "public"})):
        resp = await getattr(client, method)(f"/api/v1/worlds/{world_id}/{path}", headers=bearer(friend), json=body)
        assert resp.status == 403
    assert (await client.delete(f"/api/v1/worlds/{world_id}", headers=bearer(friend))).status == 403
    # the owner's role cannot be changed; bad roles and visibilities are 422
    resp = await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(owner),
                             json={"user_id": "owner", "role": "viewer"})
    assert resp.status == 403
    resp = await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(owner),
                             json={"user_id": "friend", "role": "admin"})
    assert resp.status == 422
    resp = await client.put(f"/api/v1/worlds/{world_id}/visibility", headers=bearer(owner),
                            json={"visibility": "everyone"})
    assert resp.status == 422
    # public: a stranger can read it
    resp = await client.put(f"/api/v1/worlds/{world_id}/visibility", headers=bearer(owner),
                            json={"visibility": "public"})
    assert resp.status == 200
    got = await (await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(stranger))).json()
    assert got["world_blueprint"]["visibility"] == "public"
    # unshare, then delete: gone for everyone, rows too
    await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(owner),
                      json={"user_id": "friend", "role": "none"})
    assert (await (await client.get("/api/v1/worlds", headers=bearer(friend))).json())["total_count"] == 0
    assert (await client.delete(f"/api/v1/worlds/{world_id}", headers=bearer(owner))).status == 200
    assert (await client.get(f"/api/v1/worlds/{world_id}", headers=bearer(owner))).status == 404
    assert await client.app[SERVICES].store.worlds.instances(world_id) == []


async def test_world_map_is_a_png(client: TestClient) -> None:
    token = await login(client)
    world_id = (await generate(client, token))["world_blueprint"]["id"]
    resp = await client.get(f"/api/v1/worlds/{world_id}/map.png", headers=bearer(token))
    assert resp.status == 200 and resp.content_type == "image/png"
    assert (await resp.read()).startswith(b"\x89PNG\r\n\x1a\n")
