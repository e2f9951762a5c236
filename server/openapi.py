"""The OpenAPI 3.1 document of the REST surface, served at GET /api/v1/openapi.json.

Written out by hand next to the handlers it describes (docs/rest-contract.md is the contract;
this is its machine-readable form, plus what we added). tests/server/test_openapi.py keeps
it honest: it fails when a route the app registers is missing here or a documented route is
not registered, and it checks real responses against the schemas below. Limits that come
from configuration (prompt length, instances, body size, batch size) are taken from the
settings the document is built for.
"""

from __future__ import annotations

from typing import Any

from persistence.catalog import PREFAB_TYPES, WORLD_TYPES

from .config import SETTINGS, Settings
from .version import SERVER_VERSION

Schema = dict[str, Any]
_DEFAULTS = {s.name: s.default for s in SETTINGS}

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}
ANY_OBJECT: Schema = {"type": "object", "additionalProperties": True}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, **extra: Any) -> Schema:
    """An object schema; extra properties are allowed (the contract lets us add fields)."""
    out: Schema = {"type": "object", "properties": {**required, **(optional or {})}, **extra}
    if required:
        out["required"] = list(required)
    return out


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def _schemas(s: Settings) -> dict[str, Schema]:
    vec3 = obj({"x": NUM, "y": NUM, "z": NUM})
    return {
        "Error": obj({"success": {"const": False}, "error": {**STR, "description": "stable machine-readable code"},
                      "message": STR},
                     {"details": {"type": "object", "additionalProperties": STR,
                                  "description": "field name → what is wrong with it (422)"}},
                     additionalProperties=False),
        "Message": obj({"success": {"const": True}, "message": STR}),
        "Root": obj({"name": STR, "version": STR}, {"docs": STR, "openapi": STR, "websocket": STR}),
        "Health": obj({"status": {"const": "healthy"}, "version": STR}),
        "Ready": obj({"status": {"enum": ["ready", "draining", "unavailable"]}, "store": STR},
                     {"catalog_version": STR, "prefabs": INT,
                      "broker": {"enum": ["ok", "reconnecting"],
                                 "description":
                                     "the cross-node broker link (redis: reconnecting while Redis is away)"}}),
        # -- auth ---------------------------------------------------------------------------
        "GuestLogin": obj({"user_id": {**STR, "minLength": 1, "maxLength": 128,
                                       "description": "any non-empty device or guest id (no control characters)"}},
                          {"device_secret": {**STR, "minLength": 1, "maxLength": 128,
                                             "description": "the secret this id's first login answered; required "
                                                            "when the server sets guest_secret_required"}}),
        "PasswordLogin": obj({"username": {**STR, "minLength": 1, "maxLength": 64},
                              "password": {**STR, "minLength": 1, "maxLength": 256}}),
        "Register": obj({"username": {**STR, "pattern": "^[A-Za-z0-9_.\\-]{3,64}$"},
                         "password": {**STR, "minLength": 8, "maxLength": 256}},
                        {"display_name": {**STR, "minLength": 1, "maxLength": 128}}),
        "Session": obj({"user_id": STR, "session_id": STR, "token": {**STR, "description": "a JWT bearer token"},
                        "expires_at": TIME, "created_at": TIME},
                       {"success": BOOL, "display_name": STR, "token_type": {"const": "bearer"},
                        "public_id": {**STR, "description": "how others see this account (cards, owners, members)"},
                        "device_secret": {**STR, "description": "guest login only, answered once (the id's first "
                                                                "login): store it on the device and send it with "
                                                                "every later login of this id"}}),
        "TokenValidation": obj({"valid": {"const": True}, "user_id": STR, "session_id": STR, "expires_at": TIME}),
        # -- catalog ------------------------------------------------------------------------
        "Prefab": obj({"id": STR, "name": STR, "type": {"enum": list(PREFAB_TYPES)}, "description": STR,
                       "thumbnail_url": STR, "download_url": STR, "size_bytes": {**INT, "minimum": 0},
                       "version": STR, "tags": array(STR), "properties": ANY_OBJECT}),
        "PrefabPage": obj({"success": {"const": True}, "prefabs": array(ref("Prefab")),
                           "total_count": {**INT, "minimum": 0}, "page": {**INT, "minimum": 1},
                           "page_size": {**INT, "minimum": 1}}, {"message": STR}),
        # -- publishing ---------------------------------------------------------------------
        "PublishRequest": obj({"world_blueprint_id": {**STR, "minLength": 1, "maxLength": 64},
                               "title": {**STR, "minLength": 1, "maxLength": 200},
                               "description": {**STR, "minLength": 1, "maxLength": 2000}},
                              {"tags": array({**STR, "minLength": 1, "maxLength": 64}, maxItems=32),
                               "is_public": {**BOOL, "default": True},
                               "user_id": {**nullable(STR), "description": "must be the caller when given"},
                               "thumbnail_url": nullable({**STR, "maxLength": 1000})}),
        "ExperienceCard": obj({"id": STR, "world_blueprint_id": STR, "title": STR, "description": STR,
                               "thumbnail_url": nullable(STR), "tags": array(STR),
                               "author_id": {**STR, "description": "the author's public id (not a login id)"},
                               "is_public": {**BOOL, "description": "others can see the card: published public "
                                                                    "and its world is public"},
                               "play_count": INT, "rating": NUM, "created_at": TIME, "updated_at": TIME},
                              {"author_name": {**STR, "description": "the author's display name"}}),
        "ExperienceEnvelope": obj({"success": {"const": True}, "experience_card": ref("ExperienceCard"),
                                   "message": STR}),
        "EditExperience": obj({}, {"title": {**STR, "minLength": 1, "maxLength": 200},
                                   "description": {**STR, "minLength": 1, "maxLength": 2000},
                                   "tags": array({**STR, "minLength": 1, "maxLength": 64}, maxItems=32),
                                   "is_public": {**BOOL, "description": "false hides the card; true shows it "
                                                                        "again and makes its world public"}},
                              minProperties=1),
        # -- discovery (docs/discover.md) ---------------------------------------------------
        "DiscoveredCard": {"allOf": [ref("ExperienceCard"), obj(
            {"rating_count": {**INT, "minimum": 0}, "world_type": {"enum": list(WORLD_TYPES)}})]},
        "DiscoveryPage": obj({"success": {"const": True}, "experiences": array(ref("DiscoveredCard")),
                              "next_offset": {**nullable({**INT, "minimum": 0}),
                                              "description": "offset of the next page; null on the last"},
                              "message": STR}),
        "RatingRequest": obj({"stars": {**INT, "minimum": 1, "maximum": 5}}),
        "RatingResponse": obj({"success": {"const": True}, "experience_id": STR,
                               "your_rating": {**INT, "minimum": 1, "maximum": 5},
                               "rating": {**NUM, "description": "the mean of every user's stars"},
                               "rating_count": {**INT, "minimum": 1}, "message": STR}),
        "AnalyticsDay": obj({"day": {**STR, "format": "date"}, "plays": INT, "unique_players": INT,
                             "sessions": INT, "avg_session_s": nullable(NUM), "p90_session_s": nullable(NUM),
                             "events": {"type": "object", "additionalProperties": INT,
                                        "description": "event type → count"}}),
        "Analytics": obj({"success": {"const": True}, "experience_id": STR, "world_blueprint_id": STR,
                          "from": {**STR, "format": "date"}, "to": {**STR, "format": "date"},
                          "totals": obj({"plays": INT, "unique_players": INT, "sessions": INT,
                                         "events": {"type": "object", "additionalProperties": INT}}),
                          "days": array(ref("AnalyticsDay")), "message": STR}),
        # -- telemetry ----------------------------------------------------------------------
        "TelemetryEvent": obj({"event_type": {**STR, "minLength": 1, "maxLength": 64}},
                              {"user_id": {**STR, "description": "must be the caller when given"},
                               "session_id": nullable(STR), "world_id": nullable(STR),
                               "experience_id": nullable(STR),
                               "data": nullable({**ANY_OBJECT, "description":
                                                 f"at most {s.telemetry_max_event_bytes} bytes encoded"}),
                               "timestamp": nullable({**TIME, "description": "ISO 8601; now when omitted"}),
                               "event_id": nullable({**STR, "minLength": 1, "maxLength": 64,
                                                     "description": "client id; a retry is stored once"})}),
        "StoredTelemetryEvent": obj({"id": INT, "event_id": nullable(STR), "event_type": STR, "user_id": STR,
                                     "session_id": nullable(STR), "world_id": nullable(STR),
                                     "experience_id": nullable(STR), "data": ANY_OBJECT, "timestamp": TIME,
                                     "received_at": TIME}),
        # -- worlds -------------------------------------------------------------------------
        "Vector3": vec3,
        "Quaternion": obj({"x": NUM, "y": NUM, "z": NUM, "w": NUM}),
        "PrefabInstance": obj({"id": STR, "prefab_id": STR, "prefab_type": STR, "position": ref("Vector3"),
                               "rotation": ref("Quaternion"), "scale": ref("Vector3"),
                               "properties": ANY_OBJECT}),
        "WorldBlueprint": obj(
            {"id": STR, "prompt": STR, "world_type": {"enum": list(WORLD_TYPES)}, "title": STR,
             "description": STR, "environment_settings": ref("EnvironmentSettings"),
             "prefab_instances": array(ref("PrefabInstance")), "spawn_points": array(ref("Vector3")),
             "created_at": TIME, "updated_at": TIME, "processing_time_ms": NUM},
            {"status": {"enum": ["generating", "complete", "partial", "failed"]},
             "owner_id": {**STR, "description": "the owner's public id (not a login id)"},
             "visibility": {"enum": ["public", "private"]}, "seq": INT, "seed": INT,
             "bounds": {"description": "world extent"},
             "terrain": {**nullable(ref("Terrain")),
                         "description": "the ground: heightmap and water/path masks (docs/protocol.md §6.6)"},
             "warnings": array({}), "role": {"enum": ["owner", "editor", "viewer"]}}),
        # docs/protocol.md §6.5 (environment_settings); only the scene is described here, the
        # other keys (time_of_day, weather, lighting, ...) are as the protocol lists them
        "EnvironmentSettings": obj({}, {"scene": ref("Scene")}),
        "Scene": obj(
            {"archetype": {**STR, "description": "the scene archetype the prompt picked "
                                                "(docs/generator.md), e.g. harbour, castle, moon_base"},
             "ground": {"enum": ["grass", "dirt", "sand", "snow", "rock", "paved", "lava", "metal",
                                 "regolith", "seabed"],
                        "description": "what the ground is, for dressing the terrain"},
             "label": {**STR, "description": "human-readable name of the archetype"}},
            description="worlds stored by an older server lack it"),
        # docs/protocol.md §6.6; worlds stored before the terrain data lack heightmap.data and masks
        "Terrain": obj(
            {"size": {**NUM, "description": "side of the square world, m; it spans [-size/2, size/2] on x and z"}},
            {"cell": {**NUM, "description": "mask cell side, m"},
             "water_level": {**NUM, "description": "y of every water surface, m"},
             "height_min": {**NUM, "description": "lowest heightmap sample, m"},
             "height_max": {**NUM, "description": "highest heightmap sample, m"},
             "water_fraction": {**NUM, "description": "share of mask cells that are water, 0..1"},
             "path_fraction": {**NUM, "description": "share of mask cells that are path, 0..1"},
             "features": array({"enum": ["lake", "river", "road", "coast", "seabed"]},
                               description="seabed: the whole world lies under water; the heightmap "
                                           "is the sea floor and water things stand on it"),
             "heightmap": ref("TerrainHeightmap"), "masks": ref("TerrainMasks")},
            description="the ground at (x, z): bilinear interpolation of the heightmap, then "
                        "min(h, water_level - 0.5) in a water mask cell and max(h, water_level + 0.3) "
                        "elsewhere; an instance's position.y is that height (ground), water_level "
                        "(water; the ground height in a seabed world), ground + 2 m (wall) or "
                        "ground + 8 m + the prefab's height (air), within 0.01 m"),
        "TerrainHeightmap": obj(
            {"resolution": {**INT, "minimum": 2, "description": "g: samples per side"},
             "spacing": {**NUM, "description": "metres between samples, size / (g - 1)"}},
            {"encoding": {"const": "u16le-base64"},
             "min": {**NUM, "description": "height of quantised 0, m"},
             "max": {**NUM, "description": "height of quantised 65535, m"},
             "data": {**STR, "contentEncoding": "base64",
                      "description": "g x g little-endian uint16, row-major, rows along z (south to "
                                     "north), columns along x (west to east); "
                                     "height = min + q * (max - min) / 65535"}}),
        "TerrainMasks": obj(
            {"resolution": {**INT, "minimum": 1, "description": "n: cells per side"},
             "cell": {**NUM, "description": "cell side, m (size / n)"},
             "encoding": {"const": "runs"},
             "water": array({**INT, "minimum": 0}, description="run lengths over the n x n cells in "
                            "the heightmap's order: outside, inside, outside, ... (lake, river, sea, "
                            "moat; every cell in a seabed world)"),
             "path": array({**INT, "minimum": 0}, description="run lengths of the road/path cells")}),
        "Prompt2WorldRequest": obj(
            {"prompt": {**STR, "minLength": 1, "maxLength": s.max_prompt_chars}},
            {"world_type": {**nullable({"enum": list(WORLD_TYPES)}),
                            "description": "inferred from the prompt when omitted"},
             "user_id": {**nullable(STR), "description": "must be the caller when given"},
             "seed": nullable({**INT, "minimum": 0}),
             "max_instances": nullable({**INT, "minimum": 10, "maximum": s.max_instances})}),
        "Prompt2WorldResponse": obj({"success": {"const": True}, "world_blueprint": ref("WorldBlueprint"),
                                     "message": STR, "processing_time_ms": NUM}),
        "WorldSummary": obj({"id": STR, "title": STR, "prompt": STR, "world_type": STR, "status": STR,
                             "visibility": STR, "owner_id": {**STR, "description": "the owner's public id"},
                             "instance_count": INT, "seq": INT,
                             "created_at": TIME, "updated_at": TIME}, {"role": STR}),
        "WorldList": obj({"success": {"const": True}, "worlds": array(ref("WorldSummary")),
                          "total_count": {**INT, "minimum": 0}}),
        "WorldResponse": obj({"success": {"const": True}, "world_blueprint": ref("WorldBlueprint")},
                             {"message": STR}),
        "ShareRequest": obj({"user_id": {**STR, "minLength": 1, "maxLength": 128,
                                         "description": "the account id (username or guest id) of a user who "
                                                        "has logged in at least once; 404 otherwise"},
                             "role": {"enum": ["editor", "viewer", "none"],
                                      "description": "none removes the user's access"}}),
        "ShareResponse": obj({"success": {"const": True}, "message": STR},
                             {"members": array(obj({"user_id": {**STR, "description": "the member's public id"},
                                                    "role": STR}, {"display_name": STR}))}),
        "VisibilityRequest": obj({"visibility": {"enum": ["public", "private"]}}),
        "VisibilityResponse": obj({"success": {"const": True}, "message": STR},
                                  {"visibility": {"enum": ["public", "private"]}}),
    }


