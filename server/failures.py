"""Failures, mapped to what the client sees — the one table of the server.

What each exception is answered with — on a socket request: the `error` frame
(docs/protocol.md §8.2); on REST: status and error code.

- `RequestRefused`: its code. REST handlers raise `ApiError` (server/errors.py) themselves.
- `NotFound`, `Conflict`, `LimitExceeded`, `GeneratorError`: `REFUSALS`, with the exception's
  text (written for the client).
- `AuthError` (its typed `AuthCode`): `invalid_token`; at connect the close code
  `AUTH_CLOSE_CODES` (§9); REST 401 with the `AuthCode` (`refused_token`).
- `GenerationRefused` (a per-user limit, its typed `ErrorCode`): that code and
  `retry_after_s`; REST 429 with Retry-After.
- `OverQuota` (the telemetry quota): `rate_limited` with `retry_after_s`, `limit_exceeded`
  when it never fits; REST 429 with Retry-After, 413.
- `WriterClosed` (telemetry while shutting down): `unavailable`; REST 500.
- a store outage (`is_outage`): `unavailable` with `retry_after_s`, one WARNING per outage
  (§8.3); REST 503 with Retry-After.
- anything else, a bug: `internal`, logged with its traceback, its text never sent; REST 500.

A session whose loop fails closes 4005 on a store outage, else 1011 (`loop_close`); an edit
whose COMMIT outcome stays unknown closes 4005 (`EDIT_UNRESOLVED`). aiohttp's own HTTP errors
get the REST code `HTTP_ERROR_CODES` (server/http.py `error_answer`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Final, NamedTuple

from generator import GeneratorError
from persistence.errors import Conflict, LimitExceeded, NotFound, is_outage
from persistence.telemetry import WriterClosed
from protocol.codes import CloseCode, ErrorCode

from .auth import AuthCode, AuthError
from .errors import ApiError, too_many, unauthorized
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


class Reply(NamedTuple):
    """An error frame's code and message, for a failure answered outside `refusal`."""

    code: ErrorCode
    message: str


class OverQuota(Exception):
    """The user's telemetry quota (server/ratelimit.py `UserQuota`) refuses a submission:
    `wait_s` until it fits, infinite when one submission is more than a minute's."""

    def __init__(self, wait_s: float) -> None:
        super().__init__("telemetry quota exceeded")
        self.wait_s = wait_s


# Exceptions caused by the request (the peer's data or the state it asks about), the error
# code each is answered with on a socket, and the message (None: the exception's own text,
# written for the client).
REFUSALS: Final[tuple[tuple[type[Exception], ErrorCode, str | None], ...]] = (
    (NotFound, ErrorCode.NOT_FOUND, None),
    (Conflict, ErrorCode.CONFLICT, None),
    (LimitExceeded, ErrorCode.LIMIT_EXCEEDED, None),  # its `fields` name the offending parts
    (GeneratorError, ErrorCode.INVALID_VALUE, None),  # the generator refused its arguments
    (AuthError, ErrorCode.INVALID_TOKEN, None),  # auth.refresh with a token that is not valid now
    (WriterClosed, ErrorCode.UNAVAILABLE, "the server is shutting down"),  # telemetry during shutdown
)

AUTH_CLOSE_CODES: Final[Mapping[AuthCode, CloseCode]] = {
    AuthCode.INVALID_TOKEN: CloseCode.UNAUTHORIZED,
    AuthCode.TOKEN_EXPIRED: CloseCode.TOKEN_EXPIRED,
    AuthCode.TOKEN_REVOKED: CloseCode.TOKEN_REVOKED,
}

#: The REST error code of each HTTP error aiohttp raises itself (no route, wrong method, ...).
HTTP_ERROR_CODES: Final[Mapping[int, str]] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout", 413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited"}

#: An edit whose COMMIT outcome (persistence.errors.CommitUnknown) could not be read back
#: while the store stayed unreachable: the session closes with this code (the client resumes
#: with since_seq, §8.3); when it is read back as not stored, it is answered EDIT_NOT_STORED.
EDIT_UNRESOLVED: Final = CloseCode.UNAVAILABLE
EDIT_NOT_STORED: Final = Reply(ErrorCode.UNAVAILABLE,
                               "the store is unavailable; the edit was not applied, send it again")
#: A telemetry event the store refused for what it holds (persistence.telemetry.RowsNotStored):
#: rejected in the ack; a frame whose write failed otherwise is answered TELEMETRY_NOT_STORED.
EVENT_NOT_STORABLE: Final = Reply(ErrorCode.INVALID_VALUE, "the store cannot hold this event")
TELEMETRY_NOT_STORED: Final = Reply(ErrorCode.INTERNAL, "events were not stored; retry them")


def refusal(exc: BaseException, retry_after_s: float) -> RequestRefused | None:
    """The socket refusal `exc` stands for (see the table above), or None for a bug."""
    if isinstance(exc, RequestRefused):
        return exc
    if isinstance(exc, GenerationRefused):  # a per-user limit
        return RequestRefused(exc.code, exc.message, retry_after_s=exc.retry_after_s)
    if isinstance(exc, OverQuota):
        if exc.wait_s == math.inf:
            return RequestRefused(ErrorCode.LIMIT_EXCEEDED, "this frame exceeds the per-minute telemetry quota")
        return RequestRefused(ErrorCode.RATE_LIMITED, "telemetry quota exceeded: too many events or bytes per minute",
                              retry_after_s=round(exc.wait_s, 3))
    for kind, code, text in REFUSALS:
        if isinstance(exc, kind):
            message = text or (exc.message if isinstance(exc, AuthError) else str(exc))
            return RequestRefused(code, message, fields=exc.fields if isinstance(exc, LimitExceeded) else None)
    return store_outage(exc, retry_after_s)


def loop_close(exc: BaseException, retry_after_s: float) -> tuple[CloseCode, RequestRefused | None]:
    """How a session whose loop failed closes: 4005 with the outage's refusal (reconnect later,
    §8.3), else 1011 (a bug; the caller logs it)."""
    refused = store_outage(exc, retry_after_s)
    return (CloseCode.INTERNAL_ERROR, None) if refused is None else (CloseCode.UNAVAILABLE, refused)


def api_error(exc: BaseException, retry_after_s: float) -> ApiError | None:
    """The REST answer `exc` stands for (see the table above), or None for a bug (500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AuthError):
        return refused_token(exc)
    if isinstance(exc, GenerationRefused):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))} if exc.retry_after_s else None
        return ApiError(429, exc.code.wire_name, exc.message, headers=headers)
    if isinstance(exc, OverQuota):
        if exc.wait_s == math.inf:
            return ApiError(413, "payload_too_large", "these events exceed the per-minute telemetry quota")
        return too_many("telemetry quota exceeded: too many events or bytes per minute", exc.wait_s)
    refused = store_outage(exc, retry_after_s)  # logged once per outage
    if refused is not None:
        return ApiError(503, "unavailable", str(refused.message),
                        headers={"Retry-After": str(max(1, round(retry_after_s)))})
    return None


def refused_token(exc: AuthError) -> ApiError:
    """REST's 401 for a refused bearer token: the `AuthCode` names why."""
    return unauthorized(exc.message, exc.code.value)


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
