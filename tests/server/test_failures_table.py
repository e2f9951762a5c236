"""The one table (server/failures.py): each typed failure, on both surfaces — a socket's error
frame or close code, and REST's status, code and Retry-After — as the end-to-end tests
(tests/security, tests/server, tests/session) see them."""

from __future__ import annotations

import math
import sqlite3

import pytest

from persistence.errors import NotFound
from persistence.telemetry import WriterClosed
from protocol.codes import CloseCode, ErrorCode
from server.auth import AuthCode, AuthError
from server.failures import (
    EDIT_NOT_STORED,
    EDIT_UNRESOLVED,
    HTTP_ERROR_CODES,
    OverQuota,
    api_error,
    loop_close,
    refusal,
)
from server.quotas import GenerationRefused

OUTAGE = sqlite3.OperationalError("database is locked")


@pytest.mark.parametrize(("code", "wire"), [(ErrorCode.RATE_LIMITED, "rate_limited"),
                                            (ErrorCode.TOO_MANY_GENERATIONS, "too_many_generations"),
                                            (ErrorCode.LIMIT_EXCEEDED, "limit_exceeded")])
def test_a_generation_limit_is_its_typed_code_on_a_socket_and_429_on_rest(code: ErrorCode, wire: str) -> None:
    exc = GenerationRefused(code, "over the limit", retry_after_s=1.2)
    socket = refusal(exc, 2.0)
    assert socket is not None and (socket.code, socket.message, socket.retry_after_s) == (code, "over the limit", 1.2)
    rest = api_error(exc, 2.0)
    assert rest is not None and (rest.status, rest.code, rest.headers) == (429, wire, {"Retry-After": "2"})
    no_wait = api_error(GenerationRefused(code, "over the limit"), 2.0)
    assert no_wait is not None and no_wait.headers == {}


def test_the_telemetry_quota_is_rate_limited_or_never_fits() -> None:
    later, never = OverQuota(0.4), OverQuota(math.inf)
    s_later, s_never = refusal(later, 2.0), refusal(never, 2.0)
    assert s_later is not None and (s_later.code, s_later.retry_after_s) == (ErrorCode.RATE_LIMITED, 0.4)
    assert s_never is not None and s_never.code is ErrorCode.LIMIT_EXCEEDED and s_never.retry_after_s is None
    r_later, r_never = api_error(later, 2.0), api_error(never, 2.0)
    assert r_later is not None and (r_later.status, r_later.code, r_later.headers) == (
        429, "rate_limited", {"Retry-After": "1"})
    assert r_never is not None and (r_never.status, r_never.code) == (413, "payload_too_large")


def test_a_refused_token_is_invalid_token_on_a_socket_and_401_with_its_code_on_rest() -> None:
    exc = AuthError(AuthCode.TOKEN_EXPIRED, "token has expired")
    socket = refusal(exc, 2.0)
    assert socket is not None and (socket.code, socket.message) == (ErrorCode.INVALID_TOKEN, "token has expired")
    rest = api_error(exc, 2.0)
    assert rest is not None and (rest.status, rest.code) == (401, "token_expired")
    assert rest.headers == {"WWW-Authenticate": "Bearer"}


def test_a_store_outage_is_unavailable_everywhere_and_a_bug_is_nothing_of_the_table() -> None:
    socket = refusal(OUTAGE, 2.0)
    assert socket is not None and (socket.code, socket.retry_after_s) == (ErrorCode.UNAVAILABLE, 2.0)
    rest = api_error(OUTAGE, 2.4)
    assert rest is not None and (rest.status, rest.code, rest.headers) == (503, "unavailable", {"Retry-After": "2"})
    assert loop_close(OUTAGE, 2.0)[0] is CloseCode.UNAVAILABLE
    bug = ValueError("a bug's text")
    assert refusal(bug, 2.0) is None and api_error(bug, 2.0) is None
    assert loop_close(bug, 2.0) == (CloseCode.INTERNAL_ERROR, None)


def test_shutting_down_and_not_found_on_a_socket_only() -> None:
    closed = refusal(WriterClosed("telemetry writer is closed"), 2.0)
    assert closed is not None
    assert (closed.code, closed.message) == (ErrorCode.UNAVAILABLE, "the server is shutting down")
    assert api_error(WriterClosed("telemetry writer is closed"), 2.0) is None  # REST: 500, as before
    missing = refusal(NotFound("world w not found"), 2.0)
    assert missing is not None and (missing.code, missing.message) == (ErrorCode.NOT_FOUND, "world w not found")
    assert (EDIT_UNRESOLVED, EDIT_NOT_STORED.code) == (CloseCode.UNAVAILABLE, ErrorCode.UNAVAILABLE)
    assert HTTP_ERROR_CODES[405] == "method_not_allowed" and 500 not in HTTP_ERROR_CODES
