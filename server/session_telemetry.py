"""Telemetry on the socket: validate, buffer (write-behind), ack ids once durable.

`submit` waits while the writer's buffer is full; the session loop awaits this handler,
so a full buffer stops reading that socket — backpressure instead of drops or growth
(docs/protocol.md §7.3). The ack is sent by a separate task when the batch is committed,
so the session keeps reading meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from persistence.clock import utcnow
from persistence.telemetry import Key, Row, data_json
from protocol import messages as m
from protocol.codes import ErrorCode
from protocol.values import TelemetryRejection

from .failures import RequestRefused

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("immersiverse.telemetry")


async def receive_telemetry(session: Session, msg: m.Telemetry) -> None:
    if session.services.telemetry is None:
        raise RequestRefused(ErrorCode.UNAVAILABLE)
    now = utcnow()
    user, sid = session.user_id, session.id
    rows: list[Row] = []
    ids: list[str] = []
    seen: set[str] = set()
    for ev in msg.events:
        if ev.id in seen:  # the same id twice in one frame is one event
            continue
        seen.add(ev.id)
        ids.append(ev.id)
        # data is encoded now, so the decoded maps are not kept alive in the buffer (GC work)
        rows.append((user, ev.id, ev.type, sid, ev.world_id, ev.experience_id, data_json(ev.data), ev.ts, now))
    if not rows:
        session.send(m.TelemetryAck(rid=msg.rid, ids=[], duplicates=[], rejected=list(msg.rejected)))
        return
    try:
        durable = await session.services.telemetry.submit(rows)  # backpressure point
    except RuntimeError:  # the writer is closing: we are shutting down
        raise RequestRefused(ErrorCode.UNAVAILABLE, "the server is shutting down") from None
    session.spawn(_ack_when_durable(session, msg.rid, ids, msg.rejected, durable), "ack")


async def _ack_when_durable(session: Session, rid: int, ids: list[str], rejected: tuple[TelemetryRejection, ...],
                            durable: asyncio.Future[set[Key]]) -> None:
    try:
        existing = await durable
    except Exception:  # noqa: BLE001 - the writer logged it; the client retries the batch
        session.send_error(ErrorCode.INTERNAL, rid, "events were not stored; retry them")
        return
    user = session.user_id
    duplicates = [i for i in ids if (user, i) in existing] if existing else []
    session.send(m.TelemetryAck(rid=rid, ids=ids, duplicates=duplicates, rejected=list(rejected)))
    session.hub.metrics.telemetry_acked(len(ids))