_ERRORS = {
    "400": ("BadRequest", "malformed JSON or a missing required value"),
    "401": ("Unauthorized", "no token, or an invalid, expired or revoked one"),
    "403": ("Forbidden", "authenticated, but not allowed to do this"),
    "404": ("NotFound", "no such resource (or no such route)"),
    "409": ("Conflict", "clashes with existing state"),
    "413": ("PayloadTooLarge", "request body over max_body_bytes"),
    "422": ("ValidationError", "wrong or missing fields; `details` names each one"),
    "408": ("RequestTimeout", "the request body did not arrive within http_body_timeout_s"),
    "429": ("RateLimited", "too many attempts; see Retry-After"),
    "500": ("InternalError", "a server bug; the message carries a request id and nothing else"),
}


def _responses() -> dict[str, Schema]:
    out = {}
    for status, (name, description) in _ERRORS.items():
        response: Schema = {"description": description, "content": {"application/json": {"schema": ref("Error")}},
                            "headers": {"X-Request-Id": {"schema": STR}}}
        if status == "429":
            response["headers"]["Retry-After"] = {"schema": INT, "description": "seconds to wait"}
        if status == "401":
            response["headers"]["WWW-Authenticate"] = {"schema": STR}
        out[name] = response
    return out


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def query(name: str, schema: Schema, description: str = "", *, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def path(name: str, description: str = "") -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STR, "description": description}


