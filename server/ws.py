"""GET /ws: upgrade, connection limits, then hand the socket to a Session.

Refusals after the upgrade (bad token, limits) are a `bye` frame and a documented close
code rather than an HTTP status, because browsers' WebSocket API only shows close codes
(docs/protocol.md §4).
"""

from __future__ import annotations

import logging

from aiohttp import web

from protocol.codec import encode
from protocol.codes import CloseCode
from protocol.errors import bye

from . import logs
from .context import SERVICES
from .cors import ws_origin_allowed
from .handlers import SESSION_HANDLERS
from .http import bearer_token, json_response
from .node import NODE
from .session import Session

log = logging.getLogger("immersiverse.session")
routes = web.RouteTableDef()


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    settings = services.settings
    node = request.app[NODE]
    if node.draining:
        return json_response({"success": False, "error": "draining", "message": "server is draining"},
                             status=503, headers={"Retry-After": "1"})
    if not ws_origin_allowed(settings, request):
        # Before the upgrade: a page from an unlisted site gets no socket (docs/operations.md, ws_origins).
        return json_response({"success": False, "error": "forbidden",
                              "message": "this origin may not open a session (ws_origins)"}, status=403)
    registry, hub = node.registry, node.hub
    # aiohttp closes with 1009 itself past max_msg_size; frames between the configured
    # limit and twice it get our error frame first (protocol/codec.py checks the limit).
    # Pings, pongs and their deadlines are the session's (server/liveness.py), so that a
    # peer that stops answering gets `bye` + 4000 rather than aiohttp's bare 1006.
    ws = web.WebSocketResponse(heartbeat=None, max_msg_size=2 * settings.max_frame_bytes,
                               autoping=False, compress=False)
    await ws.prepare(request)
    ip = request.remote or "unknown"
    if registry.ip_full(ip):
        await ws.send_bytes(encode(bye(CloseCode.CONNECTION_LIMIT, "too many connections from this address",
                                       retry_after_s=5.0)))
        await ws.close(code=int(CloseCode.CONNECTION_LIMIT), message=b"connection_limit")
        return ws
    registry.add_ip(ip)
    hub.metrics.sessions.inc()
    try:
        session = Session(node, ws, request, SESSION_HANDLERS)
        logs.SESSION_ID.set(session.id)  # every log line of this session carries it (server/logs.py)
        await session.run(bearer_token(request))
        # The code sent when this server closed (ws.close_code is the peer's answer then).
        code = int(session.close_code) if session.close_code is not None else ws.close_code
        log.info("session closed: user %s, %d frames in, close %s", session.ident.user_id if session.ident
                 else "-", session.frames_seen, code)
    finally:
        registry.remove_ip(ip)
        hub.metrics.sessions.dec()
    return ws
