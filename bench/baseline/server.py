"""Baseline server: the raw work each figure needs and nothing else (no auth, validation,
persistence of worlds, metrics or limits), so `ours / baseline` is what our features cost.

    python -m bench.baseline --port N [--db PATH] [--canned GET:/path=FILE ...] [--prepared]

- GET /ws: holds the socket and sends a pre-encoded `welcome`. Outbound frames go through a
  per-connection queue drained by one sender task, the same structure the product uses (so a
  slow member cannot stall a broadcast); the comparison is therefore feature cost, not design.
  - `join` adds the socket to a room, answered by `joined`;
  - `edit` bumps the room seq, encodes one `op` frame once and queues the same bytes to every
    other member, and answers `edit.ack`; with `--prepared`, the op's complete WebSocket frame
    (header + payload) is built once and written straight to each member's transport when
    that member has nothing queued and its transport is not paused (ours sends broadcasts
    this way, server/writer.py), otherwise queued as before;
  - `prompt` is answered immediately with `gen.start`, pre-built `gen.chunk` frames (128
    instances each, built once per size; only the `rid` is patched in) and `gen.done`;
  - `telemetry` stores the events with one aiosqlite `executemany` (INSERT OR IGNORE on a
    (user, id) unique key, WAL, synchronous=NORMAL, like the product) and commits, then acks.
  - `ping` → `pong`.
- --canned METHOD:PATH=FILE: answers that route with the file's bytes as application/json.
- GET /health for readiness.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from typing import Any

import aiosqlite
import msgpack
import uvloop
from aiohttp import WSMsgType, web

pack = msgpack.Packer(use_bin_type=True).pack
CHUNK = 128
CHUNK_HEAD = b"\x85" + pack("type") + pack("gen.chunk") + pack("rid")
WELCOME = pack({"type": "welcome", "session_id": "s_0000000000000000", "user_id": "baseline",
                "server_version": "baseline", "protocol": 1, "heartbeat_s": 20.0,
                "limits": {"max_frame_bytes": 1048576, "chunk_size": CHUNK}})


def instance(k: int) -> dict[str, Any]:
    return {"id": f"i{k:06d}", "prefab_id": "tree_oak_01", "prefab_type": "tree",
            "pos": [k * 0.25, 0.0, -k * 0.5], "rot": [0.0, 0.7071, 0.0, 0.7071],
            "scale": [1.0, 1.0, 1.0], "props": {}}


class Conn:
    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.transport = request.transport
        self.protocol = request.protocol
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._send())

    def send(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    def send_prepared(self, data: bytes, frame: bytes) -> None:
        """`frame` is `data` as a complete server WebSocket frame (unmasked, so the same for all)."""
        if self.queue.empty() and not self.protocol.writing_paused and not self.ws.closed \
                and self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)
        else:
            self.queue.put_nowait(data)

    async def _send(self) -> None:
        while (data := await self.queue.get()) is not None:
            try:
                await self.ws.send_bytes(data)
            except (ConnectionResetError, RuntimeError):
                return

    async def stop(self) -> None:
        self.queue.put_nowait(None)
        await asyncio.wait([self.task], timeout=1)
        self.task.cancel()


def ws_frame(payload: bytes) -> bytes:
    n = len(payload)  # FIN + binary; server frames are unmasked (RFC 6455 §5.2)
    head = bytes((0x82, n)) if n < 126 else bytes((0x82, 126)) + n.to_bytes(2, "big") if n < 65536 else \
        bytes((0x82, 127)) + n.to_bytes(8, "big")
    return head + payload


class Baseline:
    def __init__(self, db_path: str, prepared: bool = False) -> None:
        self.prepared = prepared
        self.rooms: dict[str, set[Conn]] = {}
        self.seq: dict[str, int] = {}
        self.streams: dict[int, list[bytes]] = {}
        self.db_path = db_path
        self.db: aiosqlite.Connection | None = None
        self.db_lock = asyncio.Lock()

    async def open_db(self) -> None:
        self.db = await aiosqlite.connect(self.db_path)
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")
        await self.db.execute("CREATE TABLE IF NOT EXISTS telemetry (id INTEGER PRIMARY KEY, user_id TEXT, "
                              "client_event_id TEXT, event_type TEXT, ts REAL, data BLOB, "
                              "UNIQUE (user_id, client_event_id))")
        await self.db.commit()

    def stream(self, n: int) -> list[bytes]:
        frames = self.streams.get(n)
        if frames is None:
            # Everything after `rid` is packed once; a map's entries are just concatenated.
            frames = [pack("world_id") + pack("w_baseline") + pack("index") + pack(i) + pack("instances")
                      + pack([instance(k) for k in range(i * CHUNK, min(n, (i + 1) * CHUNK))])
                      for i in range(-(-n // CHUNK))]
            self.streams[n] = frames
        return frames

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=2 * 1048576, compress=False)
        await ws.prepare(request)
        conn = Conn(ws, request)
        conn.send(WELCOME)
        joined: set[str] = set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    break
                frame = msgpack.unpackb(msg.data, raw=False)
                kind = frame.get("type")
                if kind == "edit":
                    world = frame["world_id"]
                    seq = self.seq[world] = self.seq.get(world, 0) + 1
                    out = pack({"type": "op", "world_id": world, "seq": seq, "author": "baseline",
                                "ops": frame["ops"]})
                    if self.prepared:
                        wire = ws_frame(out)
                        for member in self.rooms.get(world, ()):
                            if member is not conn:
                                member.send_prepared(out, wire)
                    else:
                        for member in self.rooms.get(world, ()):
                            if member is not conn:
                                member.send(out)
                    conn.send(pack({"type": "edit.ack", "rid": frame["rid"], "world_id": world, "seq": seq,
                                    "results": [{"i": i, "outcome": "applied", "id": op.get("id", "")}
                                                for i, op in enumerate(frame["ops"])]}))
                elif kind == "prompt":
                    n = int(frame.get("max_instances") or 500)
                    conn.send(pack({"type": "gen.start", "rid": frame["rid"], "world_id": "w_baseline",
                                    "session_id": "s_0", "header": {"title": "baseline"}}))
                    frames = self.stream(n)
                    head = CHUNK_HEAD + pack(frame["rid"])
                    for f in frames:
                        conn.send(head + f)
                    conn.send(pack({"type": "gen.done", "rid": frame["rid"], "world_id": "w_baseline",
                                    "status": "complete", "instances": n, "chunks": len(frames),
                                    "timings": {}, "warnings": []}))
                elif kind == "telemetry":
                    await self.telemetry(conn, frame)
                elif kind == "join":
                    world = frame["world_id"]
                    self.rooms.setdefault(world, set()).add(conn)
                    joined.add(world)
                    conn.send(pack({"type": "joined", "rid": frame["rid"], "world_id": world,
                                    "seq": self.seq.get(world, 0), "role": "owner", "mode": "snapshot",
                                    "members": []}))
                elif kind == "ping":
                    conn.send(pack({"type": "pong", "rid": frame.get("rid"), "server_time": time.time()}))
        finally:
            for world in joined:
                self.rooms.get(world, set()).discard(conn)
            await conn.stop()
        return ws

    async def telemetry(self, conn: Conn, frame: dict[str, Any]) -> None:
        events = frame["events"]
        now = time.time()
        rows = [("baseline", e["id"], e["type"], e.get("ts") or now, pack(e.get("data") or {})) for e in events]
        assert self.db is not None
        async with self.db_lock:
            await self.db.executemany("INSERT OR IGNORE INTO telemetry (user_id, client_event_id, event_type, "
                                      "ts, data) VALUES (?, ?, ?, ?, ?)", rows)
            await self.db.commit()
        conn.send(pack({"type": "telemetry.ack", "rid": frame["rid"], "ids": [e["id"] for e in events],
                        "duplicates": [], "rejected": []}))


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def canned(body: bytes) -> Any:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")
    return handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", default=":memory:")
    ap.add_argument("--canned", action="append", default=[], help="METHOD:PATH=FILE")
    ap.add_argument("--prepared", action="store_true", help="fan-out: pre-framed direct transport writes")
    args = ap.parse_args()
    base = Baseline(args.db, args.prepared)
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/ws", base.ws)
    for spec in args.canned:
        route, path = spec.split("=", 1)
        method, url = route.split(":", 1)
        with open(path, "rb") as fh:
            app.router.add_route(method, url, canned(fh.read()))

    uvloop.run(serve(app, base, args.port))


async def serve(app: web.Application, base: Baseline, port: int) -> None:
    await base.open_db()
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    if base.db is not None:
        await base.db.close()
