"""/api/v1/telemetry: single events, batches, and a user's own events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from persistence.clock import iso, utcnow
from persistence.telemetry import Row, data_json, stored_bytes, unstorable

from ..context import SERVICES, Services
from ..errors import ApiError, forbidden, validation
from ..failures import OverQuota
from ..http import identity, json_response, read_json
from ..plays import count_entered
from ..validate import F, query, validate

routes = web.RouteTableDef()
EVENT = (F("event_type", "str", min=1, max=64), F("user_id", "str", required=False, min=1, max=128),
         F("session_id", "str", required=False, max=128, nullable=True),
         F("world_id", "str", required=False, max=64, nullable=True),
         F("experience_id", "str", required=False, max=64, nullable=True),
         F("data", "dict", required=False, default=None, nullable=True),
         F("timestamp", "str", required=False, max=64, nullable=True),
         F("event_id", "str", required=False, min=1, max=64, nullable=True))


def _timestamp(raw: str | None) -> datetime:
    if raw is None:
        return utcnow()
    stamp = datetime.fromisoformat(raw)  # 3.11+ reads a trailing Z
    # Stored as UTC: SQLite keeps no offset, so "12:00+02:00" must become "10:00Z" first.
    # 0001-01-01T00:00+05:00 and 9999-12-31T23:59-05:00 fall outside datetime in UTC:
    # OverflowError, answered like any other bad time (issue 15, finding 11).
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _row(services: Services, user_id: str, body: Any, prefix: str = "") -> Row:
    try:
        ev = validate(body, EVENT)
    except ApiError as err:
        raise validation({f"{prefix}{k}": v for k, v in (err.details or {}).items()}) from None
    if ev["user_id"] not in (None, user_id):
        raise forbidden("events can only be logged for the authenticated user")
    # What the store cannot hold is refused here, alone, never found by the shared insert.
    bad = {f"{prefix}{k}": why for k in ("event_type", "session_id", "world_id", "experience_id", "event_id", "data")
           if (why := unstorable(ev[k])) is not None}
    if bad:
        raise validation(bad)
    data = ev["data"] or {}
    if len(json.dumps(data)) > services.settings.telemetry_max_event_bytes:
        limit = services.settings.telemetry_max_event_bytes
        raise validation({f"{prefix}data": f"must encode to at most {limit} bytes"})
    try:
        stamp = _timestamp(ev["timestamp"])
    except (ValueError, OverflowError):
        raise validation({f"{prefix}timestamp": "must be an ISO 8601 time within years 1 to 9999 UTC"}) from None
    return (user_id, ev["event_id"], ev["event_type"], ev["session_id"], ev["world_id"], ev["experience_id"],
            data_json(data), stamp, utcnow())


def _charge(services: Services, user_id: str, rows: list[Row]) -> None:
    """The user's telemetry quota, shared with their sockets (docs/operations.md §1.2): 429
    with Retry-After when it will fit later, 413 when one request is more than a minute's."""
    wait = services.telemetry_quota.charge(user_id, len(rows), stored_bytes(rows))
    if wait > 0.0:
        raise OverQuota(wait)  # answered by the one table (server/failures.py)


async def _store(services: Services, user_id: str, rows: list[Row]) -> None:
    """Through the write-behind buffer; returns once the rows are committed (and any
    `world_entered` among them counted as a play)."""
    _charge(services, user_id, rows)
    await (await services.telemetry.submit(rows, divisible=False))  # a batch is all or none
    await count_entered(services, user_id, ((row[2], row[4]) for row in rows))  # docs/discover.md §3


@routes.post("/api/v1/telemetry/")
async def log_event(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    await _store(services, ident.user_id, [_row(services, ident.user_id, await read_json(request))])
    return json_response({"success": True, "message": "Telemetry event logged successfully"})


@routes.post("/api/v1/telemetry/batch")
async def log_batch(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    body = await read_json(request)
    if not isinstance(body, list):
        raise validation({"body": "must be a JSON array of events"})
    if len(body) > services.settings.telemetry_max_events:
        raise validation({"body": f"must hold at most {services.settings.telemetry_max_events} events"})
    rows = [_row(services, ident.user_id, ev, f"[{i}].") for i, ev in enumerate(body)]
    if rows:
        await _store(services, ident.user_id, rows)
    return json_response({"success": True, "message": f"Successfully logged {len(rows)} telemetry events"})


def event_json(ev: Any) -> dict[str, Any]:
    return {"id": ev.id, "event_id": ev.client_event_id, "event_type": ev.event_type,
            "user_id": ev.user_id, "session_id": ev.session_id, "world_id": ev.world_id,
            "experience_id": ev.experience_id, "data": ev.data, "timestamp": iso(ev.timestamp),
            "received_at": iso(ev.received_at)}


@routes.get("/api/v1/telemetry/events/user/{user_id}")
async def user_events(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    if request.match_info["user_id"] != ident.user_id:
        raise forbidden("you can only read your own telemetry")
    q = query(request.query, (F("limit", "int", required=False, min=1, max=1000, default=100),))
    events = await services.store.telemetry.for_user(ident.user_id, q["limit"])
    return json_response([event_json(e) for e in events])