def op(summary: str, tag: str, ok: dict[str, Schema], *, body: Schema | None = None, params: tuple[Schema, ...] = (),
       auth: bool = True, errors: tuple[str, ...] = (), description: str = "") -> Schema:
    """One operation; the error responses every such route can give are added here."""
    codes = set(errors) | {"500"}
    if auth:
        codes.add("401")
    if body is not None:
        codes |= {"400", "408", "413", "422"}
    if any(p["in"] == "query" for p in params):
        codes.add("422")
    out: Schema = {"summary": summary, "tags": [tag], "operationId": "", "responses": dict(ok)}
    if description:
        out["description"] = description
    for code in sorted(codes):
        out["responses"][code] = {"$ref": f"#/components/responses/{_ERRORS[code][0]}"}
    if params:
        out["parameters"] = list(params)
    if body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if not auth:
        out["security"] = []
    return out


def _paths(s: Settings) -> dict[str, dict[str, Schema]]:
    def limit(hi: int, default: int) -> Schema:
        return query("limit", {**INT, "minimum": 1, "maximum": hi, "default": default})
    offset = query("offset", {**INT, "minimum": 0, "maximum": 2**31 - 1, "default": 0})
    prefab_type = query("prefab_type", {"enum": list(PREFAB_TYPES)})
    world_id = path("world_id")
    catalog_page = {"200": {**_json(ref("PrefabPage")), "headers": {"ETag": {"schema": STR}}},
                    "304": {"description": "not modified (If-None-Match matched the ETag)"}}
    search = op("Search the prefab catalog", "catalog", catalog_page, errors=("422",),
                params=(query("q", {**STR, "minLength": 1, "maxLength": 100}, "words to match", required=True),
                        prefab_type, limit(50, 20), offset),
                description="Matches names, tags and descriptions, best first. Same with or without the slash.")
    return {
        "/": {"get": op("Service description", "health", {"200": _json(ref("Root"))}, auth=False)},
        "/health": {"get": op("Liveness", "health", {"200": _json(ref("Health"))}, auth=False)},
        "/ready": {"get": op("Readiness: the store answers and the node is not draining", "health",
                             {"200": _json(ref("Ready")), "503": _json(ref("Ready"), "not ready")}, auth=False)},
        "/metrics": {"get": op("Prometheus metrics of this process", "health",
                               {"200": {"description": "Prometheus text exposition format",
                                        "content": {"text/plain": {"schema": STR}}}}, auth=False)},
        "/ws": {"get": op(
            "The world session WebSocket", "session",
            {"101": {"description": "switching protocols: binary msgpack frames follow; a bad token or a "
                                    "connection limit is a `bye` frame and a documented close code"},
             "503": _json(ref("Error"), "draining: reconnect to another node (Retry-After)")}, errors=("400",),
            description="Upgrade to the session protocol (docs/protocol.md is the normative spec): prompts "
                        "stream worlds as gen.start / gen.chunk / gen.done frames; join/edit/presence for "
                        "shared worlds; telemetry with acks. The token goes in the Authorization header or "
                        "in the first `hello` frame (browsers cannot set headers).", auth=False)},
        "/docs": {"get": op("This API as a browsable page (Swagger UI, shipped with the server)", "docs",
                            {"200": {"description": "HTML", "content": {"text/html": {"schema": STR}}}}, auth=False)},
        "/preview": {"get": op(
            "The world preview page: prompt a world and watch it grow live", "preview",
            {"200": {"description": "HTML", "content": {"text/html": {"schema": STR}}}}, auth=False,
            description="A browser client of the session protocol (docs/preview.md); it signs in from the "
                        "page, so the page itself needs no token.")},
        "/gallery": {"get": op(
            "The gallery page: search and browse public experiences, open one in the preview", "preview",
            {"200": {"description": "HTML", "content": {"text/html": {"schema": STR}}}}, auth=False,
            description="Reads GET /api/v1/discover/experiences and the public map thumbnails, without a token "
                        "(docs/discover.md).")},
        "/preview/{world_id}": {"get": op(
            "The world preview page opened on one world", "preview",
            {"200": {"description": "HTML", "content": {"text/html": {"schema": STR}}}},
            params=(world_id,), auth=False,
            description="The same page; it joins `world_id` over the WebSocket (404/forbidden show on the page).")},
        "/static/{path}": {"get": op(
            "Files of the preview and docs pages (scripts, styles, vendored libraries and their licenses)",
            "preview", {"200": {"description": "the file (text/javascript, text/css, text/html, image/png, "
                                              "text/plain)"}},
            params=(path("path"),), errors=("404",), auth=False)},
        "/api/v1/openapi.json": {"get": op("This document", "docs", {"200": _json(ANY_OBJECT)}, auth=False)},
        # -- auth ---------------------------------------------------------------------------------
        "/api/v1/auth/login": {"post": op(
            "Log in: a device/guest id, or a username and password", "auth", {"200": _json(ref("Session"))},
            body={"anyOf": [ref("GuestLogin"), ref("PasswordLogin")]}, auth=False, errors=("401", "403", "429"),
            description="A guest login with an empty or missing user_id is 400 (the seed's behaviour). The first "
                        "login of a guest id answers a `device_secret`; later logins of that id send it "
                        "(required when the server sets guest_secret_required: 401 `device_secret_required` "
                        "without it, 401 `invalid_credentials` with a wrong one). 401 for bad credentials or a "
                        "guest login on a password account; 403 when guest login is disabled; 429 after too "
                        "many failed logins or too many login calls per IP or per account.")},
        "/api/v1/auth/register": {"post": op("Create a password account", "auth",
                                             {"201": _json(ref("Session"), "created")},
                                             body=ref("Register"), auth=False, errors=("409", "429"))},
        "/api/v1/auth/validate": {"get": op("Check the bearer token", "auth", {"200": _json(ref("TokenValidation"))})},
        "/api/v1/auth/refresh": {"post": op("A fresh token for the same session", "auth",
                                            {"200": _json(ref("Session"))}, errors=("429",))},
        "/api/v1/auth/logout": {"post": op("Revoke the session: every token of it is dead afterwards", "auth",
                                           {"200": _json(ref("Message"))})},
        # -- catalog --------------------------------------------------------------------------------
        "/api/v1/prefab-catalog/": {"get": op(
            "List prefabs", "catalog", catalog_page,
            params=(prefab_type, limit(100, 50), offset,
                    query("page", {**INT, "minimum": 1}, "1-based page of `limit` items; ignored with offset")))},
        "/api/v1/prefab-catalog/search/": {"get": search},
        "/api/v1/prefab-catalog/search": {"get": dict(search)},
        "/api/v1/prefab-catalog/{prefab_id}": {"get": op(
            "One prefab (the list envelope with exactly one prefab)", "catalog", catalog_page,
            params=(path("prefab_id"),), errors=("404",))},
        # -- publishing -----------------------------------------------------------------------------
        "/api/v1/publish/": {"post": op("Publish one of your worlds as an experience", "publish",
                                        {"200": _json(ref("ExperienceEnvelope"))}, body=ref("PublishRequest"),
                                        errors=("403", "404"),
                                        description="A public card (is_public, the default) makes its world "
                                                    "public; making the world private later hides the card.")},
        "/api/v1/publish/experiences": {"get": op(
            "Public experiences and your own, newest first", "publish",
            {"200": _json(array(ref("ExperienceEnvelope")), "a bare JSON array of envelopes")},
            params=(limit(100, 20), offset))},
        "/api/v1/publish/experiences/{experience_id}": {
            "get": op("One experience (a private one, or one of a private world, only for its author)", "publish",
                      {"200": _json(ref("ExperienceEnvelope"))}, params=(path("experience_id"),),
                      errors=("403", "404")),
            "delete": op("Unpublish an experience (author only); its world stays", "publish",
                         {"200": _json(ref("Message"))}, params=(path("experience_id"),), errors=("403", "404")),
            "patch": op("Edit, hide or show again (republish) an experience (author only)", "publish",
                        {"200": _json(ref("ExperienceEnvelope"))}, body=ref("EditExperience"),
                        params=(path("experience_id"),), errors=("403", "404")),
        },
        "/api/v1/publish/experiences/{experience_id}/rating": {"put": op(
            "Rate an experience 1–5 stars; rating again replaces your stars", "discover",
            {"200": _json(ref("RatingResponse"))}, body=ref("RatingRequest"), params=(path("experience_id"),),
            errors=("403", "404"),
            description="Any user who can see the card, except its author. The card's `rating` is the mean.")},
        "/api/v1/publish/experiences/{experience_id}/analytics": {"get": op(
            "Per-day plays, unique players, session lengths and events of an experience", "discover",
            {"200": _json(ref("Analytics"))},
            params=(path("experience_id"),
                    query("from", {**STR, "format": "date"}, "first UTC day (default: 29 days before `to`)"),
                    query("to", {**STR, "format": "date"}, "last UTC day, inclusive (default: today)")),
            errors=("403", "404"),
            description=f"For the experience's author and the accounts in `analytics_operators`; at most "
                        f"{s.analytics_max_days} days. Computed by the database (docs/discover.md §5).")},
        "/api/v1/discover/experiences": {"get": {**op(
            "Search and browse public experiences", "discover", {"200": _json(ref("DiscoveryPage"))},
            params=(query("q", {**STR, "maxLength": 200}, "words matched (as prefixes) in title, tags and "
                                                          "description; every word must match"),
                    query("tags", STR, "comma-separated tags; a card must carry every one"),
                    query("world_type", {"enum": list(WORLD_TYPES)}),
                    query("sort", {"enum": ["relevance", "newest", "plays", "rating"]},
                          "default: relevance with q, newest without"),
                    limit(100, 20), offset,
                    query("mine", BOOL, "your own cards, public or not (needs a token)")),
            description="No token needed for public cards; a token that is sent must be valid."),
            "security": [{"bearerAuth": []}, {}]}},
        # -- telemetry ------------------------------------------------------------------------------
        "/api/v1/telemetry/": {"post": op("Log one event (stored before the answer)", "telemetry",
                                          {"200": _json(ref("Message"))}, body=ref("TelemetryEvent"),
                                          errors=("403", "429"),
                                          description="429 beyond the user's telemetry quota (events and "
                                                      "bytes per minute, shared with their sockets).")},
        "/api/v1/telemetry/batch": {"post": op(
            "Log a batch of events, all or none", "telemetry", {"200": _json(ref("Message"))},
            body=array(ref("TelemetryEvent"), maxItems=s.telemetry_max_events), errors=("403", "429"),
            description='The message is "Successfully logged N telemetry events". A bad event is reported '
                        'as `[index].field` in details. 429 beyond the user\'s telemetry quota.')},
        "/api/v1/telemetry/events/user/{user_id}": {"get": op(
            "Your own events, newest first", "telemetry",
            {"200": _json(array(ref("StoredTelemetryEvent")))},
            params=(path("user_id", "must be the caller"), limit(1000, 100)), errors=("403",))},
        # -- worlds ---------------------------------------------------------------------------------
        "/api/v1/prompt2world/": {"post": op(
            "Generate a world from a prompt (request/response fallback of the WebSocket)", "worlds",
            {"200": _json(ref("Prompt2WorldResponse"))}, body=ref("Prompt2WorldRequest"), errors=("403", "429"))},
        "/api/v1/worlds": {"get": op("Worlds you own or were invited to", "worlds", {"200": _json(ref("WorldList"))},
                                     params=(limit(100, 20), offset))},
        "/api/v1/worlds/{world_id}": {
            "get": op("One world's blueprint with its instances", "worlds", {"200": _json(ref("WorldResponse"))},
                      params=(world_id,), errors=("404",)),
            "delete": op("Delete a world (owner only)", "worlds", {"200": _json(ref("Message"))},
                         params=(world_id,), errors=("403", "404")),
        },
        "/api/v1/worlds/{world_id}/share": {"post": op(
            "Invite a user as editor or viewer, or remove them (owner only)", "worlds",
            {"200": _json(ref("ShareResponse"))}, body=ref("ShareRequest"), params=(world_id,),
            errors=("403", "404"))},
        "/api/v1/worlds/{world_id}/visibility": {"put": op(
            "Make a world public or private (owner only)", "worlds", {"200": _json(ref("VisibilityResponse"))},
            body=ref("VisibilityRequest"), params=(world_id,), errors=("403", "404"))},
        "/api/v1/worlds/{world_id}/map.png": {"get": {**op(
            "A top-down map of the world", "worlds",
            {"200": {"description": "PNG image", "content": {"image/png": {"schema": {**STR, "format": "binary"}}}},
             "304": {"description": "Not modified: the `If-None-Match` ETag is the map's current one"}},
            params=(world_id,), errors=("404",),
            description="No token needed for a public world or a world with a public experience (an `<img>` "
                        "or a texture download cannot send one); other worlds need a token of a member, as "
                        "`GET /api/v1/worlds/{world_id}`. Answers with an `ETag` that changes with every edit."),
            "security": [{"bearerAuth": []}, {}]}},
    }


