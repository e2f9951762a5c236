"""Failures of a request, mapped to what the client sees — the one table of the live core.

- `refusal(exc)`: the `error` frame for an exception out of a request handler (docs/protocol.md
  §8.2): a `RequestRefused` as it is; the exceptions of REFUSALS, whose text is written for the
  client, with their code; a store outage as `unavailable` (1201, with `retry_after_s`, one
  WARNING per outage, §8.3); None for anything else — a bug: `internal` (1200), logged with its
  traceback, its text never sent.
- `AUTH_CLOSE_CODES`: the close code of a socket whose token is refused when it opens (§9).
- A session whose loop fails closes 4005 on a store outage, else 1011 (server/session.py); REST
  maps an outage to 503 with Retry-After (server/http.py, docs/operations.md §3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Final

from generator import GeneratorError
from persistence.errors import Conflict, LimitExceeded, NotFound, is_outage
from protocol.codes import CloseCode, ErrorCode

from .auth import AuthCode, AuthError
from .quotas import GenerationRefused

log = logging.getLogger("immersiverse.store")
# An outage ends after this long without a failed store call; the next failure starts a new
# one (and logs its one WARNING).
OUTAGE_QUIET_S = 30.0


class RequestRefused(Exception):
    """A well-formed request that the server will not carry out (docs/protocol.md §8.2)."""

    def __init__(self, code: ErrorCode, message: str | None = None, *,
                 fields: Mapping[str, str] | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message or code.wire_name)
        self.code = code
        self.message = message
        self.fields = fields
        self.retry_after_s = retry_after_s


# Exceptions caused by the request (the peer's data or the state it asks about), whose message
# is written for the client, and the error code each is answered with.
REFUSALS: Final[tuple[tuple[type[Exception], ErrorCode], ...]] = (
    (NotFound, ErrorCode.NOT_FOUND),
    (Conflict, ErrorCode.CONFLICT),
    (LimitExceeded, ErrorCode.LIMIT_EXCEEDED),  # its `fields` name the offending parts
    (GeneratorError, ErrorCode.INVALID_VALUE),  # the generator refused its arguments
    (AuthError, ErrorCode.INVALID_TOKEN),  # auth.refresh with a token that is not valid now
)

AUTH_CLOSE_CODES: Final[Mapping[AuthCode, CloseCode]] = {
    AuthCode.INVALID_TOKEN: CloseCode.UNAUTHORIZED,
    AuthCode.TOKEN_EXPIRED: CloseCode.TOKEN_EXPIRED,
    AuthCode.TOKEN_REVOKED: CloseCode.TOKEN_REVOKED,
}


def refusal(exc: BaseException, retry_after_s: float) -> RequestRefused | None:
    """The refusal `exc` stands for (see the module docstring), or None for a bug."""
    if isinstance(exc, RequestRefused):
        return exc
    if isinstance(exc, GenerationRefused):  # a per-user limit; its code is the error's wire name
        return RequestRefused(ErrorCode[exc.code.upper()], exc.message, retry_after_s=exc.retry_after_s)
    for kind, code in REFUSALS:
        if isinstance(exc, kind):
            message = exc.message if isinstance(exc, AuthError) else str(exc)
            return RequestRefused(code, message, fields=exc.fields if isinstance(exc, LimitExceeded) else None)
    return store_outage(exc, retry_after_s)


class _Outages:
    """Logs one WARNING per store outage instead of a traceback per failed request."""

    def __init__(self) -> None:
        self.last_failure: float | None = None

    def note(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.last_failure is None or now - self.last_failure > OUTAGE_QUIET_S:
            log.warning("store unavailable (%s: %s); requests that need it are answered unavailable "
                        "until it is back", type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
        self.last_failure = now


OUTAGES = _Outages()


def store_outage(exc: BaseException, retry_after_s: float) -> RequestRefused | None:
    """`unavailable` for a store outage (noted once per outage), None for anything else —
    which stays a bug (`internal`, 1011, 500) and is logged with its traceback."""
    if isinstance(exc, RequestRefused) or not is_outage(exc):
        return None
    OUTAGES.note(exc)
    return RequestRefused(ErrorCode.UNAVAILABLE, "the store is unavailable; retry later", retry_after_s=retry_after_s)
