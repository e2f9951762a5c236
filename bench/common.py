"""Shared helpers: server processes (ours and the baseline), /proc sampling, load processes,
tiny HTTP and WebSocket clients, percentiles, tables and JSON results.

Every number that the targets compare is read from the *server* process: CPU from
/proc/<pid>/stat (utime + stime of all its threads), memory from /proc/<pid>/status (VmRSS).
Load clients always run in other processes, so a slow client cannot flatter a result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import msgpack

# One way to start a server process and wait for it, shared with the tests (standard library only).
from tests.support.serve import free_port, healthy, stop, wait_started

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MP = mp.get_context("fork")  # load processes start fast and inherit nothing that runs

# Limits that would otherwise refuse a benchmark's load (they protect against abuse, not load).
OURS_ENV = {
    "IMMERSIVERSE_MAX_CONNECTIONS_PER_USER": "100000",
    "IMMERSIVERSE_MAX_CONNECTIONS_PER_IP": "100000",
    "IMMERSIVERSE_MSGS_PER_S": "1000000",
    "IMMERSIVERSE_MSGS_BURST": "1000000",
    "IMMERSIVERSE_PROMPTS_PER_MIN": "1000000",
    "IMMERSIVERSE_MAX_WORLDS_PER_USER": "1000000",
    "IMMERSIVERSE_AUTH_REQUESTS_PER_IP_PER_MIN": "1000000",
    "IMMERSIVERSE_AUTH_REQUESTS_PER_ACCOUNT_PER_MIN": "1000000",
    "IMMERSIVERSE_MAX_GENERATIONS_PER_USER": "1000000",
    "IMMERSIVERSE_MAX_STORED_BYTES_PER_USER": "1000000000000",
    "IMMERSIVERSE_MAX_PENDING_INSTANCES_PER_USER": "1000000000",
    "IMMERSIVERSE_LOG_LEVEL": "WARNING",
    "IMMERSIVERSE_IDLE_TIMEOUT_S": "600",
    # every load client connects from 127.0.0.1; telemetry load comes from few users
    "IMMERSIVERSE_HTTP_MAX_CONNECTIONS_PER_IP": "0",
    "IMMERSIVERSE_TELEMETRY_EVENTS_PER_USER_MIN": "0",
    "IMMERSIVERSE_TELEMETRY_BYTES_PER_USER_MIN": "0",
}


# -- processes ----------------------------------------------------------------------------------
def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    """A server subprocess on 127.0.0.1 with /proc readers for its CPU and memory."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], port: int, tmp: str) -> None:
        self.name, self.port, self.tmp = name, port, tmp
        self.log = open(Path(tmp) / f"{name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        self.pid = self.proc.pid
        wait_started(self.proc, lambda: healthy(self.url), self.tail, timeout=30)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws"

    def tail(self) -> str:
        self.log.flush()
        return (Path(self.log.name).read_bytes()[-3000:]).decode(errors="replace")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the whole server process (all threads) and of its
        child processes (generation workers: `generation_processes`)."""
        return sum(_cpu_s(pid) for pid in (self.pid, *_children(self.pid)))

    def main_cpu_s(self) -> float:
        """The server process's alone (the event loop's, its threads')."""
        return _cpu_s(self.pid)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def __enter__(self) -> Server:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:  # stopping because the figure failed: show why
            print(f"--- {self.name} server log (tail) ---\n{self.tail()}", file=sys.stderr)
        self.stop()

    def stop(self) -> None:
        stop(self.proc, grace=5)
        self.log.close()


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_s(pid: int) -> float:
    try:
        fields = _stat(pid)
    except OSError:  # gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:  # ppid (field 4)
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def start_ours(tmp: str, **settings: Any) -> Server:
    port = free_port()
    env = {**OURS_ENV, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/ours.db"}
    env.update({f"IMMERSIVERSE_{k.upper()}": str(v) for k, v in settings.items()})
    exe = str(Path(sys.executable).with_name("immersiverse"))
    cmd = [exe, "serve", "--port", str(port)] if os.path.exists(exe) else \
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    if out := os.environ.get("BENCH_CPROFILE"):  # DIR: cProfile the server, written when it stops (SIGTERM)
        Path(out).mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "cProfile", "-o", f"{out}/{os.environ.get('BENCH_FIGURE', 'ours')}-{port}.prof",
               "-m", "server.cli", "serve", "--port", str(port)]
    server = Server("ours", cmd, env, port, tmp)
    _maybe_profile(server)
    return server


def _maybe_profile(server: Server) -> None:
    """BENCH_PYSPY=DIR: sample the server with py-spy (if installed) into DIR/<figure>-<pid>.txt
    (collapsed stacks, idle frames excluded) until it exits. For finding bottlenecks only.
    BENCH_PYSPY_ARGS adds py-spy options, e.g. "--gil" (only the thread holding the GIL)."""
    out = os.environ.get("BENCH_PYSPY")
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out and os.path.exists(spy):
        Path(out).mkdir(parents=True, exist_ok=True)
        figure = Path(sys.argv[0]).stem if sys.argv[0] else "bench"
        subprocess.Popen([spy, "record", "-p", str(server.pid), "-r", "250", "--format", "raw", "-t",
                          "-o", f"{out}/{os.environ.get('BENCH_FIGURE', figure)}-{server.pid}.txt",
                          *os.environ.get("BENCH_PYSPY_ARGS", "").split()],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_baseline(tmp: str, *args: str) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.baseline", "--port", str(port), "--db", f"{tmp}/baseline.db", *args]
    return Server("baseline", cmd, {}, port, tmp)


@contextlib.contextmanager
def tempdir() -> Any:
    path = tempfile.mkdtemp(prefix="imv-bench-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Meter:
    """Server CPU and wall time over a `with` block."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cpu = self.wall = 0.0

    def __enter__(self) -> Meter:
        self._c0, self._t0 = self.server.cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cpu = self.server.cpu_s() - self._c0
        self.wall = time.perf_counter() - self._t0


def spawn(target: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> tuple[list[Any], Any]:
    """Start one load process per args tuple; each gets (queue, *args). Returns (processes, queue)."""
    q = MP.Queue()
    procs = [MP.Process(target=target, args=(q, *a), daemon=True) for a in args_list]
    for p in procs:
        p.start()
    return procs, q


def collect(q: Any, n: int, timeout: float) -> list[Any]:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"got {len(out)} of {n} load-process reports")
        item = q.get(timeout=left)
        if isinstance(item, dict) and "error" in item:
            raise RuntimeError(f"load process failed: {item['error']}")
        out.append(item)
    return out


def run_load(server: Server, target: Callable[..., Any], args_for: Callable[[Any], Sequence[tuple[Any, ...]]],
             seconds: float, ready_s: float = 60, slack_s: float = 120) -> tuple[list[Any], Meter]:
    """The shape every timed load shares: start the load processes (`args_for(start)` gives one
    args tuple each, carrying the `start` event), wait until each reports ready, then set `start`
    and collect their reports while the server's CPU is metered; the processes are always reaped."""
    start = MP.Event()
    args_list = args_for(start)
    ps, q = spawn(target, args_list)
    try:
        collect(q, len(args_list), ready_s)
        with Meter(server) as meter:
            start.set()
            reports = collect(q, len(args_list), seconds + slack_s)
    finally:
        reap(ps)
    return reports, meter


def reap(procs: Iterable[Any]) -> None:
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.terminate()
            p.join(2)


def run_async(coro_fn: Callable[..., Any], *args: Any) -> Any:
    raise_nofile()
    import uvloop

    return uvloop.run(coro_fn(*args))


def guard(q: Any, fn: Callable[..., Any], *args: Any) -> None:
    """Body of a load process: report an exception instead of hanging the parent."""
    try:
        fn(q, *args)
    except BaseException as exc:  # noqa: BLE001
        import traceback

        q.put({"error": f"{exc!r}\n{traceback.format_exc()[-1500:]}"})


# -- HTTP ---------------------------------------------------------------------------------------
def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def login(server: Server, user: str) -> str:
    status, body = http("POST", f"{server.url}/api/v1/auth/login", {"user_id": user})
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body[:200]!r}")
    return json.loads(body)["token"]


# -- WebSocket ----------------------------------------------------------------------------------
pack = msgpack.Packer(use_bin_type=True).pack


def unpack(data: bytes) -> dict[str, Any]:
    return msgpack.unpackb(data, raw=False)


def frame_type(data: bytes) -> str:
    """A server frame's `type` without decoding the frame: every frame (ours and the
    baseline's) is a map whose first entry is `type`, a short string."""
    if data[0] & 0xF0 == 0x80 and data[1:6] == b"\xa4type" and data[6] & 0xE0 == 0xA0:
        return data[7:7 + (data[6] & 0x1F)].decode()
    return str(unpack(data).get("type"))


async def ws_connect(url: str, token: str | None, local_ip: str = HOST) -> Any:
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Bearer {token}"} if token else None
    return await connect(url, additional_headers=headers, max_size=64 * 2**20, compression=None,
                         ping_interval=None, open_timeout=60, close_timeout=2,
                         local_addr=(local_ip, 0), max_queue=None)


async def recv_until(ws: Any, pred: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = unpack(await ws.recv())
            if msg.get("type") == "error":
                raise RuntimeError(f"server error frame: {msg}")
            if pred(msg):
                return msg
    return await asyncio.wait_for(loop(), timeout)


class RawWS(asyncio.Protocol):
    """A minimal WebSocket client for receive-heavy load (fan-out members): binary frames only,
    no per-frame task or queue, so client CPU per frame stays a few microseconds and latencies
    reflect the server rather than the load client. `on_frame(payload, t_received)` is called
    for each binary message; pings are answered; see `listen`."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.early: list[tuple[bytes, float]] = []  # frames that came with the 101 response
        self.on_frame: Callable[[bytes, float], None] = lambda d, t: self.early.append((d, t))
        self.handshake = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(cls, port: int, token: str | None, local_ip: str = HOST) -> RawWS:
        import base64

        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(cls, HOST, port, local_addr=(local_ip, 0))
        key = base64.b64encode(os.urandom(16)).decode()
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        proto.transport.write((f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                               f"Sec-WebSocket-Version: 13\r\n{auth}\r\n").encode())
        await asyncio.wait_for(proto.handshake, 60)
        return proto

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during handshake"))

    def listen(self, on_frame: Callable[[bytes, float], None]) -> None:
        """Deliver binary messages to `on_frame` from now on (and any that arrived before)."""
        self.on_frame = on_frame
        early, self.early = self.early, []
        for d, t in early:
            on_frame(d, t)

    def _write(self, opcode: int, payload: bytes) -> None:
        n = len(payload)  # client frames are masked; a zero key leaves the payload as is
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else
                                          bytes([0x80 | 126]) + n.to_bytes(2, "big") if n < 65536 else
                                          bytes([0x80 | 127]) + n.to_bytes(8, "big"))
        self.transport.write(head + b"\0\0\0\0" + payload)

    def send(self, data: bytes) -> None:
        self._write(0x2, data)

    def close(self) -> None:
        self._write(0x8, (1000).to_bytes(2, "big"))
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter()
        buf = self.buf
        buf += data
        if not self.handshake.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.handshake.set_exception(ConnectionError(bytes(buf[:200]).decode(errors="replace")))
                return
            del buf[:end + 4]
            self.handshake.set_result(None)
        pos = 0
        while len(buf) - pos >= 2:
            opcode, n = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if len(buf) - pos < head + n:
                break
            payload = bytes(buf[pos + head:pos + head + n])
            pos += head + n
            if opcode == 0x2:
                self.on_frame(payload, t)
            elif opcode == 0x9:
                self._write(0xA, payload)
            elif opcode == 0x8:
                self.transport.close()
        del buf[:pos]


def source_ip(i: int) -> str:
    """Spread client sockets over 127.0.0.x so ephemeral ports never run short."""
    return f"127.0.0.{1 + i % 8}"


# -- numbers and output ----------------------------------------------------------------------------
def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def ratio(ours: float, base: float) -> float:
    return round(ours / base, 2) if base else float("inf")


def machine() -> dict[str, Any]:
    model = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": os.getloadavg()}


def report(name: str, title: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    """Print a table of `rows` and write bench/results/<name>.json."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print(f"\n== {title}")
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    for k, v in extra.items():
        if k not in ("machine",):
            print(f"  {k}: {v}")
    out = {"figure": name, "title": title, "rows": rows, **extra, "machine": machine(),
           "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "-" if v is None else str(v)


# -- prompt clients (time to first instance, streaming) -----------------------------------------------
PROMPTS = ["a misty pine forest with a ruined tower", "a small village with three towers around a lake",
           "futuristic space station with alien technology", "a busy downtown with skyscrapers and taxis"]


def prompters(q: Any, url: str, token: str | Sequence[str] | None, clients: int, parallel: int, seconds: float,
              max_instances: int, start: Any, interval: float = 0.0) -> None:
    """Load process: `clients` sockets, each keeping `parallel` prompts running until `seconds`
    have passed after `start` is set; with `interval`, a client sends its next prompt no sooner
    than `interval` seconds after its previous one (a user who looks at the world first).
    `token` is every client's, or one per client (client i uses token[i]: its own user).
    Reports first-chunk latencies and instances received."""
    guard(q, lambda q: run_async(_prompters, q, url, token, clients, parallel, seconds, max_instances, start,
                                 interval))


async def _prompters(q: Any, url: str, token: str | Sequence[str] | None, clients: int, parallel: int,
                     seconds: float, max_instances: int, start: Any, interval: float = 0.0) -> None:
    socks = []
    for i in range(clients):
        ws = await ws_connect(url, token if token is None or isinstance(token, str) else token[i], source_ip(i))
        await recv_until(ws, lambda m: m.get("type") == "welcome")
        socks.append(ws)
    q.put({"ready": clients})
    while not start.is_set():
        await asyncio.sleep(0.005)
    stop_at = time.perf_counter() + seconds
    first: list[float] = []
    total: list[float] = []
    counts = {"instances": 0, "chunks": 0, "chunk_bytes": 0, "prompts": 0, "errors": 0}

    async def client(i: int, ws: Any) -> None:
        sent: dict[int, float] = {}
        sent_at: dict[int, float] = {}
        got_first: set[int] = set()
        rid = 0
        if interval:  # spread the clients' first prompts over one interval
            await asyncio.sleep(interval * i / max(1, clients))

        async def send() -> None:
            nonlocal rid
            rid += 1
            sent[rid] = sent_at[rid] = time.perf_counter()
            await ws.send(pack({"type": "prompt", "rid": rid, "prompt": PROMPTS[(i + rid) % len(PROMPTS)],
                                "seed": i * 1000 + rid, "max_instances": max_instances}))
        for _ in range(parallel):
            await send()
        while sent:
            data = await ws.recv()
            t = time.perf_counter()
            if b"gen.chunk" in data[:24]:
                counts["chunks"] += 1
                counts["chunk_bytes"] += len(data)
                r = chunk_rid(data) if len(got_first) < len(sent) else None
                if r in sent and r not in got_first:
                    got_first.add(r)
                    first.append(t - sent[r])
                continue
            msg = unpack(data)
            if msg.get("type") == "gen.done":
                r = msg["rid"]
                counts["instances"] += msg["instances"]
                counts["prompts"] += 1
                total.append(t - sent.pop(r))
                got_first.discard(r)
                if interval:  # paced: wait out the rest of this prompt's interval (jittered start)
                    await asyncio.sleep(max(0.0, interval - (time.perf_counter() - sent_at[r])))
                if time.perf_counter() < stop_at:
                    await send()
            elif msg.get("type") == "error":
                counts["errors"] += 1
                sent.pop(msg.get("rid"), None)
                if counts["errors"] < 3:
                    print("prompt refused:", msg, flush=True)
    await asyncio.gather(*(client(i, ws) for i, ws in enumerate(socks)))
    q.put({"first": first, "total": total, **counts})
    await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)


def chunk_rid(data: bytes) -> int:
    """The rid of a gen.chunk frame without decoding its instances (`type` and `rid` come first)."""
    u = msgpack.Unpacker(raw=False)
    u.feed(data[:64])
    u.read_map_header()
    fields = {u.unpack(): u.unpack() for _ in range(2)}
    return fields["rid"]


def run_prompters(server: Server, token: str | Sequence[str] | None, procs: int, clients: int, parallel: int,
                  seconds: float, max_instances: int, interval: float = 0.0) -> tuple[dict[str, Any], Meter]:
    """`procs` load processes of `clients` prompters each; `token` is every client's, or one per
    client over all processes (`procs * clients` tokens: a user per client)."""
    def token_of(p: int) -> str | Sequence[str] | None:
        return token if token is None or isinstance(token, str) else token[p * clients:(p + 1) * clients]

    reports, meter = run_load(server, prompters, lambda start: [
        (server.ws_url, token_of(p), clients, parallel, seconds, max_instances, start, interval)
        for p in range(procs)], seconds)
    merged: dict[str, Any] = {"first": [], "total": []}
    for r in reports:
        for k, v in r.items():
            merged[k] = merged.get(k, 0) + v if not isinstance(v, list) else merged[k] + v
    return merged, meter


def cli(run: Callable[[bool], Any]) -> None:
    """`python -m bench.<figure> [--smoke]`: one figure from the command line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the figure runs")
    run(ap.parse_args().smoke)
