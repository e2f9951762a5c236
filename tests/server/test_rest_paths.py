"""Every REST route answers with and without the trailing slash, as the predecessor's clients
call them; a path that is no route answers with a hint where the routes are."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from server import openapi
from server.rest import slash_twin
from tests.conftest import bearer

DOC = openapi.build()
ROUTES = sorted((method.upper(), path) for path, item in DOC["paths"].items() for method in item)
NO_ROUTE = "no route for"


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_every_route_is_served_in_both_forms(client: TestClient, token: str, method: str, path: str) -> None:
    """Whatever the answer (200, 401, 404 for an unknown id, 422 for an empty body), it comes
    from the route's handler, under the documented path and its slash twin alike."""
    concrete = re.sub(r"\{[^}]+\}", "x1", path)
    forms = [concrete] + ([twin] if (twin := slash_twin(concrete)) else [])
    for url in forms:
        resp = await client.request(method, url, headers=bearer(token), json={} if method != "GET" else None)
        body = await resp.read()
        assert resp.status != 405, (method, url)
        assert NO_ROUTE.encode() not in body, (method, url, body[:200])


async def test_the_seeds_calls_without_and_with_the_slash(client: TestClient, token: str) -> None:
    auth = bearer(token)
    resp = await client.post("/api/v1/prompt2world", headers=auth, json={"prompt": "a small pond", "max_instances": 20})
    assert resp.status == 200, await resp.text()
    world_id = (await resp.json())["world_blueprint"]["id"]
    for url in ("/api/v1/prefab-catalog", "/api/v1/prefab-catalog/", "/api/v1/worlds", "/api/v1/worlds/",
                f"/api/v1/worlds/{world_id}/", "/api/v1/publish/experiences/", "/health/"):
        resp = await client.get(url, headers=auth)
        assert resp.status == 200, (url, await resp.text())
    listed = await (await client.get("/api/v1/worlds/", headers=auth)).json()
    assert world_id in {w["id"] for w in listed["worlds"]}


async def test_a_wrong_method_on_a_twin_is_still_405(client: TestClient, token: str) -> None:
    resp = await client.post("/api/v1/worlds/", headers=bearer(token), json={})
    assert resp.status == 405 and "GET" in resp.headers["Allow"]


@pytest.mark.parametrize("path", ["/api/v1/prefab_catalog", "/api/v2/worlds", "/nope"])
async def test_a_404_names_the_docs_and_the_route_prefixes(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    body = await resp.json()
    assert resp.status == 404 and body["success"] is False and body["error"] == "not_found"
    assert path in body["message"] and "/docs" in body["message"]
    assert body["details"]["docs"] == "/docs" and body["details"]["openapi"] == "/api/v1/openapi.json"
    prefixes = body["details"]["routes"].split(", ")
    assert {"/api/v1/prefab-catalog", "/api/v1/worlds", "/api/v1/prompt2world", "/ws", "/health"} <= set(prefixes)
