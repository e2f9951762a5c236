"""Protocol fuzzing over a real socket (issue #8, item 1): strategies for hostile frames and a
driver that feeds them to one *victim* connection while a *bystander* watches.

Frames are random bytes, text frames, and valid frames built from the message table
(docs/protocol.md §5) then mutated: wrong field types, deleted or extra fields, a wrong
`type`, NaN/±Inf in pos/rot/scale/cursor/ts, deep nesting, huge maps and arrays, invalid
UTF-8, ext and timestamp values, truncation, flipped bytes, trailing bytes, oversized frames.

The property (checked by `Fuzzer.feed`): every frame the server sends back decodes as a
documented server message (`protocol.decode_server`); an `error` carries a documented
ErrorCode with its name and is never `internal`; a `bye` and the WebSocket close carry a
documented CloseCode. When the victim is closed it reconnects. The server runs in a thread
of this process so its log records reach caplog.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgpack
from aiohttp import web
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from protocol import ProtocolError, decode_server
from protocol.codes import CloseCode, ErrorCode
from tests.support.serve import free_port

RECV_TIMEOUT = 15.0
SENTINEL_RIDS = itertools.count(2_000_000_000)
CLOSE_CODES = {int(c) for c in CloseCode}
ERROR_CODES = {int(c) for c in ErrorCode}
MSGPACK_INT = st.integers(-(2**63), 2**64 - 1)


# -- the server, in a thread of its own ---------------------------------------------------------
class ThreadServer:
    """create_app(settings) served on 127.0.0.1 by an event loop in a daemon thread."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.app: web.Application | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fuzz-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the fuzz server did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        from server.app import create_app

        self.app = create_app(self.settings)
        self.runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def services(self) -> Any:
        from server.context import SERVICES

        assert self.app is not None
        return self.app[SERVICES]

    @property
    def node(self) -> Any:
        from server.node import NODE

        assert self.app is not None
        return self.app[NODE]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.runner.cleanup(), timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)


def http_login(port: int, user: str) -> str:
    import json
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/auth/login", method="POST",
                                 data=json.dumps({"user_id": user}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(json.loads(r.read())["token"])


def ws_open(port: int, token: str) -> ClientConnection:
    ws = connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"Authorization": f"Bearer {token}"},
                 max_size=None, compression=None, open_timeout=RECV_TIMEOUT, close_timeout=2)
    ws.pending_legacy_warning = False  # websockets ≥ 17.1 would warn: we close it ourselves
    return ws


# -- strategies ------------------------------------------------------------------------------
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=24)
scalars = st.one_of(st.none(), st.booleans(), MSGPACK_INT, st.floats(), texts, st.binary(max_size=24),
                    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8)),
                    st.builds(msgpack.Timestamp, st.integers(0, 2**33), st.integers(0, 999_999_999)))
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(texts | MSGPACK_INT, inner, max_size=4), max_leaves=10)
TYPES = ["hello", "auth.refresh", "ping", "prompt", "cancel", "telemetry", "join", "leave", "edit",
         "presence"]
FIELD_NAMES = ["type", "rid", "v", "token", "prompt", "world_type", "seed", "max_instances", "room", "target",
               "events", "world_id", "since_seq", "ops", "cursor", "selection", "client", "x"]


@dataclass
class Context:
    """What valid frames may refer to: the victim's own world, a stranger's, tokens."""

    own_world: str
    other_world: str
    token: str
    other_token: str


def _vec(n: int) -> st.SearchStrategy[list[float]]:
    return st.lists(st.floats(-50, 50), min_size=n, max_size=n)


