"""Error codes (per-request `error` frames) and WebSocket close codes.

Two separate spaces, like websockets' ``CloseCode`` and centrifuge's ``disconnect.go``:

* :class:`ErrorCode` travels in an ``error`` frame; the connection stays open
  (docs/protocol.md §8). Numbering: 1000–1099 the frame itself is unusable or a field is
  invalid (decoding), 1100–1199 the request is well formed but refused, 1200–1299 the
  server failed.
* :class:`CloseCode` is the WebSocket close status (docs/protocol.md §9). 4000–4499: the client
  may reconnect (with backoff); 4500–4999: terminal, reconnecting unchanged will fail again.
  Standard 1000/1001/1009/1011 follow their RFC 6455 meaning.
"""

from __future__ import annotations

import enum

__all__ = [
    "CLOSE_EXPLANATIONS",
    "ERROR_EXPLANATIONS",
    "RETRYABLE_ERRORS",
    "CloseCode",
    "ErrorCode",
    "should_reconnect",
]


class ErrorCode(enum.IntEnum):
    """Code of an ``error`` frame; ``name.lower()`` is sent alongside as ``name``."""

    # 1000-1099: decoding. The frame could not be turned into a message (docs/protocol.md §8.1).
    BAD_FRAME = 1000
    NOT_A_MAP = 1001
    FRAME_TOO_LARGE = 1002
    INVALID_UTF8 = 1003
    UNSUPPORTED_TYPE = 1004
    TOO_DEEP = 1005
    TOO_MANY_ITEMS = 1006
    STRING_TOO_LONG = 1007
    UNKNOWN_TYPE = 1008
    MISSING_FIELD = 1010
    WRONG_TYPE = 1011
    INVALID_VALUE = 1012
    NON_FINITE_NUMBER = 1013
    # 1100-1199: the request was understood but refused (docs/protocol.md §8.2).
    NOT_AUTHENTICATED = 1100
    ALREADY_AUTHENTICATED = 1101
    INVALID_TOKEN = 1102
    UNSUPPORTED = 1103
    RATE_LIMITED = 1104
    TOO_MANY_GENERATIONS = 1105
    LIMIT_EXCEEDED = 1106
    NOT_FOUND = 1107
    FORBIDDEN = 1108
    CONFLICT = 1109
    UNKNOWN_PREFAB = 1110
    OUT_OF_BOUNDS = 1111
    NOT_JOINED = 1112
    UNKNOWN_REQUEST = 1113
    # 1200-1299: the server failed; never carries exception text (docs/protocol.md §8.3).
    INTERNAL = 1200
    UNAVAILABLE = 1201

    @property
    def wire_name(self) -> str:
        """The stable snake_case name sent as ``error.name``."""
        return self.name.lower()


ERROR_EXPLANATIONS: dict[ErrorCode, str] = {
    ErrorCode.BAD_FRAME: "The frame is not one valid msgpack value (truncated, trailing bytes, reserved byte).",
    ErrorCode.NOT_A_MAP: "The frame is valid msgpack but its top level is not a map.",
    ErrorCode.FRAME_TOO_LARGE: "The frame exceeds max_frame_bytes; the server closes with 1009.",
    ErrorCode.INVALID_UTF8: "A msgpack str is not valid UTF-8.",
    ErrorCode.UNSUPPORTED_TYPE: "The frame holds a value the protocol never allows: ext, timestamp, bin, or a non-string map key.",
    ErrorCode.TOO_DEEP: "Maps and arrays are nested deeper than max_depth.",
    ErrorCode.TOO_MANY_ITEMS: "An array or map has more than max_items entries.",
    ErrorCode.STRING_TOO_LONG: "A string is longer than max_str_len bytes.",
    ErrorCode.UNKNOWN_TYPE: "The `type` names no client message of this protocol version.",
    ErrorCode.MISSING_FIELD: "A required field is absent (see `fields`).",
    ErrorCode.WRONG_TYPE: "A field has the wrong msgpack type (see `fields`).",
    ErrorCode.INVALID_VALUE: "A field has the right type but a value out of range, too long, or not allowed (see `fields`).",
    ErrorCode.NON_FINITE_NUMBER: "A float is NaN or infinite (see `fields`).",
    ErrorCode.NOT_AUTHENTICATED: "The request needs an authenticated session; send hello first.",
    ErrorCode.ALREADY_AUTHENTICATED: "hello was sent after the session was set up; only the first frame may be hello.",
    ErrorCode.INVALID_TOKEN: "auth.refresh carried a token that does not verify; the old token stays in force.",
    ErrorCode.UNSUPPORTED: "The server does not support this option or feature (see `message`).",
    ErrorCode.RATE_LIMITED: "A rate limit was hit; retry after `retry_after_s`.",
    ErrorCode.TOO_MANY_GENERATIONS: "Too many generations are running for this session; wait for a gen.done.",
    ErrorCode.LIMIT_EXCEEDED: "A size or count limit of the server was exceeded (see `message`).",
    ErrorCode.NOT_FOUND: "The world (or other target) does not exist or is not visible to you.",
    ErrorCode.FORBIDDEN: "Your role does not allow this request in this world.",
    ErrorCode.CONFLICT: "The request conflicts with current state (e.g. an instance id already in use).",
    ErrorCode.UNKNOWN_PREFAB: "An edit names a prefab_id that is not in the catalog.",
    ErrorCode.OUT_OF_BOUNDS: "A position lies outside the world bounds.",
    ErrorCode.NOT_JOINED: "The request needs you to have joined the world first.",
    ErrorCode.UNKNOWN_REQUEST: "cancel targets no running generation of this session.",
    ErrorCode.INTERNAL: "The server failed to handle the request; retry later.",
    ErrorCode.UNAVAILABLE: "The server cannot take this request now (e.g. draining); retry later.",
}

