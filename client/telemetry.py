"""Telemetry with a local retry buffer (docs/protocol.md §7.3).

Events get a client-generated id when recorded and stay in the buffer until a
``telemetry.ack`` lists them (stored, or duplicates of stored ones) or rejects them. Ids are the
server's dedup keys, so resending a batch whose ack was lost — after a reconnect, or after an
``internal`` / ``unavailable`` error — never stores an event twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol import values as val

__all__ = ["FlushResult", "TelemetryBuffer"]

log = logging.getLogger("immersiverse.client.telemetry")


@dataclass(slots=True)
class FlushResult:
    """What one :meth:`Session.flush_telemetry` achieved."""

    acked: list[str] = field(default_factory=list)  # stored now or before
    duplicates: list[str] = field(default_factory=list)  # subset of acked stored before
    rejected: list[dict[str, Any]] = field(default_factory=list)  # dropped for good: {id, code, message}


class TelemetryBuffer:
    """Ordered event id → event; ``inflight`` marks ids sent and not yet answered."""

    def __init__(self, max_events: int = 10_000) -> None:
        self.max_events = max_events
        self.events: OrderedDict[str, val.TelemetryEvent] = OrderedDict()
        self.inflight: set[str] = set()
        self.dropped = 0  # oldest events dropped because the buffer was full

    def __len__(self) -> int:
        return len(self.events)

    def add(self, event_type: str, data: Mapping[str, Any] | None = None, *, world_id: str | None = None,
            experience_id: str | None = None, ts: float | None = None, event_id: str | None = None) -> str:
        event_id = event_id or uuid.uuid4().hex
        if len(self.events) >= self.max_events:
            old, _ = self.events.popitem(last=False)
            self.inflight.discard(old)
            self.dropped += 1
            log.warning("telemetry buffer full (%d): dropped event %s", self.max_events, old)
        self.events[event_id] = val.TelemetryEvent(
            id=event_id, type=event_type, ts=time.time() if ts is None else ts, world_id=world_id,
            experience_id=experience_id, data=dict(data) if data is not None else None)
        return event_id

    def take(self, limit: int) -> list[val.TelemetryEvent]:
        """Up to ``limit`` events not in flight, oldest first; marks them in flight."""
        batch = []
        for event_id, event in self.events.items():
            if event_id in self.inflight:
                continue
            batch.append(event)
            if len(batch) >= limit:
                break
        self.inflight.update(e.id for e in batch)
        return batch

    def pending(self) -> int:
        """Events waiting to be sent (not in flight)."""
        return len(self.events) - len(self.inflight)

    def acked(self, ids: list[str], rejected: list[str]) -> None:
        for event_id in (*ids, *rejected):
            self.events.pop(event_id, None)
            self.inflight.discard(event_id)

    def failed(self, ids: list[str]) -> None:
        """No ack for these (error or disconnect): send them again later."""
        self.inflight.difference_update(ids)
