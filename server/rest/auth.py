"""/api/v1/auth: guest and password login, register, validate, refresh, logout."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from persistence.clock import iso
from persistence.errors import Conflict

from ..auth import Identity, hash_password, verify_password
from ..context import SERVICES, Services
from ..errors import ApiError, bad_request, conflict, forbidden, too_many, unauthorized
from ..http import identity, json_response, read_json
from ..validate import F, validate

log = logging.getLogger("immersiverse.auth")

routes = web.RouteTableDef()
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")
REGISTER = (F("username", "str", min=3, max=64), F("password", "str", min=8, max=256),
            F("display_name", "str", required=False, min=1, max=128))


def _session_body(user_id: str, token: str, ident: Identity, display_name: str) -> dict[str, Any]:
    return {"success": True, "user_id": user_id, "display_name": display_name,
            "session_id": ident.session_id, "token": token, "token_type": "bearer",
            "expires_at": iso(ident.expires_at), "created_at": iso(ident.issued_at)}


async def _password_login(services: Services, request: web.Request, body: dict[str, Any]) -> web.Response:
    data = validate(body, (F("username", "str", min=1, max=64), F("password", "str", min=1, max=256)))
    keys = (f"user:{data['username']}", f"ip:{request.remote}")
    wait = services.throttle.retry_after(*keys)
    if wait:
        raise too_many("too many failed logins; try again later", wait)
    user = await services.store.users.get(data["username"])
    if user is None or user.password_hash is None or not verify_password(data["password"], user.password_hash):
        services.throttle.failed(*keys)
        log.warning("failed password login for %r from %s", data["username"][:64], request.remote)
        raise unauthorized("invalid username or password", "invalid_credentials")
    token, ident = services.tokens.mint(user.id)
    return json_response(_session_body(user.id, token, ident, user.display_name))


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    if "username" in body or "password" in body:
        return await _password_login(services, request, body)
    user_id = body.get("user_id")
    # The seed answers a missing or empty user_id with 400 (rest-contract.md, Auth).
    if not isinstance(user_id, str) or not user_id.strip():
        raise bad_request("user_id is required", {"user_id": "must be a non-empty string"})
    if len(user_id) > 128:
        raise bad_request("user_id is too long", {"user_id": "must be at most 128 characters"})
    if not services.settings.guest_login:
        raise forbidden("guest login is disabled; log in with username and password")
    try:
        user = await services.store.users.ensure_guest(user_id)
    except Conflict:
        raise unauthorized("this account requires a password", "invalid_credentials") from None
    token, ident = services.tokens.mint(user.id)
    return json_response(_session_body(user.id, token, ident, user.display_name))


@routes.post("/api/v1/auth/register")
async def register(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = validate(await read_json(request), REGISTER)
    if not _USERNAME.match(data["username"]):
        raise ApiError(422, "validation_error", "invalid fields: username",
                       {"username": "letters, digits, _ . - only"})
    try:
        user = await services.store.users.create_password_user(
            data["username"], hash_password(data["password"]), data["display_name"] or data["username"])
    except Conflict:
        raise conflict("username already taken") from None
    token, ident = services.tokens.mint(user.id)
    return json_response(_session_body(user.id, token, ident, user.display_name), status=201)


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
    user = await services.store.users.get(ident.user_id)
    if user is None:
        raise unauthorized("account no longer exists")
    token, new = services.tokens.mint(ident.user_id, session_id=ident.session_id)
    return json_response(_session_body(user.id, token, new, user.display_name))


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ident = identity(request)
    await services.revocations.revoke(ident)
    return json_response({"success": True, "message": "Logged out; the session's tokens are revoked"})
