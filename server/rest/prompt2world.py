"""POST /api/v1/prompt2world/: the seed's request/response generation, for clients
without a socket. Same generator and persistence as the streamed path."""

from __future__ import annotations

import contextlib
import time
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from persistence.catalog import WORLD_TYPES
from records import generated

from ..blueprint import blueprint
from ..context import SERVICES
from ..errors import ApiError, forbidden
from ..generation import Chunk, Done, GenRequest, admit, stream_world
from ..http import identity, json_response, read_json
from ..node import NODE
from ..validate import F, validate

routes = web.RouteTableDef()


def _fields(max_prompt: int, max_instances: int) -> tuple[F, ...]:
    return (F("prompt", "str", min=1, max=max_prompt),
            F("world_type", "str", required=False, choices=WORLD_TYPES, nullable=True),
            F("user_id", "str", required=False, max=128, nullable=True),
            F("seed", "int", required=False, min=0, max=2**63 - 1, nullable=True),
            F("max_instances", "int", required=False, min=10, max=max_instances, nullable=True))


@routes.post("/api/v1/prompt2world/")
async def prompt2world(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    s = services.settings
    data = validate(await read_json(request), _fields(s.max_prompt_chars, s.max_instances))
    if not data["prompt"].strip():
        raise ApiError(422, "validation_error", "invalid fields: prompt", {"prompt": "must not be blank"})
    if data["user_id"] not in (None, ident.user_id):
        raise forbidden("worlds can only be generated for the authenticated user")
    started = time.perf_counter()
    # The same per-user budgets as the user's sockets (server/quotas.py); GenerationRefused is
    # answered 429 by the request frame (server/frame.py, server/failures.py).
    admission = admit(services, ident.user_id, data["max_instances"])
    req = GenRequest(owner_id=ident.user_id, prompt=data["prompt"], world_type=data["world_type"],
                     seed=data["seed"], max_instances=data["max_instances"], chunk_size=1024)
    instances: list[dict[str, Any]] = []
    world = None
    try:
        async with contextlib.aclosing(stream_world(services, req, leases=request.app[NODE].leases)) as events:
            async for event in events:
                if isinstance(event, Chunk):
                    instances.extend(r.blueprint() for r in generated(event.records))
                elif isinstance(event, Done):
                    world = SimpleNamespace(**event.world)  # the row as stored: no read back
                    break
    finally:
        admission.release()
    assert world is not None, "stream_world always ends with Done"
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    body = blueprint(world, instances, owner_id=services.public_id(world.owner_id))
    return json_response({"success": True, "world_blueprint": body,
                          "message": f"World generated with {len(instances)} instances",
                          "processing_time_ms": elapsed})
