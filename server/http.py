"""REST plumbing: request ids, errors as JSON (server/frame.py applies them), JSON in and out, bearer auth."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from . import logs
from .auth import AuthError, Identity
from .context import SERVICES
from .errors import ApiError, bad_request, unauthorized
from .failures import HTTP_ERROR_CODES, api_error, refused_token
from .proxy import TrustedProxies

log = logging.getLogger("immersiverse.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)

# A request's id when the client sent none: a random per-process prefix and a counter, 16 hex
# digits like the random ids before (secrets.token_hex per request was 2 % of a cached catalog
# read). Unique across nodes and restarts; not a secret (a client may send any id it likes).
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


class ClientGone(Exception):
    """The client closed the connection before its request body arrived: nothing to answer,
    and not our failure, so no ERROR and no traceback (issue 15, finding 11)."""


def client_address(request: web.Request) -> web.Request:
    """The request as seen from the client named by `X-Forwarded-For` when the peer is a trusted
    proxy (server/proxy.py); every per-IP limit, log line and handler then uses that address.
    With `proxy_protocol` the PROXY header has set the peer already (server/connections.py) and
    the header is not read: one source of truth per deployment. Applied only when it can change
    something (server/frame.py)."""
    proxies = request.app[TRUSTED_PROXIES]
    if proxies and not request.app[SERVICES].settings.proxy_protocol and proxies.trusts(request.remote):
        client = proxies.client(request.remote, request.headers.getall("X-Forwarded-For", ()))
        if client is not None and client != request.remote:
            return request.clone(remote=client)
    return request


def json_body(data: Any) -> bytes:
    """Compact JSON. orjson (a tenth of the stdlib's time on a 500-instance world) for what it
    can encode; the stdlib for the rest (ints beyond 64 bits), which also refuses NaN/Infinity."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json_body(data), status=status, content_type="application/json", headers=headers)


def error_response(err: ApiError, request_id: str) -> web.Response:
    headers = {"X-Request-Id": request_id, **err.headers}
    return json_response(err.body(), status=err.status, headers=headers)


def request_id_of(request: web.Request) -> str:
    """The client's X-Request-Id (64 characters at most), or a new one; every log line of the
    request carries it (server/logs.py)."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or new_request_id()
    logs.REQUEST_ID.set(request_id)
    return request_id


def error_answer(exc: Exception, request: web.Request, request_id: str) -> web.Response:
    """A handler's failure as a JSON error body; a bug is a 500 that leaks nothing. Re-raises an
    HTTPException below 400 (a redirect), which aiohttp sends as it is."""
    if isinstance(exc, ApiError):
        return error_response(exc, request_id)
    if isinstance(exc, ClientGone):
        log.info("client closed the connection during %s %s request_id=%s", request.method, request.path, request_id)
        return error_response(bad_request("request body not received"), request_id)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        code = HTTP_ERROR_CODES.get(exc.status, "http_error")
        message, details = exc.reason, None
        if exc.status == 404:
            message = f"no route for {request.method} {request.path}; the REST API is listed at /docs"
            details = {"docs": "/docs", "openapi": "/api/v1/openapi.json", "routes": route_prefixes(request.app)}
        if exc.status == 413:
            limit = request.app[SERVICES].settings.max_body_bytes
            message = f"request body exceeds {limit} bytes"
        error = ApiError(exc.status, code, message, details)
        if exc.status == 405 and "Allow" in exc.headers:
            error.headers["Allow"] = exc.headers["Allow"]
        return error_response(error, request_id)
    if isinstance(exc, ConnectionResetError):
        if request.transport is None or request.transport.is_closing():
            # The client went away mid-request (an aborted upload): nothing to answer, no fault of ours.
            log.info("client closed the connection during %s %s request_id=%s", request.method, request.path,
                     request_id)
            return error_response(ApiError(400, "bad_request", "connection closed by the client"), request_id)
        log.exception("unhandled error in %s %s request_id=%s", request.method, request.path, request_id)
        return error_response(ApiError(500, "internal_error", f"internal server error (request id {request_id})"),
                              request_id)
    # The one table (server/failures.py): a limit 429, a refused token 401, a store outage 503.
    if (refused := api_error(exc, request.app[SERVICES].settings.store_retry_after_s)) is not None:
        return error_response(refused, request_id)
    log.exception("unhandled error in %s %s request_id=%s", request.method, request.path, request_id)
    error = ApiError(500, "internal_error", f"internal server error (request id {request_id})")
    return error_response(error, request_id)


def route_prefixes(app: web.Application) -> str:
    """The app's route prefixes ("/api/v1/auth, /api/v1/worlds, ..., /ws"): the hint a 404 gives."""
    prefixes: dict[str, None] = {}
    for resource in app.router.resources():
        parts = resource.canonical.split("/")
        depth = 4 if resource.canonical.startswith("/api/v1/") else 2
        prefixes["/".join(parts[:depth]).split("{")[0].rstrip("/") or "/"] = None
    return ", ".join(prefixes)


async def read_json(request: web.Request) -> Any:
    """The parsed body: 413 past the limit (aiohttp's client_max_size), 400 if not JSON, 408
    when it takes longer than `http_body_timeout_s` to arrive (a slow sender holds a
    connection and a task)."""
    timeout = request.app[SERVICES].settings.http_body_timeout_s
    try:
        async with asyncio.timeout(timeout):
            raw = await request.read()
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"request body not received within {timeout:g} s",
                       headers={"Connection": "close"}) from None
    except (web.RequestPayloadError, ConnectionResetError):
        raise ClientGone from None
    if not raw:
        raise bad_request("request body must be JSON")
    try:
        return json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise bad_request("malformed JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed JSON: {exc}") from None


def _not_json(name: str) -> Any:
    # NaN and Infinity are not JSON; stored, they would break every later read (allow_nan=False).
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:32]} is out of range")
    return value


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def identity(request: web.Request) -> Identity:
    """The caller's verified, unrevoked identity, or 401 (verified tokens are cached by
    TokenService.decode, so a second call in one request costs two dictionary reads)."""
    token = bearer_token(request)
    if token is None:
        raise unauthorized()
    services = request.app[SERVICES]
    try:
        ident = services.authenticate(token)
    except AuthError as exc:
        raise refused_token(exc) from None
    return ident
