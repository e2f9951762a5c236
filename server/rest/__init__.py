"""REST handlers, one module per area of the seed's /api/v1 surface."""

from aiohttp import web

from . import auth, catalog, discover, docs, health, preview, prompt2world, publish, telemetry, worlds

ROUTE_TABLES = [health.routes, auth.routes, catalog.routes, publish.routes, discover.routes, telemetry.routes,
                prompt2world.routes, worlds.routes, docs.routes, preview.routes]


def slash_twin(path: str) -> str | None:
    """The same path with the trailing slash toggled; None where there is no second form
    (the root, and catch-all paths such as /static/{path:.+})."""
    if path == "/" or ":" in path:
        return None
    return path[:-1] if path.endswith("/") else f"{path}/"


def add_routes(router: web.UrlDispatcher, tables: list[web.RouteTableDef]) -> None:
    """Register every route under its documented path and under its slash twin, served by
    the same handler: the predecessor's clients call `/api/v1/prompt2world/` and
    `/api/v1/worlds` with and without the slash (README, REST), and a redirect would turn a
    POST into a GET in some clients. The OpenAPI document lists the documented form only."""
    defs = [route for table in tables for route in table if isinstance(route, web.RouteDef)]
    taken = {(route.method, route.path) for route in defs}
    for route in defs:
        router.add_route(route.method, route.path, route.handler, **route.kwargs)
    for route in defs:
        twin = slash_twin(route.path)
        if twin is not None and (route.method, twin) not in taken:
            taken.add((route.method, twin))
            router.add_route(route.method, twin, route.handler, **route.kwargs)
