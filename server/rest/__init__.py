"""REST handlers, one module per area of the seed's /api/v1 surface."""

from . import auth, catalog, health, publish, telemetry

ROUTE_TABLES = [health.routes, auth.routes, catalog.routes, publish.routes, telemetry.routes]
