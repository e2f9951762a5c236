"""Failures of a request, mapped to what the client sees in one place: a `RequestRefused`
becomes an `error` frame (session.py), a store outage becomes `unavailable` (1201, with
`retry_after_s`) on a socket, close 4005 on connect and 503 with Retry-After on REST
(docs/protocol.md §8.3, docs/operations.md §3)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from persistence.errors import is_outage
from protocol.codes import ErrorCode

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
