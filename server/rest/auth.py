"""/api/v1/auth: guest and password login, register, validate, refresh, logout."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from persistence.clock import iso
from persistence.errors import Conflict

from ..auth import (
    Identity,
    guest_name,
    hash_password,
    new_device_secret,
    secret_digest,
    verify_password,
    verify_secret,
)
from ..config import guest_secret_required
from ..context import SERVICES, Services
from ..errors import ApiError, bad_request, conflict, forbidden, too_many, unauthorized
from ..http import identity, json_response, read_json
from ..logs import fingerprint
from ..validate import F, has_control, storable, validate

log = logging.getLogger("immersiverse.auth")

routes = web.RouteTableDef()
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")
REGISTER = (F("username", "str", min=3, max=64), F("password", "str", min=8, max=256),
            F("display_name", "str", required=False, min=1, max=128))


def _session_body(services: Services, user_id: str, token: str, ident: Identity,
                  display_name: str) -> dict[str, Any]:
    return {"success": True, "user_id": user_id, "public_id": services.public_id(user_id),
            "display_name": display_name, "session_id": ident.session_id, "token": token,
            "token_type": "bearer", "expires_at": iso(ident.expires_at), "created_at": iso(ident.issued_at)}


def _rate(services: Services, request: web.Request, account: str) -> None:
    """Every login path counts against its IP and its account id (server/auth.py AuthRate)."""
    wait = services.auth_rate.hit(request.remote, account)
    if wait:
        raise too_many("too many authentication requests; try again later", wait)


def _user_id(body: dict[str, Any]) -> str:
    user_id = body.get("user_id")
    # The seed answers a missing or empty user_id with 400 (rest-contract.md, Auth).
    if not isinstance(user_id, str) or not user_id.strip():
        raise bad_request("user_id is required", {"user_id": "must be a non-empty string"})
    if len(user_id) > 128:
        raise bad_request("user_id is too long", {"user_id": "must be at most 128 characters"})
    if not storable(user_id) or has_control(user_id):
        raise bad_request("user_id holds characters an id cannot hold",
                          {"user_id": "must be valid Unicode text without control characters"})
    return user_id


def _device_secret(body: dict[str, Any]) -> str | None:
    secret = body.get("device_secret")
    if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 128):
        raise bad_request("device_secret must be a string", {"device_secret": "must be a string of 1..128 characters"})
    return secret


async def _password_login(services: Services, request: web.Request, body: dict[str, Any]) -> web.Response:
    data = validate(body, (F("username", "str", min=1, max=64), F("password", "str", min=1, max=256)))
    _rate(services, request, data["username"])
    keys = (f"user:{data['username']}", f"ip:{request.remote}")
    wait = services.throttle.retry_after(*keys)
    if wait:
        raise too_many("too many failed logins; try again later", wait)
    user = await services.store.users.get(data["username"])
    if (user is None or user.kind != "password" or user.password_hash is None
            or not verify_password(data["password"], user.password_hash)):
        services.throttle.failed(*keys)
        # Never the name itself: users type passwords into the name field (issue 15, finding 12).
        log.warning("failed password login for username %s from %s", fingerprint(data["username"]), request.remote)
        raise unauthorized("invalid username or password", "invalid_credentials")
    await services.store.users.seen(user.id)
    token, ident = services.tokens.mint(user.id)
    return json_response(_session_body(services, user.id, token, ident, user.display_name))


async def _guest_login(services: Services, request: web.Request, body: dict[str, Any]) -> web.Response:
    """Guest/device login (docs/operations.md, Security settings: guest device secrets).

    The first login of an id creates the account and answers a `device_secret`, shown this
    once; a later login of that id presents it, and must when `guest_secret_required` is on.
    Without it, knowing a guest's id would be enough to become that guest."""
    user_id = _user_id(body)
    presented = _device_secret(body)
    if not services.settings.guest_login:
        raise forbidden("guest login is disabled; log in with username and password")
    _rate(services, request, user_id)
    keys = (f"user:{user_id}", f"ip:{request.remote}")
    wait = services.throttle.retry_after(*keys)
    if wait:
        raise too_many("too many failed logins; try again later", wait)
    users = services.store.users
    issued: str | None = None
    user = await users.get(user_id)
    if user is None:
        issued = new_device_secret()
        user = await users.create_guest(user_id, guest_name(services.public_id(user_id)), secret_digest(issued))
        if user is None:  # created concurrently by another request: that one holds the secret
            issued, user = None, await users.get(user_id)
            assert user is not None
    elif user.kind != "guest":
        raise unauthorized("this account requires a password", "invalid_credentials")
    if issued is None:
        if user.secret_hash is not None and presented is not None:
            if not verify_secret(presented, user.secret_hash):
                services.throttle.failed(*keys)
                log.warning("guest login with a wrong device secret for %s from %s",
                            services.public_id(user_id), request.remote)
                raise unauthorized("invalid device secret", "invalid_credentials")
        elif guest_secret_required(services.settings):
            services.throttle.failed(*keys)
            raise unauthorized("this guest id needs its device_secret", "device_secret_required")
        elif user.secret_hash is None:
            # An account from before device secrets: bind one now, so the client can start
            # sending it before the operator turns `guest_secret_required` on.
            candidate = new_device_secret()
            if await users.bind_guest_secret(user.id, secret_digest(candidate)):
                issued = candidate
        await users.seen(user.id)
    token, ident = services.tokens.mint(user.id)
    out = _session_body(services, user.id, token, ident, user.display_name)
    if issued is not None:
        out["device_secret"] = issued
    return json_response(out)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    if "username" in body or "password" in body:
        return await _password_login(services, request, body)
    return await _guest_login(services, request, body)


@routes.post("/api/v1/auth/register")
async def register(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = validate(await read_json(request), REGISTER)
    if not _USERNAME.match(data["username"]):
        raise ApiError(422, "validation_error", "invalid fields: username",
                       {"username": "letters, digits, _ . - only"})
    _rate(services, request, data["username"])
    # Mint before the account is stored: a token that cannot be made must not leave an
    # account behind that the caller cannot use (issue 15, finding 10).
    token, ident = services.tokens.mint(data["username"])
    try:
        user = await services.store.users.create_password_user(
            data["username"], hash_password(data["password"]), data["display_name"] or data["username"])
    except Conflict:
        raise conflict("username already taken") from None
    return json_response(_session_body(services, user.id, token, ident, user.display_name), status=201)


@routes.get("/api/v1/auth/validate")
async def validate_token(request: web.Request) -> web.Response:
    ident = identity(request)
    return json_response({"valid": True, "user_id": ident.user_id, "session_id": ident.session_id,
                          "expires_at": iso(ident.expires_at)})


@routes.post("/api/v1/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    """A fresh token for the same session (logout still kills both)."""
    services = request.app[SERVICES]
    ident = identity(request)
    _rate(services, request, ident.user_id)
    user = await services.store.users.get(ident.user_id)
    if user is None:
        raise unauthorized("account no longer exists")
    await services.store.users.seen(user.id)
    token, new = services.tokens.mint(ident.user_id, session_id=ident.session_id)
    return json_response(_session_body(services, user.id, token, new, user.display_name))


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    await services.revocations.revoke(ident)
    return json_response({"success": True, "message": "Logged out; the session's tokens are revoked"})
