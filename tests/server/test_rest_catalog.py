"""/api/v1/prefab-catalog: list, get, search; validation, ETags, cache invalidation."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from persistence.catalog import SHIPPED_CATALOG, read_catalog_file
from server.context import SERVICES
from tests.conftest import bearer

PREFAB_FIELDS = {"id", "name", "type", "description", "thumbnail_url", "download_url", "size_bytes",
                 "version", "tags", "properties"}
ENVELOPE = {"success", "prefabs", "total_count", "page", "page_size"}
_, SHIPPED, _ = read_catalog_file(SHIPPED_CATALOG)
SHIPPED_IDS = sorted(p["id"] for p in SHIPPED)


async def _ok(client: TestClient, path: str, token: str, **headers: str) -> dict[str, Any]:
    resp = await client.get(path, headers={**bearer(token), **headers})
    body = await resp.json()
    assert resp.status == 200, body
    assert ENVELOPE <= set(body) and body["success"] is True
    return dict(body)


async def _422(client: TestClient, path: str, token: str, field: str) -> None:
    resp = await client.get(path, headers=bearer(token))
    body = await resp.json()
    assert resp.status == 422, body
    assert body["success"] is False and body["error"] == "validation_error" and field in body["details"]


async def test_list_defaults_to_the_first_50_prefabs(client: TestClient, token: str) -> None:
    body = await _ok(client, "/api/v1/prefab-catalog/", token)
    assert (body["total_count"], body["page"], body["page_size"]) == (len(SHIPPED), 1, 50)
    assert [p["id"] for p in body["prefabs"]] == SHIPPED_IDS[:50]
    for prefab in body["prefabs"]:
        assert set(prefab) == PREFAB_FIELDS
        assert isinstance(prefab["tags"], list) and isinstance(prefab["properties"], dict)
        assert isinstance(prefab["size_bytes"], int)


@pytest.mark.parametrize("prefab_type", ["building", "vehicle", "character", "prop", "environment",
                                         "lighting", "effect", "ui"])
async def test_list_filters_by_prefab_type(client: TestClient, token: str, prefab_type: str) -> None:
    body = await _ok(client, f"/api/v1/prefab-catalog/?prefab_type={prefab_type}&limit=100", token)
    expected = [p["id"] for p in sorted(SHIPPED, key=lambda p: p["id"]) if p["type"] == prefab_type]
    assert body["total_count"] == len(expected) > 0
    assert [p["id"] for p in body["prefabs"]] == expected


async def test_list_pages_with_limit_and_offset_or_page(client: TestClient, token: str) -> None:
    body = await _ok(client, "/api/v1/prefab-catalog/?limit=10&offset=20", token)
    assert [p["id"] for p in body["prefabs"]] == SHIPPED_IDS[20:30]
    assert (body["page"], body["page_size"], body["total_count"]) == (3, 10, len(SHIPPED))
    by_page = await _ok(client, "/api/v1/prefab-catalog/?limit=10&page=3", token)
    assert by_page["prefabs"] == body["prefabs"] and by_page["page"] == 3
    tail = await _ok(client, f"/api/v1/prefab-catalog/?limit=100&offset={len(SHIPPED) - 5}", token)
    assert [p["id"] for p in tail["prefabs"]] == SHIPPED_IDS[-5:]
    past = await _ok(client, f"/api/v1/prefab-catalog/?offset={len(SHIPPED)}", token)
    assert past["prefabs"] == [] and past["total_count"] == len(SHIPPED)


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"),
                                              ("offset=-1", "offset"), ("page=0", "page"),
                                              ("prefab_type=spaceship", "prefab_type")])
async def test_list_rejects_bad_query_values(client: TestClient, token: str, query: str, field: str) -> None:
    await _422(client, f"/api/v1/prefab-catalog/?{query}", token, field)


async def test_get_by_id_is_the_envelope_with_one_prefab(client: TestClient, token: str) -> None:
    pid = SHIPPED_IDS[7]
    body = await _ok(client, f"/api/v1/prefab-catalog/{pid}", token)
    assert body["total_count"] == 1 and len(body["prefabs"]) == 1
    prefab = body["prefabs"][0]
    source = next(p for p in SHIPPED if p["id"] == pid)
    assert prefab["id"] == pid and prefab["name"] == source["name"] and prefab["tags"] == source["tags"]
    assert prefab["properties"]["world_types"] == source["world_types"]


async def test_get_unknown_prefab_is_404(client: TestClient, token: str) -> None:
    resp = await client.get("/api/v1/prefab-catalog/no_such_prefab", headers=bearer(token))
    body = await resp.json()
    assert resp.status == 404 and body["success"] is False and body["error"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/prefab-catalog/", "/api/v1/prefab-catalog/alien_artifact",
                                  "/api/v1/prefab-catalog/search/?q=tree", "/api/v1/prefab-catalog/search?q=tree"])
async def test_catalog_needs_a_token(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"


async def test_search_works_with_and_without_the_trailing_slash(client: TestClient, token: str) -> None:
    slash = await _ok(client, "/api/v1/prefab-catalog/search/?q=alien%20technology", token)
    bare = await _ok(client, "/api/v1/prefab-catalog/search?q=alien%20technology", token)
    assert slash["prefabs"] == bare["prefabs"] and slash["total_count"] == bare["total_count"] > 0
    assert slash["page_size"] == 20 and len(slash["prefabs"]) <= 20
    top = slash["prefabs"][0]
    text = " ".join([top["name"], top["description"], *top["tags"]]).lower()
    assert "alien" in text or "technology" in text


async def test_search_filters_by_type_and_limit(client: TestClient, token: str) -> None:
    body = await _ok(client, "/api/v1/prefab-catalog/search/?q=tree&prefab_type=environment&limit=3", token)
    assert 0 < len(body["prefabs"]) <= 3 and body["page_size"] == 3
    assert {p["type"] for p in body["prefabs"]} == {"environment"}


@pytest.mark.parametrize(("query", "field"), [("q=", "q"), ("", "q"), ("q=" + "x" * 101, "q"),
                                              ("q=tree&limit=51", "limit"), ("q=tree&limit=0", "limit"),
                                              ("q=tree&prefab_type=tank", "prefab_type")])
async def test_search_rejects_bad_queries(client: TestClient, token: str, query: str, field: str) -> None:
    await _422(client, f"/api/v1/prefab-catalog/search/?{query}", token, field)
    await _422(client, f"/api/v1/prefab-catalog/search?{query}", token, field)


@pytest.mark.parametrize("path", ["/api/v1/prefab-catalog/?limit=5", "/api/v1/prefab-catalog/alien_artifact",
                                  "/api/v1/prefab-catalog/search/?q=tree"])
async def test_etag_and_if_none_match_give_304(client: TestClient, token: str, path: str) -> None:
    resp = await client.get(path, headers=bearer(token))
    etag = resp.headers["ETag"]
    assert resp.status == 200 and etag.startswith('"')
    resp = await client.get(path, headers={**bearer(token), "If-None-Match": etag})
    assert resp.status == 304 and await resp.read() == b"" and resp.headers["ETag"] == etag
    resp = await client.get(path, headers={**bearer(token), "If-None-Match": '"stale", ' + etag})
    assert resp.status == 304
    resp = await client.get(path, headers={**bearer(token), "If-None-Match": '"something-else"'})
    assert resp.status == 200 and (await resp.json())["success"] is True


async def test_different_queries_have_different_etags(client: TestClient, token: str) -> None:
    tags = {(await client.get(p, headers=bearer(token))).headers["ETag"]
            for p in ("/api/v1/prefab-catalog/?limit=5", "/api/v1/prefab-catalog/?limit=6",
                      "/api/v1/prefab-catalog/?prefab_type=ui")}
    assert len(tags) == 3


async def test_an_import_invalidates_cached_pages_and_etags(client: TestClient, token: str) -> None:
    path = "/api/v1/prefab-catalog/?limit=1"
    resp = await client.get(path, headers=bearer(token))
    etag, before = resp.headers["ETag"], await resp.json()
    first = dict(next(p for p in SHIPPED if p["id"] == before["prefabs"][0]["id"]))
    first["name"] = "Renamed By Import"
    services = client.app[SERVICES]
    await services.store.catalog.upsert([first], "test-import-1")
    await services.catalog.reload()
    resp = await client.get(path, headers={**bearer(token), "If-None-Match": etag})
    assert resp.status == 200 and resp.headers["ETag"] != etag
    assert (await resp.json())["prefabs"][0]["name"] == "Renamed By Import"