def _operation_id(method: str, route: str) -> str:
    words = [w.strip("{}") for w in route.replace(".", "_").replace("-", "_").split("/") if w and w != "api"]
    return "_".join([method, *words]) or method


def build(settings: Settings | None = None) -> dict[str, Any]:
    """The document for `settings` (defaults when None)."""
    s = settings if settings is not None else Settings(**_DEFAULTS)
    paths = _paths(s)
    seen: set[str] = set()
    for route, item in paths.items():
        for method, operation in item.items():
            oid = _operation_id(method, route)
            if oid in seen:  # the same route with and without the trailing slash
                oid += "_no_slash"
            seen.add(oid)
            operation["operationId"] = oid
    return {
        "openapi": "3.1.0",
        "info": {"title": "ImmersiVerse world session server", "version": SERVER_VERSION,
                 "description": "The REST surface: the predecessor's /api/v1 contract (docs/rest-contract.md in "
                                "the server's repository), kept "
                                "unchanged for existing Unity clients, plus additions. Every error body is "
                                "`{success: false, error, message, details?}`. Request bodies over "
                                f"{s.max_body_bytes} bytes are refused with 413. The real-time protocol "
                                "runs on the WebSocket at /ws (docs/protocol.md)."},
        "security": [{"bearerAuth": []}],
        "tags": [{"name": n} for n in ("health", "docs", "preview", "auth", "catalog", "publish", "discover",
                                       "telemetry", "worlds", "session")],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": _schemas(s),
            "responses": _responses(),
        },
    }