#: Errors where sending the same request again later may succeed (docs/protocol.md §8).
RETRYABLE_ERRORS: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.TOO_MANY_GENERATIONS,
        ErrorCode.INTERNAL,
        ErrorCode.UNAVAILABLE,
    }
)


class CloseCode(enum.IntEnum):
    """WebSocket close status codes used by the server (docs/protocol.md §9)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    # 4000-4499: the client may reconnect (with backoff).
    IDLE_TIMEOUT = 4000
    SLOW_CONSUMER = 4001
    RATE_LIMITED = 4002
    TOKEN_EXPIRED = 4003
    CONNECTION_LIMIT = 4004
    # 4500-4999: terminal; do not reconnect without changing something (token, version, code).
    UNAUTHORIZED = 4500
    TOKEN_REVOKED = 4501
    UNSUPPORTED_PROTOCOL_VERSION = 4502
    PROTOCOL_VIOLATION = 4503
    FORBIDDEN = 4504

    @property
    def wire_name(self) -> str:
        """The snake_case name used as the WebSocket close reason (fits in 123 bytes)."""
        return self.name.lower()

    @property
    def reconnect(self) -> bool:
        """Whether a client may reconnect after this close (see :func:`should_reconnect`)."""
        return should_reconnect(self)


CLOSE_EXPLANATIONS: dict[CloseCode, str] = {
    CloseCode.NORMAL_CLOSURE: "The session ended on purpose (client or server said goodbye).",
    CloseCode.GOING_AWAY: "The server is shutting down or draining; reconnect with backoff, resume with since_seq.",
    CloseCode.MESSAGE_TOO_BIG: "A frame exceeded max_frame_bytes; reconnect, but do not resend that frame.",
    CloseCode.INTERNAL_ERROR: "The server hit a bug in this session; reconnect with backoff.",
    CloseCode.IDLE_TIMEOUT: "No message within idle_timeout_s, or a WebSocket ping unanswered within pong_timeout_s; send ping every heartbeat_s.",
    CloseCode.SLOW_CONSUMER: "The client read too slowly and its send queue overflowed; reconnect and resume.",
    CloseCode.RATE_LIMITED: "Rate limits were violated repeatedly; reconnect after retry_after_s.",
    CloseCode.TOKEN_EXPIRED: "The token expired; refresh it and reconnect (or use auth.refresh earlier).",
    CloseCode.CONNECTION_LIMIT: "Too many connections for this user or address; retry after retry_after_s.",
    CloseCode.UNAUTHORIZED: "Missing or invalid token, or no hello before the deadline.",
    CloseCode.TOKEN_REVOKED: "The token or its session was revoked; log in again.",
    CloseCode.UNSUPPORTED_PROTOCOL_VERSION: "hello.v is not supported; bye lists supported_versions.",
    CloseCode.PROTOCOL_VIOLATION: "bad_frames_before_close protocol violations (errors 1000-1011) within bad_frames_window_s; fix the client.",
    CloseCode.FORBIDDEN: "The account may not use the session server.",
}


def should_reconnect(code: int) -> bool:
    """Whether a client may reconnect after a close with ``code`` (docs/protocol.md §9).

    Applies to unknown codes too, so a client built against this version still behaves when a
    newer server adds codes: 4000-4499 yes, 4500-4999 no, 1000 no (a deliberate end), every
    other code (1001, 1006 abnormal, 1009, 1011, ...) yes with backoff.
    """
    if 4000 <= code <= 4499:
        return True
    if 4500 <= code <= 4999:
        return False
    return code != CloseCode.NORMAL_CLOSURE
