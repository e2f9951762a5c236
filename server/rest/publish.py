"""/api/v1/publish: publish your own world as an experience; list and read experiences."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from persistence.clock import iso

from ..context import SERVICES
from ..errors import forbidden, not_found
from ..http import identity, json_response, read_json
from ..validate import F, paging, query, validate

routes = web.RouteTableDef()
PUBLISH = (F("world_blueprint_id", "str", min=1, max=64), F("title", "str", min=1, max=200),
           F("description", "str", min=1, max=2000), F("tags", "str_list", required=False, max=32, default=[]),
           F("is_public", "bool", required=False, default=True),
           F("user_id", "str", required=False, max=128, nullable=True),
           F("thumbnail_url", "str", required=False, max=1000, nullable=True))


def card(exp: Any) -> dict[str, Any]:
    return {"id": exp.id, "world_blueprint_id": exp.world_id, "title": exp.title,
            "description": exp.description, "thumbnail_url": exp.thumbnail_url, "tags": list(exp.tags),
            "author_id": exp.author_id, "is_public": exp.is_public, "play_count": exp.play_count,
            "rating": exp.rating, "created_at": iso(exp.created_at), "updated_at": iso(exp.updated_at)}


def _envelope(exp: Any, message: str) -> dict[str, Any]:
    return {"success": True, "experience_card": card(exp), "message": message}


@routes.post("/api/v1/publish/")
async def publish(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    data = validate(await read_json(request), PUBLISH)
    if data["user_id"] not in (None, ident.user_id):
        raise forbidden("you can only publish as yourself")
    world = await services.store.worlds.get(data["world_blueprint_id"])
    if world is None:
        raise not_found(f"world {data['world_blueprint_id']} not found")
    if world.owner_id != ident.user_id:
        raise forbidden("you can only publish your own worlds")
    exp = await services.store.experiences.create(
        id=secrets.token_hex(12), world_id=world.id, author_id=ident.user_id, title=data["title"],
        description=data["description"], tags=data["tags"], is_public=data["is_public"],
        thumbnail_url=data["thumbnail_url"] or f"/api/v1/worlds/{world.id}/map.png")
    return json_response(_envelope(exp, "Experience published successfully"))


@routes.get("/api/v1/publish/experiences")
async def list_experiences(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    q = query(request.query, paging(20, 100))
    rows = await services.store.experiences.visible_to(ident.user_id, q["limit"], q["offset"])
    # The seed answers with a bare array of envelopes (rest-contract.md, Publishing).
    return json_response([_envelope(e, "Experience retrieved") for e in rows])


@routes.get("/api/v1/publish/experiences/{experience_id}")
async def get_experience(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    exp = await services.store.experiences.get(request.match_info["experience_id"])
    if exp is None:
        raise not_found("experience not found")
    if not exp.is_public and exp.author_id != ident.user_id:
        raise forbidden("this experience is private")
    return json_response(_envelope(exp, "Experience retrieved"))
