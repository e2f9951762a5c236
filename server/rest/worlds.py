"""/api/v1/worlds: my worlds, one world's blueprint, delete, share, visibility, map."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..auth import Identity
from ..blueprint import blueprint, instance_json, world_summary
from ..context import SERVICES, Services
from ..errors import forbidden, not_found
from ..http import identity, json_response, read_json
from ..validate import F, paging, query, validate

routes = web.RouteTableDef()


async def _world_for(services: Services, ident: Identity, world_id: str, *, owner: bool = False) -> tuple[Any, str]:
    """The world and the caller's role; 404 when it is invisible to them, 403 when not theirs."""
    world = await services.store.worlds.get(world_id)
    role = None if world is None else await services.store.worlds.role_of(world, ident.user_id)
    if world is None or role is None:
        raise not_found(f"world {world_id} not found")
    if owner and role != "owner":
        raise forbidden("only the world's owner may do this")
    return world, role


@routes.get("/api/v1/worlds")
async def list_worlds(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    q = query(request.query, paging(20, 100))
    rows, total = await services.store.worlds.list_for_user(ident.user_id, q["limit"], q["offset"])
    return json_response({"success": True, "worlds": [world_summary(w, role) for w, role in rows],
                          "total_count": total})


@routes.get("/api/v1/worlds/{world_id}")
async def get_world(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    world, role = await _world_for(services, identity(request), request.match_info["world_id"])
    rows = await services.store.worlds.instances(world.id)
    body = blueprint(world, [instance_json(r) for r in rows])
    body["role"] = role
    return json_response({"success": True, "world_blueprint": body, "message": "World retrieved"})


@routes.delete("/api/v1/worlds/{world_id}")
async def delete_world(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    world, _ = await _world_for(services, identity(request), request.match_info["world_id"], owner=True)
    await services.store.worlds.delete(world.id)
    hub = services.extras.get("hub")
    if hub is not None:
        await hub.world_deleted(world.id)
    return json_response({"success": True, "message": f"World {world.id} deleted"})


@routes.post("/api/v1/worlds/{world_id}/share")
async def share_world(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    world, _ = await _world_for(services, ident, request.match_info["world_id"], owner=True)
    data = validate(await read_json(request), (F("user_id", "str", min=1, max=128),
                                               F("role", "str", choices=("editor", "viewer", "none"))))
    if data["user_id"] == world.owner_id:
        raise forbidden("the owner's role cannot be changed")
    await services.store.worlds.share(world.id, data["user_id"], None if data["role"] == "none" else data["role"])
    hub = services.extras.get("hub")
    if hub is not None:
        await hub.roles_changed(world.id)
    members = [{"user_id": m.user_id, "role": m.role} for m in await services.store.worlds.members(world.id)]
    return json_response({"success": True, "message": "Sharing updated", "members": members})


@routes.put("/api/v1/worlds/{world_id}/visibility")
async def set_visibility(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    world, _ = await _world_for(services, identity(request), request.match_info["world_id"], owner=True)
    data = validate(await read_json(request), (F("visibility", "str", choices=("public", "private")),))
    await services.store.worlds.set_visibility(world.id, data["visibility"])
    hub = services.extras.get("hub")
    if hub is not None:
        await hub.roles_changed(world.id)
    return json_response({"success": True, "message": f"World is now {data['visibility']}",
                          "visibility": data["visibility"]})


@routes.get("/api/v1/worlds/{world_id}/map.png")
async def world_map(request: web.Request) -> web.Response:
    from generator.render import render_png

    services = request.app[SERVICES]
    world, _ = await _world_for(services, identity(request), request.match_info["world_id"])
    rows = await services.store.worlds.instances(world.id)
    catalog = services.catalog.generator_catalog()
    png = await asyncio.get_running_loop().run_in_executor(
        None, lambda: render_png_for(render_png, world, rows, catalog))
    return web.Response(body=png, content_type="image/png")


def render_png_for(render_png: Any, world: Any, rows: list[Any], catalog: Any = None) -> bytes:
    """The stored world's map: the same drawing as ``generate --png`` (docs/protocol.md §6.5)."""
    from generator import Instance

    instances = [Instance(id=r.id, prefab_id=r.prefab_id, prefab_type=r.prefab_type,
                          position=(r.px, r.py, r.pz), rotation=(r.rx, r.ry, r.rz, r.rw),
                          scale=(r.sx, r.sy, r.sz), properties=r.props) for r in rows]
    return bytes(render_png((world.header, instances), catalog=catalog))
