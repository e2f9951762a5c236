"""Telemetry on the socket: validate, buffer (write-behind), ack ids once durable.

`submit` waits while the writer's buffer is full; the session loop awaits this handler,
so a full buffer stops reading that socket — backpressure instead of drops or growth
(docs/protocol.md §7.3). The ack is sent by a separate task when the batch is committed,
so the session keeps reading meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from persistence.clock import utcnow
from protocol import messages as m
from protocol.codes import ErrorCode

from .failures import RequestRefused

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("immersiverse.telemetry")


def _stamp(ts: float | None, now: datetime) -> datetime:
    if ts is None:
        return now
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return now


async def receive_telemetry(session: Session, msg: m.Telemetry) -> None:
    if session.services.telemetry is None:
        raise RequestRefused(ErrorCode.UNAVAILABLE)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    seen: set[str] = set()
    for ev in msg.events:
        if ev.id in seen:  # the same id twice in one frame is one event
            continue
        seen.add(ev.id)
        ids.append(ev.id)
        rows.append({"user_id": session.user_id, "client_event_id": ev.id, "event_type": ev.type,
                     "session_id": session.id, "world_id": ev.world_id, "experience_id": ev.experience_id,
                     "data": dict(ev.data or {}), "timestamp": _stamp(ev.ts, now), "received_at": now})
    if not rows:
        session.send(m.TelemetryAck(rid=msg.rid, ids=[], duplicates=[], rejected=list(msg.rejected)))
        return
    try:
        durable = await session.services.telemetry.submit(rows)  # backpressure point
    except RuntimeError:  # the writer is closing: we are shutting down
        raise RequestRefused(ErrorCode.UNAVAILABLE, "the server is shutting down") from None
    session.spawn(_ack_when_durable(session, msg, ids, durable), "ack")


async def _ack_when_durable(session: Session, msg: m.Telemetry, ids: list[str],
                            durable: asyncio.Future[set[tuple[str, str]]]) -> None:
    try:
        existing = await durable
    except Exception:
        session.send_error(ErrorCode.INTERNAL, msg.rid, "events were not stored; retry them")
        return
    duplicates = [i for i in ids if (session.user_id, i) in existing]
    session.send(m.TelemetryAck(rid=msg.rid, ids=ids, duplicates=duplicates, rejected=list(msg.rejected)))
    session.hub.metrics.telemetry_acked(len(ids))
