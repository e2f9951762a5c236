"""Telemetry on the socket: validate, buffer (write-behind), ack ids once durable.

`submit` waits while the writer's buffer is full; the session loop awaits this handler,
so a full buffer stops reading that socket — backpressure instead of drops or growth
(docs/protocol.md §7.3). The ack is sent by a separate task when the batch is committed,
so the session keeps reading meanwhile.

Before buffering, two checks keep one user's events from costing others: an event holding
what the store cannot (U+0000) is rejected alone in the ack, and the frame is charged to the
user's telemetry quota, shared with their other sockets and REST (issue 15, findings 2 and 5).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from persistence.clock import utcnow
from persistence.telemetry import Key, Row, RowsNotStored, data_json, stored_bytes, unstorable
from protocol import messages as m
from protocol.codes import ErrorCode
from protocol.values import TelemetryEvent, TelemetryRejection

from .failures import EVENT_NOT_STORABLE, TELEMETRY_NOT_STORED, OverQuota, RequestRefused
from .plays import ENTERED, count_entered

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
    entered: dict[str, str] = {}  # event id -> world id of the `world_entered` events
    seen: set[str] = set()
    rejected = list(msg.rejected)
    for ev in msg.events:
        if ev.id in seen:  # the same id twice in one frame is one event
            continue
        seen.add(ev.id)
        # data is encoded now, so the decoded maps are not kept alive in the buffer (GC work)
        data = data_json(ev.data)
        problem = _unstorable(ev, data)
        if problem is not None:
            rejected.append(TelemetryRejection(id=ev.id, code=int(ErrorCode.INVALID_VALUE), message=problem))
            continue
        ids.append(ev.id)
        if ev.type == ENTERED and ev.world_id:
            entered[ev.id] = ev.world_id
        rows.append((user, ev.id, ev.type, sid, ev.world_id, ev.experience_id, data, ev.ts, now))
    if not rows:
        session.send(m.TelemetryAck(rid=msg.rid, ids=[], duplicates=[], rejected=rejected))
        return
    wait = session.services.telemetry_quota.charge(user, len(rows), stored_bytes(rows))
    if wait > 0.0:
        raise OverQuota(wait)  # answered by the one table (server/failures.py), as WriterClosed is
    durable = await session.services.telemetry.submit(rows)  # backpressure point
    session.spawn(_ack_when_durable(session, msg.rid, ids, rejected, durable, entered), "ack")


def _unstorable(ev: TelemetryEvent, data: str) -> str | None:
    """Why the store cannot hold this event, or None. The frame's strings are valid UTF-8
    (docs/protocol.md §2.3), so only U+0000 remains, refused by PostgreSQL (§7.3); the data
    text escapes it as \\u0000, and only then is the map walked."""
    if "\x00" in f"{ev.id}{ev.type}{ev.world_id or ''}{ev.experience_id or ''}":  # one scan, then which
        for name, text in (("id", ev.id), ("type", ev.type), ("world_id", ev.world_id),
                           ("experience_id", ev.experience_id)):
            if text is not None and "\x00" in text:
                return f"{name}: must not contain U+0000"
    if "\\u0000" in data and (why := unstorable(ev.data)) is not None:
        return f"data: {why}"
    return None


async def _ack_when_durable(session: Session, rid: int, ids: list[str], rejected: list[TelemetryRejection],
                            durable: asyncio.Future[set[Key]], entered: dict[str, str]) -> None:
    try:
        existing = await durable
    except RowsNotStored as exc:
        # The store refused these events for what they hold: they would fail again, so they are
        # rejected (the client drops them, §7.3); the others of the frame are stored.
        existing = exc.duplicates
        refused = {cid for _, cid in exc.keys}
        ids = [i for i in ids if i not in refused]
        rejected = rejected + [TelemetryRejection(id=i, code=int(EVENT_NOT_STORABLE.code),
                                                  message=EVENT_NOT_STORABLE.message) for i in sorted(refused)]
    except Exception:  # noqa: BLE001 - the writer logged it; the client retries the batch
        session.send_error(TELEMETRY_NOT_STORED.code, rid, TELEMETRY_NOT_STORED.message)
        return
    user = session.user_id
    duplicates = [i for i in ids if (user, i) in existing] if existing else []
    if entered:  # counted before the ack, so an acked `world_entered` is a counted play (docs/discover.md §3)
        await count_entered(session.services, user, [(ENTERED, entered[i]) for i in ids if i in entered])
    session.send(m.TelemetryAck(rid=rid, ids=ids, duplicates=duplicates, rejected=rejected))
    session.hub.metrics.telemetry_acked(len(ids))
