"""The OpenAPI document agrees with the app's routes and with what the server really sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate as validate_spec

from server import openapi
from server.app import create_app
from server.context import SERVICES
from server.rest import slash_twin
from tests.conftest import bearer, login, make_settings

# Documented routes that the app does not register yet (being added concurrently). Keep this
# empty when nothing is pending: the test below fails when an entry here is registered.
PENDING_ROUTES: set[tuple[str, str]] = set()
DOC = openapi.build()


def _app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(make_settings(tmp_path))
    return {(r.method, r.resource.canonical) for r in app.router.routes()  # type: ignore[union-attr]
            if r.method not in ("HEAD", "OPTIONS")}


def _doc_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"] == "3.1.0"
    validate_spec(DOC)


def test_every_app_route_is_documented_and_every_documented_route_exists(tmp_path: Path) -> None:
    registered, documented = _app_routes(tmp_path), _doc_routes(DOC)
    # Every route is also served with the trailing slash toggled (server/rest/__init__.py);
    # the document lists the documented form only.
    twins = {(method, twin) for method, path in documented if (twin := slash_twin(path))} - documented
    registered -= twins
    assert registered - documented == set(), "routes the app serves but the OpenAPI document omits"
    assert documented - registered - PENDING_ROUTES == set(), "documented routes the app does not serve"
    assert PENDING_ROUTES & registered == set(), "registered now: remove them from PENDING_ROUTES"


def test_the_contract_routes_are_documented() -> None:
    contract = {("POST", "/api/v1/auth/login"), ("GET", "/api/v1/auth/validate"), ("POST", "/api/v1/auth/logout"),
                ("POST", "/api/v1/prompt2world/"), ("POST", "/api/v1/publish/"),
                ("GET", "/api/v1/publish/experiences"), ("GET", "/api/v1/publish/experiences/{experience_id}"),
                ("POST", "/api/v1/telemetry/"), ("POST", "/api/v1/telemetry/batch"),
                ("GET", "/api/v1/telemetry/events/user/{user_id}"), ("GET", "/api/v1/prefab-catalog/"),
                ("GET", "/api/v1/prefab-catalog/{prefab_id}"), ("GET", "/api/v1/prefab-catalog/search/"),
                ("GET", "/api/v1/prefab-catalog/search"), ("GET", "/"), ("GET", "/health")}
    assert contract <= _doc_routes(DOC)


def test_only_the_public_routes_skip_the_bearer_scheme() -> None:
    public = {p for p, item in DOC["paths"].items() for op in item.values() if op.get("security") == []}
    assert public == {"/", "/health", "/ready", "/metrics", "/ws", "/docs", "/api/v1/openapi.json",
                      "/api/v1/auth/login", "/api/v1/auth/register", "/preview", "/preview/{world_id}", "/gallery",
                      "/static/{path}"}
    assert DOC["security"] == [{"bearerAuth": []}]
    assert DOC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_the_document_is_served_without_a_token_and_follows_the_settings(make_client: Any) -> None:
    client = await make_client(max_prompt_chars=200, telemetry_max_events=7)
    resp = await client.get("/api/v1/openapi.json")
    served = await resp.json()
    assert resp.status == 200 and served == openapi.build(client.app[SERVICES].settings)
    schemas = served["components"]["schemas"]
    assert schemas["Prompt2WorldRequest"]["properties"]["prompt"]["maxLength"] == 200
    body = served["paths"]["/api/v1/telemetry/batch"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["maxItems"] == 7


async def test_the_docs_page_lists_every_route(client: TestClient) -> None:
    resp = await client.get("/docs")
    page = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    for method, path in _doc_routes(DOC):
        assert f"<code>{method}</code></td><td><code>{path}</code>" in page


# -- real responses against their documented schemas -------------------------------------------

def _response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    responses = DOC["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, which is not documented"
    response = responses[str(status)]
    if "$ref" in response:
        response = DOC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return dict(response["content"]["application/json"]["schema"])


def conforms(method: str, path: str, status: int, body: Any) -> None:
    schema = {**_response_schema(method, path, status), "components": DOC["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)


def test_the_schema_check_can_fail() -> None:
    page = {"success": True, "prefabs": [], "page": 1, "page_size": 50}  # no total_count
    with pytest.raises(jsonschema.ValidationError):
        conforms("GET", "/api/v1/prefab-catalog/", 200, page)
    with pytest.raises(jsonschema.ValidationError):
        conforms("POST", "/api/v1/auth/login", 400, {"success": False, "error": "x", "message": "m", "trace": []})
    with pytest.raises(AssertionError):
        conforms("GET", "/health", 404, {})


async def _check(client: TestClient, method: str, template: str, status: int, *, url: str | None = None,
                 **kwargs: Any) -> Any:
    resp = await client.request(method, url or template, **kwargs)
    body = await resp.json()
    assert resp.status == status, body
    conforms(method, template, status, body)
    return body


async def test_real_responses_match_their_schemas(client: TestClient) -> None:
    session = await _check(client, "POST", "/api/v1/auth/login", 200, json={"user_id": "alice"})
    auth = bearer(session["token"])
    await client.app[SERVICES].store.worlds.create(id="w-doc", owner_id="alice", prompt="p", world_type="nature",
                                                   title="t", description="d", header={}, seed=0)
    for path in ("/", "/health", "/ready"):
        await _check(client, "GET", path, 200)
    await _check(client, "GET", "/api/v1/auth/validate", 200, headers=auth)
    await _check(client, "POST", "/api/v1/auth/refresh", 200, headers=auth)
    await _check(client, "POST", "/api/v1/auth/register", 201, json={"username": "docuser", "password": "long enough"})
    await _check(client, "GET", "/api/v1/prefab-catalog/", 200, headers=auth, params={"prefab_type": "ui"})
    await _check(client, "GET", "/api/v1/prefab-catalog/{prefab_id}", 200, url="/api/v1/prefab-catalog/alien_artifact",
                 headers=auth)
    await _check(client, "GET", "/api/v1/prefab-catalog/search/", 200, headers=auth, params={"q": "tree"})
    published = await _check(client, "POST", "/api/v1/publish/", 200, headers=auth,
                             json={"world_blueprint_id": "w-doc", "title": "T", "description": "D"})
    await _check(client, "GET", "/api/v1/publish/experiences", 200, headers=auth)
    await _check(client, "GET", "/api/v1/publish/experiences/{experience_id}", 200, headers=auth,
                 url=f"/api/v1/publish/experiences/{published['experience_card']['id']}")
    await _check(client, "POST", "/api/v1/telemetry/", 200, headers=auth, json={"event_type": "x", "data": {"a": 1}})
    await _check(client, "POST", "/api/v1/telemetry/batch", 200, headers=auth, json=[{"event_type": "y"}])
    events = await _check(client, "GET", "/api/v1/telemetry/events/user/{user_id}", 200, headers=auth,
                          url="/api/v1/telemetry/events/user/alice")
    assert len(events) == 2
    await _check(client, "GET", "/api/v1/worlds", 200, headers=auth)
    await _check(client, "POST", "/api/v1/auth/logout", 200, headers=auth)


async def test_real_error_responses_match_the_error_schema(client: TestClient) -> None:
    token = await login(client)
    await _check(client, "GET", "/api/v1/auth/validate", 401)
    await _check(client, "POST", "/api/v1/auth/login", 400, json={"user_id": ""})
    await _check(client, "GET", "/api/v1/prefab-catalog/search/", 422, headers=bearer(token), params={"q": ""})
    await _check(client, "GET", "/api/v1/prefab-catalog/{prefab_id}", 404, url="/api/v1/prefab-catalog/none",
                 headers=bearer(token))
    await _check(client, "POST", "/api/v1/publish/", 404, headers=bearer(token),
                 json={"world_blueprint_id": "missing", "title": "T", "description": "D"})
    await _check(client, "GET", "/api/v1/telemetry/events/user/{user_id}", 403, url="/api/v1/telemetry/events/user/bob",
                 headers=bearer(token))
    await _check(client, "POST", "/api/v1/auth/register", 409, json={"username": "alice", "password": "long enough"})
