"""GET /api/v1/worlds/{id}/map.png: public maps need no token (an experience card's thumbnail),
private ones do; renders are cached per world version and answered with ETag / 304."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from client import connect
from server.rest.worlds import MAP_CACHE, MapCache
from tests.conftest import bearer, login

PNG = b"\x89PNG\r\n\x1a\n"


async def _world(client: TestClient, token: str) -> str:
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token),
                             json={"prompt": "a small farm with a barn and a pond", "seed": 2, "max_instances": 60})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["world_blueprint"]["id"])


def _map(world_id: str) -> str:
    return f"/api/v1/worlds/{world_id}/map.png"


async def test_a_public_worlds_map_needs_no_token(client: TestClient, token: str) -> None:
    world_id = await _world(client, token)
    resp = await client.put(f"/api/v1/worlds/{world_id}/visibility", headers=bearer(token),
                            json={"visibility": "public"})
    assert resp.status == 200
    resp = await client.get(_map(world_id))
    assert resp.status == 200 and resp.content_type == "image/png"
    assert (await resp.read()).startswith(PNG)
    assert resp.headers["Cache-Control"].startswith("public")


async def test_a_private_worlds_map_needs_a_members_token(client: TestClient, token: str) -> None:
    world_id = await _world(client, token)
    assert (await client.get(_map(world_id))).status == 401
    assert (await client.get(_map("w-no-such-world"))).status == 401  # no hint that it exists
    stranger = await login(client, "mallory")
    assert (await client.get(_map(world_id), headers=bearer(stranger))).status == 404
    resp = await client.get(_map(world_id), headers=bearer(token))
    assert resp.status == 200 and resp.headers["Cache-Control"].startswith("private")


@pytest.mark.parametrize(("is_public", "anonymous"), [(True, 200), (False, 401)])
async def test_an_experience_cards_thumbnail_loads_without_a_token_when_the_card_is_public(
        client: TestClient, token: str, is_public: bool, anonymous: int) -> None:
    world_id = await _world(client, token)
    resp = await client.post("/api/v1/publish/", headers=bearer(token), json={
        "world_blueprint_id": world_id, "title": "Farm", "description": "A farm", "is_public": is_public})
    assert resp.status == 200, await resp.text()
    thumbnail = (await resp.json())["experience_card"]["thumbnail_url"]
    assert thumbnail == _map(world_id)
    assert (await client.get(thumbnail)).status == anonymous  # what an <img> or a texture download does


async def test_the_map_answers_304_until_the_world_changes(client: TestClient, token: str) -> None:
    world_id = await _world(client, token)
    first = await client.get(_map(world_id), headers=bearer(token))
    etag, before = first.headers["ETag"], await first.read()
    again = await client.get(_map(world_id), headers={**bearer(token), "If-None-Match": etag})
    assert again.status == 304 and await again.read() == b"" and again.headers["ETag"] == etag
    cache: MapCache = client.app[MAP_CACHE]
    assert cache.get((world_id, etag)) == before  # rendered once, kept for the next card view

    session = await connect(f"ws://127.0.0.1:{client.port}/ws", token)
    try:
        view = await session.join(world_id)
        moved = sorted(view.instances)[0]
        await view.edit([{"op": "move", "id": moved, "pos": [0.0, 0.0, 0.0]}])
    finally:
        await session.close(flush_timeout=0)
    after = await client.get(_map(world_id), headers={**bearer(token), "If-None-Match": etag})
    assert after.status == 200 and after.headers["ETag"] != etag
    assert (await after.read()).startswith(PNG)


def _png(n: int) -> bytes:
    return bytes(n)


def test_the_cache_is_bounded_in_entries_and_bytes_and_drops_the_least_recently_used() -> None:
    cache = MapCache(max_entries=3, max_bytes=1000)
    for i in range(3):
        cache.put((f"w{i}", "v"), _png(100))
    assert cache.get(("w0", "v")) is not None  # now the most recently used
    cache.put(("w3", "v"), _png(100))
    kept: dict[str, Any] = {w: cache.get((w, "v")) for w in ("w0", "w1", "w2", "w3")}
    assert kept["w1"] is None and all(kept[w] is not None for w in ("w0", "w2", "w3"))
    cache.put(("big", "v"), _png(900))
    assert cache.get(("big", "v")) is not None and cache.get(("w0", "v")) is None
    cache.put(("huge", "v"), _png(1001))  # larger than the whole cache: not kept
    assert cache.get(("huge", "v")) is None