@st.composite
def valid_frame(draw: Any, ctx: Context) -> dict[str, Any]:
    """A well-formed client message of a random type (it may still be refused)."""
    kind = draw(st.sampled_from(TYPES))
    rid = draw(st.integers(0, 2**31 - 1))
    world = draw(st.sampled_from([ctx.own_world, ctx.own_world, ctx.other_world, "w_nonexistent"]))
    if kind == "hello":
        return {"type": kind, "v": draw(st.sampled_from([1, 1, 2, 9])),
                "token": draw(st.sampled_from([ctx.token, ctx.other_token, "not.a.token"]))}
    if kind == "auth.refresh":
        return {"type": kind, "rid": rid, "token": draw(st.sampled_from([ctx.token, ctx.other_token, "x.y.z"]))}
    if kind == "ping":
        return {"type": kind, "rid": rid}
    if kind == "prompt":
        return {"type": kind, "rid": rid, "prompt": draw(st.sampled_from(["a forest", "a town by a lake", " "])),
                "max_instances": draw(st.integers(1, 24)), "seed": draw(st.integers(0, 99)),
                "room": draw(st.booleans())}
    if kind == "cancel":
        return {"type": kind, "rid": rid, "target": draw(st.integers(0, 2**31 - 1))}
    if kind == "telemetry":
        events = [{"id": draw(st.sampled_from(["e1", "e2", "e3", "e4"])), "type": "fuzz",
                   "ts": draw(st.floats(0, 1e10)), "data": {"k": draw(st.integers(0, 9))}}
                  for _ in range(draw(st.integers(1, 4)))]
        return {"type": kind, "rid": rid, "events": events}
    if kind == "join":
        out: dict[str, Any] = {"type": kind, "rid": rid, "world_id": world}
        if draw(st.booleans()):
            out["since_seq"] = draw(st.integers(0, 50))
        return out
    if kind == "leave":
        return {"type": kind, "rid": rid, "world_id": world}
    if kind == "edit":
        iid = draw(st.sampled_from(["f1", "f2", "f3"]))
        op = draw(st.sampled_from([
            {"op": "add", "id": iid, "prefab_id": "oak_tree", "pos": draw(_vec(3))},
            {"op": "move", "id": iid, "pos": draw(_vec(3)), "rot": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0]},
            {"op": "set", "id": iid, "props": {"color": "red"}},
            {"op": "remove", "id": iid},
            {"op": "add", "prefab_id": "no_such_prefab", "pos": [0.0, 0.0, 0.0]},
        ]))
        return {"type": kind, "rid": rid, "world_id": world, "ops": [op]}
    return {"type": "presence", "world_id": world, "cursor": draw(_vec(3)), "selection": ["f1"]}


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def _delete(obj: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        obj = obj[key]
    del obj[path[-1]]


def _nest(depth: int, leaf: Any, maps: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"n": value} if maps else [value]
    return value


PLACEHOLDER = "\ue000fuzz-placeholder\ue000"


@st.composite
def hostile_frame(draw: Any, ctx: Context) -> tuple[str, bytes | str]:
    """(kind, payload): payload is bytes (binary frame) or str (text frame)."""
    kind = draw(st.sampled_from([
        "valid", "junk_value", "delete_field", "extra_field", "wrong_type_tag", "non_finite", "deep",
        "huge", "invalid_utf8", "ext", "truncated", "bitflip", "trailing", "random_bytes", "random_msgpack",
        "text", "oversized", "oversized_far",
    ]))
    frame = draw(valid_frame(ctx))
    paths = _paths(frame)
    if kind == "valid":
        return kind, msgpack.packb(frame)
    if kind == "junk_value":
        _set(frame, draw(st.sampled_from(paths)), draw(junk))
    elif kind == "delete_field":
        _delete(frame, draw(st.sampled_from(paths)))
    elif kind == "extra_field":
        frame[draw(st.sampled_from(FIELD_NAMES) | texts)] = draw(junk)
    elif kind == "wrong_type_tag":
        frame["type"] = draw(st.sampled_from(TYPES + ["teleport", "", "gen.chunk", "error", "welcome"]) | junk)
    elif kind == "non_finite":
        numeric = [p for p in paths if isinstance(_get(frame, p), float)]
        target = draw(st.sampled_from(numeric)) if numeric else None
        value = draw(NON_FINITE)
        if target is None:
            frame[draw(st.sampled_from(["cursor", "pos", "ts", "seed"]))] = [value, 0.0, 0.0]
        else:
            _set(frame, target, value)
    elif kind == "deep":
        depth = draw(st.integers(1, 120))
        _set(frame, draw(st.sampled_from(paths)), _nest(depth, draw(scalars), draw(st.booleans())))
    elif kind == "huge":
        n = draw(st.sampled_from([100, 9_999, 10_001, 40_000]))
        big: Any = {str(i): i for i in range(n)} if draw(st.booleans()) else list(range(n))
        _set(frame, draw(st.sampled_from(paths)), big)
    elif kind == "invalid_utf8":
        bad = draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"a\x80b", b"\xf8\x88\x80\x80\x80"]))
        _set(frame, draw(st.sampled_from(paths)), PLACEHOLDER)
        raw = msgpack.packb(frame)
        return kind, raw.replace(msgpack.packb(PLACEHOLDER), bytes([0xA0 | len(bad)]) + bad, 1)
    elif kind == "ext":
        _set(frame, draw(st.sampled_from(paths)),
             draw(st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=16))))
    elif kind in ("truncated", "bitflip", "trailing"):
        raw = msgpack.packb(frame)
        if kind == "truncated":
            return kind, raw[:draw(st.integers(0, len(raw) - 1))]
        if kind == "bitflip":
            i = draw(st.integers(0, len(raw) - 1))
            return kind, raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1:]
        return kind, raw + draw(st.binary(min_size=1, max_size=16))
    elif kind == "random_bytes":
        return kind, draw(st.binary(max_size=256))
    elif kind == "random_msgpack":
        return kind, msgpack.packb(draw(junk))
    elif kind == "text":
        return kind, draw(st.text(max_size=64) | st.just(msgpack.packb(frame).decode("latin-1")))
    elif kind == "oversized":  # over max_frame_bytes: error frame_too_large, bye, close 1009
        frame["pad"] = "x" * 70_000
    elif kind == "oversized_far":  # over twice the limit: the transport closes 1009 by itself
        frame["pad"] = "x" * 300_000
    return kind, msgpack.packb(frame)


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


