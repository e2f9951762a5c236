"""/api/v1/publish: publish your own world as an experience; list, read, edit and unpublish
experiences. Search, ratings and analytics: server/rest/discover.py."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from persistence.clock import iso

from ..auth import Identity
from ..context import SERVICES, Services
from ..errors import forbidden, not_found, validation
from ..http import identity, json_response, read_json
from ..hub import Hub
from ..node import NODE
from ..validate import F, paging, query, validate

routes = web.RouteTableDef()
PUBLISH = (F("world_blueprint_id", "str", min=1, max=64), F("title", "str", min=1, max=200),
           F("description", "str", min=1, max=2000), F("tags", "str_list", required=False, max=32, default=[]),
           F("is_public", "bool", required=False, default=True),
           F("user_id", "str", required=False, max=128, nullable=True),
           F("thumbnail_url", "str", required=False, max=1000, nullable=True))


def card(services: Services, exp: Any, shown: bool, author_name: str | None) -> dict[str, Any]:
    """The seed's experience card. `author_id` is the author's public id, never the account id
    (a guest's login); `is_public` says whether others can see the card now (issue 15)."""
    return {"id": exp.id, "world_blueprint_id": exp.world_id, "title": exp.title,
            "description": exp.description, "thumbnail_url": exp.thumbnail_url, "tags": list(exp.tags),
            "author_id": services.public_id(exp.author_id), "author_name": author_name or "",
            "is_public": shown, "play_count": exp.play_count, "rating": exp.rating,
            "created_at": iso(exp.created_at), "updated_at": iso(exp.updated_at)}


async def _envelopes(services: Services, rows: list[tuple[Any, bool]], message: str) -> list[dict[str, Any]]:
    users = await services.store.users.get_many(sorted({exp.author_id for exp, _ in rows}))
    return [{"success": True, "message": message,
             "experience_card": card(services, exp, shown, getattr(users.get(exp.author_id), "display_name", None))}
            for exp, shown in rows]


async def _open_world(services: Services, hub: Hub, world: Any) -> bool:
    """Make a public card's world public (a card never advertises a world others cannot
    open); True when it was private."""
    if world.visibility == "public":
        return False
    await services.store.worlds.set_visibility(world.id, "public")
    await hub.roles_changed(world.id)
    return True


@routes.post("/api/v1/publish/")
async def publish(request: web.Request) -> web.Response:
    """Publish your world. A public card makes its world public (readable and joinable as a
    viewer): a card never advertises a world others cannot open; making the world private
    again hides the card (PUT /api/v1/worlds/{id}/visibility)."""
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
    message = "Experience published successfully"
    if data["is_public"] and await _open_world(services, request.app[NODE].hub, world):
        message += f"; world {world.id} is now public"
    exp = await services.store.experiences.create(
        id=secrets.token_hex(12), world_id=world.id, author_id=ident.user_id, title=data["title"],
        description=data["description"], tags=data["tags"], is_public=data["is_public"],
        thumbnail_url=data["thumbnail_url"] or f"/api/v1/worlds/{world.id}/map.png")
    return json_response((await _envelopes(services, [(exp, bool(data["is_public"]))], message))[0])


@routes.get("/api/v1/publish/experiences")
async def list_experiences(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    q = query(request.query, paging(20, 100))
    rows = await services.store.experiences.visible_to(ident.user_id, q["limit"], q["offset"])
    # The seed answers with a bare array of envelopes (rest-contract.md, Publishing).
    return json_response(await _envelopes(services, rows, "Experience retrieved"))


async def experience_for(services: Services, ident: Identity, experience_id: str) -> tuple[Any, bool]:
    found = await services.store.experiences.get_shown(experience_id)
    if found is None:
        raise not_found("experience not found")
    exp, shown = found
    if not shown and exp.author_id != ident.user_id:
        raise forbidden("this experience is private")
    return exp, shown


@routes.get("/api/v1/publish/experiences/{experience_id}")
async def get_experience(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    row = await experience_for(services, identity(request), request.match_info["experience_id"])
    return json_response((await _envelopes(services, [row], "Experience retrieved"))[0])


@routes.delete("/api/v1/publish/experiences/{experience_id}")
async def unpublish(request: web.Request) -> web.Response:
    """Unpublish: the card goes, the world stays as it is. Only its author may."""
    services = request.app[SERVICES]
    ident = identity(request)
    exp, _ = await experience_for(services, ident, request.match_info["experience_id"])
    if exp.author_id != ident.user_id:
        raise forbidden("only the experience's author may unpublish it")
    await services.store.experiences.delete(exp.id)
    return json_response({"success": True, "message": f"Experience {exp.id} unpublished"})


EDIT = (F("title", "str", required=False, min=1, max=200), F("description", "str", required=False, min=1, max=2000),
        F("tags", "str_list", required=False, max=32), F("is_public", "bool", required=False))


@routes.patch("/api/v1/publish/experiences/{experience_id}")
async def edit_experience(request: web.Request) -> web.Response:
    """Change a card's title, description or tags, hide it (is_public false) or show it again
    (republish: true, which makes its world public as publishing does). Only its author may."""
    services = request.app[SERVICES]
    ident = identity(request)
    exp, _ = await experience_for(services, ident, request.match_info["experience_id"])
    if exp.author_id != ident.user_id:
        raise forbidden("only the experience's author may edit it")
    data = {k: v for k, v in validate(await read_json(request), EDIT).items() if v is not None}
    if not data:
        raise validation({"body": "name at least one of title, description, tags, is_public"})
    message = "Experience updated"
    if data.get("is_public"):
        world = await services.store.worlds.get(exp.world_id)
        if world is not None and await _open_world(services, request.app[NODE].hub, world):
            message += f"; world {world.id} is now public"
    await services.store.experiences.update(exp.id, **data)
    row = await services.store.experiences.get_shown(exp.id)
    if row is None:  # unpublished meanwhile
        raise not_found("experience not found")
    return json_response((await _envelopes(services, [row], message))[0])
