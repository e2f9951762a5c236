"""/api/v1/worlds: my worlds, one world's blueprint, delete, share, visibility, map.

The map is the one route here that may answer without a token: an experience card shows it as
its thumbnail, and an `<img>` or a texture download cannot send one (docs/rest-contract.md)."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from typing import Any

from aiohttp import web

from records import InstanceRecord

from ..auth import Identity
from ..blueprint import blueprint, world_summary
from ..context import SERVICES, Services
from ..errors import forbidden, not_found
from ..http import identity, json_response, read_json
from ..node import NODE
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
    return json_response({"success": True, "worlds": [world_summary(w, role, owner_id=services.public_id(w.owner_id))
                                                      for w, role in rows],
                          "total_count": total})


@routes.get("/api/v1/worlds/{world_id}")
async def get_world(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    world, role = await _world_for(services, identity(request), request.match_info["world_id"])
    rows = await services.store.worlds.instances(world.id)
    body = blueprint(world, [InstanceRecord.from_row(r).blueprint() for r in rows],
                     owner_id=services.public_id(world.owner_id))
    body["role"] = role
    return json_response({"success": True, "world_blueprint": body, "message": "World retrieved"})


@routes.delete("/api/v1/worlds/{world_id}")
async def delete_world(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    world, _ = await _world_for(services, identity(request), request.match_info["world_id"], owner=True)
    await services.store.worlds.delete(world.id)
    await request.app[NODE].hub.world_deleted(world.id)
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
    role = None if data["role"] == "none" else data["role"]
    # A share names an existing account: one naming a free id would let whoever first logs in
    # with that id into the world (issue 15, finding 1). Removing a share needs no account.
    if role is not None and await services.store.users.get(data["user_id"]) is None:
        raise not_found(f"no account {data['user_id']!r}; the user must log in once before a world is shared with them")
    await services.store.worlds.share(world.id, data["user_id"], role)
    await request.app[NODE].hub.roles_changed(world.id)
    return json_response({"success": True, "message": "Sharing updated",
                          "members": await _members(services, world.id)})


async def _members(services: Services, world_id: str) -> list[dict[str, Any]]:
    """Members by public id and display name, as the session protocol shows them (docs/protocol.md §6.2)."""
    rows = await services.store.worlds.members(world_id)
    users = await services.store.users.get_many([m.user_id for m in rows])
    return [{"user_id": services.public_id(m.user_id), "display_name": users[m.user_id].display_name
             if m.user_id in users else "", "role": m.role} for m in rows]


@routes.put("/api/v1/worlds/{world_id}/visibility")
async def set_visibility(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    world, _ = await _world_for(services, identity(request), request.match_info["world_id"], owner=True)
    data = validate(await read_json(request), (F("visibility", "str", choices=("public", "private")),))
    await services.store.worlds.set_visibility(world.id, data["visibility"])
    await request.app[NODE].hub.roles_changed(world.id)
    return json_response({"success": True, "message": f"World is now {data['visibility']}",
                          "visibility": data["visibility"]})


class MapCache:
    """Rendered maps by (world id, version): a 20k-instance world takes 0.4 s to read and draw,
    and a published world's map is every card's thumbnail. Bounded in entries and bytes,
    least recently used first out; an edit or a new generator changes the version, so a
    stale map is never served (issue 15, finding 4)."""

    def __init__(self, max_entries: int = 256, max_bytes: int = 64 << 20) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._maps: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, str]) -> bytes | None:
        png = self._maps.get(key)
        if png is not None:
            self._maps.move_to_end(key)
        return png

    def put(self, key: tuple[str, str], png: bytes) -> None:
        if len(png) > self.max_bytes or key in self._maps:
            return
        self._maps[key] = png
        self._bytes += len(png)
        while len(self._maps) > self.max_entries or self._bytes > self.max_bytes:
            _, old = self._maps.popitem(last=False)
            self._bytes -= len(old)


MAP_CACHE = web.AppKey("map_cache", MapCache)


def map_version(world: Any) -> str:
    """Changes whenever the map may: an edit (seq), a generation or visibility change
    (updated_at), a new generator release (it draws the map)."""
    from generator import GENERATOR_VERSION

    raw = f"{world.seq}|{world.updated_at.isoformat()}|{world.instance_count}|{GENERATOR_VERSION}"
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


async def _public_map(services: Services, world: Any) -> bool:
    """Its map is public: the world is, or a public experience card shows it as a thumbnail."""
    return bool(world.visibility == "public" or await services.store.experiences.has_public(world.id))


@routes.get("/api/v1/worlds/{world_id}/map.png")
async def world_map(request: web.Request) -> web.StreamResponse:
    from generator.render import render_png

    services = request.app[SERVICES]
    world_id = request.match_info["world_id"]
    found = await services.store.worlds.get(world_id)
    public = found is not None and await _public_map(services, found)
    if found is None or not public:
        found, _ = await _world_for(services, identity(request), world_id)  # 401, then 404, as for the world
    world = found
    etag = f'"{map_version(world)}"'
    headers = {"ETag": etag, "Cache-Control": f"{'public' if public else 'private'}, max-age=0, must-revalidate"}
    if etag in (tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")):
        return web.Response(status=304, headers=headers)
    cache = request.app[MAP_CACHE]
    key = (world.id, etag)
    png = cache.get(key)
    if png is None:
        rows = await services.store.worlds.instances(world.id)
        catalog = services.catalog.generator_catalog()
        # the same drawing as `generate --png` (docs/protocol.md §6.6), of the stored records; the
        # rows become records off the event loop, as the drawing is made
        png = await asyncio.get_running_loop().run_in_executor(
            None, lambda: render_png((world.header, [InstanceRecord.from_row(r) for r in rows]), catalog=catalog))
        cache.put(key, png)
    return web.Response(body=png, content_type="image/png", headers=headers)

