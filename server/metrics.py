"""Prometheus metrics of one process (docs/operations.md lists them and their alarms).

A registry per application, so several apps in one test process never collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

from protocol.codes import CloseCode, ErrorCode


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.sessions = Gauge("immersiverse_sessions", "open WebSocket sessions", registry=r)
        # Per-frame counts are plain ints on the event loop (a prometheus Counter takes a lock
        # per inc, twice per delivery on the fan-out path); a collector reads them at scrape.
        self.in_frames: dict[str, int] = {}
        self.in_type_bytes: dict[str, int] = {}  # decoded frames; the rest of in_bytes is "invalid"
        self.in_bytes = 0
        self.out_frames: dict[bytes, int] = {}  # keyed by the frame's type bytes, decoded at scrape
        self.out_bytes: dict[bytes, int] = {}
        r.register(_FrameTotals(self))
        self.errors = Counter("immersiverse_error_frames_total", "error frames sent", ["code"], registry=r)
        self.closes = Counter("immersiverse_closes_total", "server-initiated closes", ["code"], registry=r)
        self.slow = Counter("immersiverse_slow_consumer_disconnects_total", "sessions closed as slow (4001)",
                            registry=r)
        self.generation = Histogram("immersiverse_generation_seconds", "prompt to gen.done", ["status"],
                                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r)
        self.generations_running = Gauge("immersiverse_generations_running", "generations in progress",
                                         registry=r)
        self.instances = Counter("immersiverse_instances_streamed_total", "instances sent in gen.chunk",
                                 registry=r)
        self.acked = Counter("immersiverse_telemetry_acked_total", "telemetry events acked",
                                       registry=r)
        self.rooms = Gauge("immersiverse_rooms", "worlds with members on this node", registry=r)
        self.ops = Counter("immersiverse_world_ops_total", "edit batches applied", registry=r)
        self.queue_bytes = Gauge("immersiverse_send_queue_bytes", "bytes queued across sessions", registry=r)
        self.queue_max = Gauge("immersiverse_send_queue_bytes_max", "largest single session queue", registry=r)
        self.telemetry_depth = Gauge("immersiverse_telemetry_buffer_events", "events in the write-behind buffer",
                                     registry=r)
        self.telemetry_flush = Histogram("immersiverse_telemetry_flush_seconds", "one batched telemetry insert",
                                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
                                         registry=r)
        self.http_connections = Gauge("immersiverse_http_connections", "open TCP connections (immersiverse serve)",
                                      registry=r)
        self.http_closed = Counter("immersiverse_http_connections_closed_total",
                                   "connections closed to bound them (server/connections.py)", ["reason"],
                                   registry=r)
        self.db_pool = Gauge("immersiverse_db_pool_checked_out", "store connections in use", registry=r)
        self.broker_gaps = Counter("immersiverse_broker_gaps_filled_total",
                                   "op gaps filled from the op log", registry=r)
        self.snapshot_reads_saved = Counter("immersiverse_join_snapshots_reused_total",
                                            "join waves served from the room's snapshot without a store read",
                                            registry=r)

    def frame_received(self, size: int) -> None:
        self.in_bytes += size

    def message_received(self, type_: str, size: int = 0) -> None:
        self.in_frames[type_] = self.in_frames.get(type_, 0) + 1
        self.in_type_bytes[type_] = self.in_type_bytes.get(type_, 0) + size

    def frame_sent(self, data: bytes) -> None:
        kind = _kind(data)
        self.out_frames[kind] = self.out_frames.get(kind, 0) + 1
        self.out_bytes[kind] = self.out_bytes.get(kind, 0) + len(data)

    def frames_sent(self, datas: list[bytes], copies: int) -> None:
        """`datas` written to `copies` sockets: a broadcast, counted once for all its members
        (server/writer.py `Broadcast`); the totals are those of `frame_sent` per copy."""
        for data in datas:
            kind = _kind(data)
            self.out_frames[kind] = self.out_frames.get(kind, 0) + copies
            self.out_bytes[kind] = self.out_bytes.get(kind, 0) + len(data) * copies

    def error_sent(self, code: ErrorCode) -> None:
        self.errors.labels(code.wire_name).inc()

    def closed(self, code: CloseCode) -> None:
        self.closes.labels(str(int(code))).inc()
        if code is CloseCode.SLOW_CONSUMER:
            self.slow.inc()

    def instances_streamed(self, n: int) -> None:
        self.instances.inc(n)

    def telemetry_acked(self, n: int) -> None:
        self.acked.inc(n)

    def generation_started(self) -> Callable[[str], None]:
        started = time.perf_counter()
        self.generations_running.inc()
        done = False

        def finish(status: str) -> None:
            nonlocal done
            if not done:
                done = True
                self.generations_running.dec()
                self.generation.labels(status).observe(time.perf_counter() - started)
        return finish


def _kind(data: bytes) -> bytes:
    # every server frame is a small map whose first key is "type": 8X a4 "type" aN <name>
    return data[7:7 + (data[6] & 0x1F)] if data[1:6] == b"\xa4type" else b"other"


class _FrameTotals:
    """Exposes Metrics' plain frame counters as Prometheus counters at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        frames_in = CounterMetricFamily("immersiverse_frames_in", "frames received", labels=["type"])
        for type_, count in sorted(m.in_frames.items()):
            frames_in.add_metric([type_], count)
        yield frames_in
        bytes_in = CounterMetricFamily("immersiverse_bytes_in", "bytes received in frames (invalid: undecodable"
                                       " or refused before decoding)", labels=["type"])
        for type_, count in sorted(m.in_type_bytes.items()):
            bytes_in.add_metric([type_], count)
        bytes_in.add_metric(["invalid"], max(0, m.in_bytes - sum(m.in_type_bytes.values())))
        yield bytes_in
        for name, help_, counts in (("immersiverse_frames_out", "frames sent", m.out_frames),
                                    ("immersiverse_bytes_out", "bytes sent in frames", m.out_bytes)):
            family = CounterMetricFamily(name, help_, labels=["type"])
            for kind, count in sorted(counts.items()):
                family.add_metric([kind.decode("ascii", "replace")], count)
            yield family
