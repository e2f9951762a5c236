"""REST handlers, one module per area of the seed's /api/v1 surface."""

from . import auth, catalog, docs, health, preview, prompt2world, publish, telemetry, worlds

ROUTE_TABLES = [health.routes, auth.routes, catalog.routes, publish.routes, telemetry.routes,
                prompt2world.routes, worlds.routes, docs.routes, preview.routes]
