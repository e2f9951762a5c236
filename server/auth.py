"""Tokens, passwords, revocation and login throttling.

Tokens are JWTs signed with the configured HMAC algorithm, which is pinned on verify (no
"none", no algorithm confusion). Claims: sub (user id), sid (session id, the unit of
revocation), jti, iat, exp, iss, aud — all required. A logged-out session is written to
the store and mirrored in memory; every node refreshes its mirror every
`revocation_poll_s`, so a revocation anywhere closes sockets everywhere within seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from persistence.clock import as_utc
from persistence.store import Store

from .config import Settings

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_VERIFIED_CACHE = 50_000  # verified tokens remembered (per process)


class AuthCode(StrEnum):
    """Why a token was refused: the REST `error` code, and (server/failures.py) the close code
    of a socket opened with it."""

    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_REVOKED = "token_revoked"


class AuthError(Exception):
    """The caller's credentials are missing, invalid, expired or revoked."""

    def __init__(self, code: AuthCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    session_id: str
    jti: str
    expires_at: datetime
    issued_at: datetime


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                p=int(p), maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual.hex(), digest)


def new_device_secret() -> str:
    """A guest's device secret: 256 random bits, shown once (docs/operations.md, Security settings)."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    # A fast hash is enough: the secret is random (256 bits), not a human's password.
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, digest: str) -> bool:
    return hmac.compare_digest(secret_digest(secret), digest)


def guest_name(public_id: str) -> str:
    """A new guest's display name: never its id, which is its login (issue 15, finding 1)."""
    return f"Guest {public_id[-6:]}"


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key
        self._alg = settings.jwt_algorithm
        self._iss = settings.jwt_issuer
        self._aud = settings.jwt_audience
        self._ttl = settings.token_ttl_s
        self._verified: dict[str, tuple[Identity, float]] = {}  # token -> identity, expiry (epoch s)
        self._public_key = hashlib.sha256(b"immersiverse public id\0" + self._key.encode()).digest()
        self._public_ids: dict[str, str] = {}  # user id -> public id (a pure function of both)

    def public_id(self, user_id: str) -> str:
        """The opaque id that public surfaces show instead of `user_id`, which for a guest is a
        login credential (experience cards, world owners, members, op authors). Stable while
        `secret_key` stays the same; not reversible without it."""
        known = self._public_ids.get(user_id)
        if known is None:  # (an HMAC per member record and op author was a visible share of joins)
            digest = hmac.new(self._public_key, user_id.encode("utf-8", "surrogatepass"), hashlib.sha256)
            known = "u_" + digest.hexdigest()[:24]
            if len(self._public_ids) >= _VERIFIED_CACHE:
                self._public_ids.clear()  # bounded; refilled as they are asked
            self._public_ids[user_id] = known
        return known

    def mint(self, user_id: str, session_id: str | None = None) -> tuple[str, Identity]:
        now = datetime.now(UTC).replace(microsecond=0)
        ident = Identity(user_id=user_id, session_id=session_id or secrets.token_hex(16),
                         jti=secrets.token_hex(16), issued_at=now,
                         expires_at=now + timedelta(seconds=self._ttl))
        claims = {"sub": user_id, "sid": ident.session_id, "jti": ident.jti,
                  "iat": int(now.timestamp()), "exp": int(ident.expires_at.timestamp()),
                  "iss": self._iss, "aud": self._aud}
        return jwt.encode(claims, self._key, algorithm=self._alg), ident

    def decode(self, token: str) -> Identity:
        """The verified identity of `token`, or AuthError (does not check revocation).

        Verified tokens are remembered until they expire: clients send the same token on
        every request, and HMAC + claim checks were a large share of a cached catalog read.
        """
        known = self._verified.get(token)
        if known is not None:
            if known[1] > time.time():
                return known[0]
            del self._verified[token]
        ident = self._decode(token)
        if len(self._verified) >= _VERIFIED_CACHE:
            self._verified.clear()  # bounded; refilled by the next requests
        self._verified[token] = ident, ident.expires_at.timestamp()
        return ident

    def _decode(self, token: str) -> Identity:
        try:
            claims = jwt.decode(token, self._key, algorithms=[self._alg], audience=self._aud,
                                issuer=self._iss,
                                options={"require": ["exp", "iat", "iss", "aud", "sub", "sid", "jti"]})
        except jwt.ExpiredSignatureError:
            raise AuthError(AuthCode.TOKEN_EXPIRED, "token has expired") from None
        except jwt.PyJWTError:
            raise AuthError(AuthCode.INVALID_TOKEN, "token is invalid") from None
        sub, sid, jti = claims["sub"], claims["sid"], claims["jti"]
        if not all(isinstance(v, str) and v for v in (sub, sid, jti)):
            raise AuthError(AuthCode.INVALID_TOKEN, "token is invalid")
        return Identity(user_id=sub, session_id=sid, jti=jti,
                        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                        expires_at=datetime.fromtimestamp(claims["exp"], UTC))


