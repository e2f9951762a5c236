"""The client's address behind trusted proxies: `X-Forwarded-For` and the PROXY protocol.

Behind a load balancer every connection comes from the balancer, so per-IP limits and logs
would see one address for everyone (issue 15, finding 6). Two ways to learn the client,
both only from proxies listed in `trusted_proxies` (anyone else could claim any address):

- `X-Forwarded-For`: read right to left, skipping trusted proxies; the first address that is
  not one is the client (a client may write anything at the left end of the header).
- PROXY protocol v1 (text) and v2 (binary), as HAProxy's `send-proxy` / `send-proxy-v2`
  send it (deploy/haproxy.cfg): a header before the first HTTP byte names the client. The
  parser here is pure; `server/connections.py` feeds it the connection's first bytes.

Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt (§2.1 v1, §2.2 v2).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V1_PREFIX = b"PROXY "
_V1_MAX = 107  # the longest v1 line, CRLF included (§2.1)
_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_FIXED = 16  # signature, version/command, family, length


class ProxyHeaderError(ValueError):
    """The bytes are not a valid PROXY protocol header; the connection is closed."""


class TrustedProxies:
    """The networks whose forwarding headers are believed."""

    __slots__ = ("_networks", "_seen")

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        self._networks = tuple(networks)
        self._seen: dict[str, bool] = {}

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """From the `trusted_proxies` setting: comma-separated addresses or CIDR networks."""
        return cls(ipaddress.ip_network(item.strip(), strict=False) for item in text.split(",") if item.strip())

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, host: str | None) -> bool:
        if not self._networks or not host:
            return False
        known = self._seen.get(host)
        if known is None:
            try:
                addr = ipaddress.ip_address(host)
            except ValueError:
                return False
            if len(self._seen) >= 4096:  # every peer and hop passes here: bounded, not a client table
                self._seen.clear()
            known = self._seen[host] = any(addr in net for net in self._networks)
        return known

    def client(self, peer: str | None, forwarded_for: Iterable[str]) -> str | None:
        """The client's address for a request from `peer` carrying these `X-Forwarded-For`
        header values: `peer` itself unless it is trusted; then the rightmost hop that is not
        a trusted proxy. A malformed hop ends the walk at the last address we could vouch for."""
        if not self.trusts(peer):
            return peer
        client = peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            try:
                client = str(ipaddress.ip_address(hop))
            except ValueError:
                break
            if not self.trusts(client):
                break
        return client


def parse_proxy_header(buf: bytes) -> tuple[int, str | None] | None:
    """A PROXY header at the start of `buf`: (bytes it takes, client address) once complete;
    the address is None for a proxy's own connection (v1 UNKNOWN, v2 LOCAL, e.g. health checks).
    None while `buf` may still grow into a header; ProxyHeaderError when it cannot."""
    if buf[:1] == b"P":
        return _parse_v1(buf)
    if buf[:1] == b"\r":
        return _parse_v2(buf)
    if buf:
        raise ProxyHeaderError("connection did not start with a PROXY protocol header")
    return None


def _parse_v1(buf: bytes) -> tuple[int, str | None] | None:
    if not buf.startswith(_V1_PREFIX[:len(buf)]):
        raise ProxyHeaderError("not a PROXY v1 header")
    end = buf.find(b"\r\n", 0, _V1_MAX)
    if end < 0:
        if len(buf) >= _V1_MAX:
            raise ProxyHeaderError("PROXY v1 header longer than 107 bytes")
        return None
    parts = buf[:end].decode("ascii", "replace").split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return end + 2, None
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("malformed PROXY v1 header")
    try:
        addr = ipaddress.ip_address(parts[2])
    except ValueError:
        raise ProxyHeaderError("malformed PROXY v1 source address") from None
    if addr.version != (4 if parts[1] == "TCP4" else 6):
        raise ProxyHeaderError("PROXY v1 address does not match its family")
    return end + 2, str(addr)


def _parse_v2(buf: bytes) -> tuple[int, str | None] | None:
    if not buf.startswith(_V2_SIGNATURE[:len(buf)]):
        raise ProxyHeaderError("not a PROXY v2 header")
    if len(buf) < _V2_FIXED:
        return None
    ver_cmd, family, length = struct.unpack_from("!BBH", buf, 12)
    if ver_cmd >> 4 != 2 or ver_cmd & 0x0F > 1:
        raise ProxyHeaderError("unsupported PROXY v2 version or command")
    total = _V2_FIXED + length
    if len(buf) < total:
        return None
    if ver_cmd & 0x0F == 0:  # LOCAL: the proxy's own connection; the address block is ignored
        return total, None
    body = buf[_V2_FIXED:total]
    if family >> 4 == 1 and len(body) >= 12:  # AF_INET (stream or datagram)
        return total, str(ipaddress.IPv4Address(body[:4]))
    if family >> 4 == 2 and len(body) >= 36:  # AF_INET6
        return total, str(ipaddress.IPv6Address(body[:16]))
    if family >> 4 == 0:  # AF_UNSPEC: nothing to learn
        return total, None
    raise ProxyHeaderError("unsupported PROXY v2 address family")
