"""Every TCP connection is bounded: in time before its headers, in number per client address and
in all, and it may begin with a PROXY protocol header from a trusted proxy.

aiohttp waits for a request's headers without limit by default (its keep-alive timer is an hour),
and accepts every connection until the process runs out of descriptors: one address holding
thousands of silent connections made `/health` fail (issue 15, finding 3). Here:

- a new connection that has not sent a complete request head within `http_header_timeout_s` is
  closed; an idle keep-alive connection, after `http_keepalive_timeout_s` (aiohttp's own timer);
- at `http_max_connections_per_ip` connections from one client address, a new one closes that
  address's oldest idle connection (waiting for a request) to make room, or is itself closed
  when none is idle; the same at `http_max_connections` in all, which defaults to the
  descriptor limit minus a reserve, so the server never reaches EMFILE and new clients (and
  `/health`) get in at the expense of idle connections;
- with `proxy_protocol`, a connection from a trusted proxy starts with a PROXY v1/v2 header
  (server/proxy.py) whose address becomes the peer: per-IP caps and `request.remote` see the
  client. Trusted proxies themselves are not capped per address.

The handler subclasses aiohttp's RequestHandler; what it reads of aiohttp's private state
(waiting for the next request, the request count, the Server's handler arguments, the Server an
AppRunner made) goes through server/aiohttp_io.py, the one module that touches aiohttp's
internals; tests/security/test_connections.py breaks if their behaviour changes.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from aiohttp import web

from .aiohttp_io import GuardedHandlerBase, HookedRunner, handler_args
from .config import Settings
from .metrics import Metrics
from .node import NODE
from .proxy import ProxyHeaderError, TrustedProxies, parse_proxy_header

log = logging.getLogger("immersiverse.connections")

_SCAN = 1024  # connections looked at for an idle one to close: bounded work per new connection
_PROXY_HEADER_MAX = 4096  # a v2 header with TLVs; HAProxy's are far smaller
_LOG_EVERY_S = 10.0


def descriptor_budget() -> int:
    """Connections the process can hold: its descriptor limit minus a reserve for the store,
    the broker, log files and accepting `/health` (a tenth, at least 64)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(16, soft - max(64, soft // 10))


def raise_descriptor_limit() -> int:
    """Raise the soft descriptor limit to the hard one (systemd and Docker often set a low soft
    limit); the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            log.warning("could not raise the descriptor limit from %d to %d", soft, hard)
    return soft


class ConnectionGuard:
    """The open connections, oldest request first, in all and per client address."""

    def __init__(self, settings: Settings, proxies: TrustedProxies) -> None:
        self.header_timeout_s = settings.http_header_timeout_s
        self.per_ip = settings.http_max_connections_per_ip
        self.total = settings.http_max_connections or descriptor_budget()
        self.proxies = proxies
        self.proxy_protocol = settings.proxy_protocol and bool(proxies)
        self._all: dict[GuardedHandler, None] = {}
        self._by_ip: dict[str, dict[GuardedHandler, None]] = {}
        self.closed_idle = 0  # idle connections closed to make room
        self.refused = 0  # new connections closed at a cap with nothing idle to close
        self.metrics: Metrics | None = None  # set once the app has started
        self._logged_at = 0.0

    @property
    def open(self) -> int:
        return len(self._all)

    def admit(self, conn: GuardedHandler) -> bool:
        """A new connection: room under the total cap, by closing an idle one if need be."""
        if len(self._all) >= self.total and not self._close_idle(self._all, "in all"):
            return self._refuse("in all")
        self._all[conn] = None
        return True

    def admit_address(self, conn: GuardedHandler, ip: str | None) -> bool:
        """The connection's client address is known: room under the per-address cap."""
        if not ip or not self.per_ip or self.proxies.trusts(ip):
            return True
        conns = self._by_ip.setdefault(ip, {})
        if len(conns) >= self.per_ip and not self._close_idle(conns, f"from {ip}"):
            return self._refuse(f"from {ip}")
        conns[conn] = None
        conn.address = ip
        return True

    def busy(self, conn: GuardedHandler) -> None:
        """A request began: this connection is the least likely to be idle, so it goes last."""
        for table in (self._all, self._by_ip.get(conn.address or "")):
            if table is not None and table.pop(conn, 0) is None:
                table[conn] = None

    def release(self, conn: GuardedHandler) -> None:
        self._all.pop(conn, None)
        if conn.address is not None:
            conns = self._by_ip.get(conn.address)
            if conns is not None:
                conns.pop(conn, None)
                if not conns:
                    del self._by_ip[conn.address]

    def _close_idle(self, conns: dict[GuardedHandler, None], where: str) -> bool:
        for i, other in enumerate(conns):
            if i >= _SCAN:
                break
            if other.idle:
                self.release(other)
                other.force_close()
                self.closed_idle += 1
                self.count_close("idle_at_cap")
                self._log(f"connection cap reached {where}: closed the oldest idle connection")
                return True
        return False

    def _refuse(self, where: str) -> bool:
        self.refused += 1
        self.count_close("refused_at_cap")
        self._log(f"connection cap reached {where} and no connection is idle: refused a new one")
        return False

    def count_close(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.http_closed.labels(reason).inc()

    def _log(self, what: str) -> None:
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY_S:
            self._logged_at = now
            log.warning("%s (so far: %d idle closed, %d refused)", what, self.closed_idle, self.refused)


class GuardedHandler(GuardedHandlerBase):
    """aiohttp's per-connection protocol, with the guard's admission, header deadline and
    PROXY header (see the module docstring)."""

    def __init__(self, manager: web.Server, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self.address: str | None = None  # the client address counted for the per-IP cap
        self._client: str | None = None  # from a PROXY header
        self._proxy_buf: bytes | None = None  # bytes of a PROXY header still incomplete
        self._deadline: asyncio.TimerHandle | None = None
        self._peer: Any = None  # the transport's peername, read once (every request asks for it)

    @property
    def idle(self) -> bool:
        """Waiting for a request (or for its PROXY header): nothing is lost by closing it."""
        return self._proxy_buf is not None or self.waiting_for_request

    @property  # a plain property over aiohttp's cached one
    def peername(self) -> Any:
        if self._client is not None:
            return (self._client, 0)
        return None if self.transport is None else self._peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        guard = self._guard
        if not guard.admit(self):
            self.force_close()
            return
        peer = self._peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) else None
        if guard.proxy_protocol and guard.proxies.trusts(host):
            self._proxy_buf = b""
        elif not guard.admit_address(self, host):
            self.force_close()
            return
        self._deadline = self.event_loop.call_later(guard.header_timeout_s, self._header_deadline)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._guard.release(self)
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._proxy_buf is not None:
            data = self._read_proxy_header(data)
            if not data:
                return
        count = self.requests_started
        super().data_received(data)
        if self.requests_started != count:
            self._guard.busy(self)
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

    def _read_proxy_header(self, data: bytes) -> bytes:
        """Consume the PROXY header; what follows it (HTTP bytes), or b"" (wait / closed)."""
        assert self._proxy_buf is not None
        buf = self._proxy_buf + data
        try:
            parsed = parse_proxy_header(buf)
        except ProxyHeaderError as exc:
            log.info("closing a connection from a trusted proxy: %s", exc)
            self.force_close()
            return b""
        if parsed is None:
            if len(buf) > _PROXY_HEADER_MAX:
                self.force_close()
                return b""
            self._proxy_buf = buf
            return b""
        used, client = parsed
        self._proxy_buf = None
        if client is not None:
            self._client = client
        if not self._guard.admit_address(self, client):
            self.force_close()
            return b""
        return buf[used:]

    def _header_deadline(self) -> None:
        """No complete request head in time (slowloris, or a silent connection)."""
        self._deadline = None
        if self.requests_started == 0 and self.transport is not None:
            self._guard.count_close("header_timeout")
            self.force_close()


class GuardedServer(web.Server):
    """web.Server whose connections are GuardedHandlers."""

    guard: ConnectionGuard

    def __call__(self) -> GuardedHandler:
        loop, kwargs = handler_args(self)
        return GuardedHandler(self, self.guard, loop=loop, **kwargs)


class GuardedRunner(HookedRunner):
    """AppRunner for `immersiverse serve`: aiohttp's keep-alive timeout from the settings, and
    the guard on every connection."""

    def __init__(self, app: web.Application, settings: Settings, proxies: TrustedProxies,
                 **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=settings.http_keepalive_timeout_s, **kwargs)
        self.guard = ConnectionGuard(settings, proxies)

    def server_made(self, server: web.Server) -> web.Server:
        # Same object and state, our class: the Server was built by the app (_make_handler).
        server.__class__ = GuardedServer
        assert isinstance(server, GuardedServer)
        server.guard = self.guard
        # the app has started: its services exist (server/app.py samples the open count)
        node = self.app[NODE]
        self.guard.metrics = node.metrics
        node.connections = self.guard
        return server