class AccountNames:
    """Accounts' display names, as every session's connect asks (server/session.py): the
    connects that arrive together are answered by one query (`users.display_names`). A name
    asked while a read runs waits for the next read, so every answer was read after it was
    asked, as by a read of its own: an account that no longer exists, or a store that is
    down, refuses the connect as before. A read's failure is every waiting caller's."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: dict[str, list[asyncio.Future[str | None]]] = {}  # user id -> its callers' futures
        self._reading: asyncio.Future[None] | None = None

    async def get(self, user_id: str) -> str | None:
        """The account's display name; None when there is no such account."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append(future)  # one per caller: a caller that goes
        if self._reading is None:                              # away cancels only its own
            self._reading = asyncio.ensure_future(self._read())
        return await future

    async def _read(self) -> None:
        waiting: dict[str, list[asyncio.Future[str | None]]] = {}
        try:
            while self._waiting:
                waiting, self._waiting = self._waiting, {}
                try:
                    names = await self._store.users.display_names(list(waiting))
                except Exception as exc:  # e.g. the store is down: every caller's failure
                    _settle_all([f for futures in waiting.values() for f in futures], exc)
                    continue
                for user_id, futures in waiting.items():
                    name = names.get(user_id)
                    for future in futures:
                        if not future.done():
                            future.set_result(name)
        finally:
            self._reading = None
            # (cancelled: the loop is stopping) no caller waits forever
            _settle_all([f for d in (waiting, self._waiting) for futures in d.values() for f in futures],
                        RuntimeError("display names: not read"))


def _settle_all(futures: Iterable[asyncio.Future[Any]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)
            future.exception()  # (retrieved: a caller that went away is not logged)


class Revocations:
    """In-memory mirror of the store's revoked sessions, refreshed by polling."""

    def __init__(self, store: Store, token_ttl_s: int) -> None:
        self._store = store
        self._ttl = timedelta(seconds=token_ttl_s)
        self._revoked: set[str] = set()
        self._since: datetime | None = None

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked

    async def load(self) -> None:
        await self.refresh()

    async def refresh(self) -> None:
        rows = await self._store.users.revoked_since(self._since)
        for sid, at in rows:
            self._revoked.add(sid)
            # Re-read a small overlap: a revocation committed with an older timestamp by a
            # slower node would otherwise be missed.
            at = as_utc(at) - timedelta(seconds=30)
            if self._since is None or at > self._since:
                self._since = at

    async def revoke(self, ident: Identity) -> None:
        # The row may be purged once no token of the session can be valid: a refresh made a
        # token of the same session that outlives the one logging out, but none was minted
        # after now, so none outlives now + the token lifetime (server/maintenance.py).
        until = max(ident.expires_at, datetime.now(UTC) + self._ttl)
        await self._store.users.revoke_session(ident.session_id, ident.user_id, until)
        self._revoked.add(ident.session_id)


class AuthRate:
    """Every call of a login path (guest, password, register, refresh) counts, failed or not,
    per IP and per account id: a budget on guessing and on account creation (issue 15)."""

    def __init__(self, per_ip: int, per_account: int) -> None:
        self._ip = LoginThrottle(per_ip)
        self._account = LoginThrottle(per_account)

    def hit(self, ip: str | None, account: str) -> float:
        """Seconds to wait (the call is refused), or 0 (the call is counted and may go on)."""
        ip_key, account_key = f"ip:{ip}", f"account:{account}"
        wait = max(self._ip.retry_after(ip_key), self._account.retry_after(account_key))
        if not wait:
            self._ip.failed(ip_key)
            self._account.failed(account_key)
        return wait


class LoginThrottle:
    """Failed-login budget per key (account, IP) over a sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again; 0 when allowed now."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            hits = self._failures.get(key)
            if not hits:
                continue
            while hits and now - hits[0] > 60:
                hits.popleft()
            if len(hits) >= self._limit:
                wait = max(wait, 60 - (now - hits[0]))
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)
        if len(self._failures) > 100_000:  # bound memory under a spray of usernames
            self._failures.clear()