# -- the driver ---------------------------------------------------------------------------------
@dataclass
class Fuzzer:
    port: int
    ctx: Context
    sent: int = 0
    reconnects: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    ws: ClientConnection | None = None
    last: list[tuple[str, Any]] = field(default_factory=list)
    max_frame_bytes: int = 65_536
    recent_far: list[bool] = field(default_factory=list)  # the last two frames: far over the limit?

    def connect(self) -> None:
        self.ws = ws_open(self.port, self.ctx.token)
        welcome = self._decode(self.ws.recv(timeout=RECV_TIMEOUT))
        assert welcome["type"] == "welcome", welcome

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    @staticmethod
    def _decode(data: bytes | str) -> dict[str, Any]:
        assert isinstance(data, bytes), f"the server sent a text frame: {data!r}"
        try:
            msg = decode_server(data)
        except ProtocolError as exc:  # the server sent something the protocol does not document
            raise AssertionError(f"undocumented server frame {data[:200]!r}: {exc}") from None
        frame = msgpack.unpackb(data, raw=False)
        if frame["type"] == "error":
            assert frame["code"] in ERROR_CODES and ErrorCode(frame["code"]).wire_name == frame["name"], frame
            assert frame["code"] != ErrorCode.INTERNAL, f"internal error answered a fuzzed frame: {frame}"
        elif frame["type"] == "bye":
            assert frame["code"] in CLOSE_CODES, frame
        del msg
        return frame  # type: ignore[no-any-return]

    def feed(self, kind: str, payload: bytes | str) -> None:
        """Send one hostile frame, then a ping; check everything until its pong (or the close)."""
        if self.ws is None:
            self.connect()
        assert self.ws is not None
        self.kinds[kind] += 1
        self.sent += 1
        self.last.append((kind, payload[:100]))
        self.recent_far = self.recent_far[-1:] + [len(payload) > 2 * self.max_frame_bytes]
        del self.last[:-8]
        sentinel = next(SENTINEL_RIDS) % (2**31 - 1)
        try:
            self.ws.send(payload)
            self.ws.send(msgpack.packb({"type": "ping", "rid": sentinel}))
            deadline = time.monotonic() + RECV_TIMEOUT
            while True:
                left = deadline - time.monotonic()
                assert left > 0, f"no pong within {RECV_TIMEOUT}s after a {kind} frame"
                frame = self._decode(self.ws.recv(timeout=left))
                self.replies[frame["type"] if frame["type"] != "error" else f"error:{frame['name']}"] += 1
                if frame["type"] == "pong" and frame.get("rid") == sentinel:
                    return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            if code == 1006 and any(self.recent_far):
                # aiohttp refuses a far-oversized frame (> 2 × max_frame_bytes) by closing 1009 and
                # dropping the connection with the rest of the frame unread, so the kernel may
                # reset it before the client reads the close frame (docs/operations.md).
                code = 1009
            assert code in CLOSE_CODES, \
                f"undocumented close code {code} after a {kind} frame {payload[:300]!r}; before: {self.last!r}"
            self.closes[code] += 1
            self.reconnects += 1
            self.ws = None
        except TimeoutError:
            raise AssertionError(f"no pong within {RECV_TIMEOUT}s after a {kind} frame") from None


class Bystander:
    """Another user's connection, joined to its own world: must see nothing of the fuzzing."""

    def __init__(self, port: int, token: str, world_id: str) -> None:
        self.ws = ws_open(port, token)
        self.frames: list[dict[str, Any]] = []
        assert self._recv()["type"] == "welcome"
        self.ws.send(msgpack.packb({"type": "join", "rid": 1, "world_id": world_id}))
        joined = self._until(lambda f: f.get("rid") == 1)
        assert joined["type"] == "joined", joined
        self.seq = joined["seq"]
        if joined["mode"] == "snapshot":
            self._until(lambda f: f.get("type") == "snapshot" and f.get("last"))
        self.frames.clear()
        self.rids = itertools.count(10)

    def _recv(self) -> dict[str, Any]:
        frame = msgpack.unpackb(self.ws.recv(timeout=RECV_TIMEOUT), raw=False)
        self.frames.append(frame)
        return frame  # type: ignore[no-any-return]

    def _until(self, pred: Any) -> dict[str, Any]:
        while True:
            frame = self._recv()
            if pred(frame):
                return frame

    def ping(self) -> float:
        r = next(self.rids)
        t = time.perf_counter()
        self.ws.send(msgpack.packb({"type": "ping", "rid": r}))
        pong = self._until(lambda f: f.get("rid") == r)
        assert pong["type"] == "pong", pong
        return time.perf_counter() - t

    def unexpected(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") != "pong"]


def generate_world(port: int, token: str, prompt: str) -> str:
    ws = ws_open(port, token)
    try:
        assert msgpack.unpackb(ws.recv(timeout=RECV_TIMEOUT))["type"] == "welcome"
        ws.send(msgpack.packb({"type": "prompt", "rid": 1, "prompt": prompt, "max_instances": 10, "seed": 1}))
        while True:
            frame = msgpack.unpackb(ws.recv(timeout=RECV_TIMEOUT), raw=False)
            if frame.get("type") == "gen.done":
                return str(frame["world_id"])
            assert frame.get("type") != "error", frame
    finally:
        ws.close()
