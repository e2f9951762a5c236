"""Exceptions of the protocol package and the default human messages of error codes.

One base, :class:`ProtocolException`; as in h11, what the peer did wrong
(:class:`ProtocolError`) is kept apart from our own misuse (:class:`EncodeError`), so the server
answers the first with an ``error`` frame and treats the second as a bug (close 1011).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .codes import CloseCode, ErrorCode
from .messages import Bye, Error

__all__ = [
    "DEFAULT_MESSAGES",
    "EncodeError",
    "ProtocolError",
    "ProtocolException",
    "bye",
    "error_reply",
]

#: The `message` sent in an error frame when the caller gives none. Never exception text.
DEFAULT_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.BAD_FRAME: "frame is not valid msgpack",
    ErrorCode.NOT_A_MAP: "frame must be a msgpack map",
    ErrorCode.FRAME_TOO_LARGE: "frame too large",
    ErrorCode.INVALID_UTF8: "string is not valid UTF-8",
    ErrorCode.UNSUPPORTED_TYPE: "frame holds an unsupported msgpack type",
    ErrorCode.TOO_DEEP: "frame is nested too deeply",
    ErrorCode.TOO_MANY_ITEMS: "array or map has too many items",
    ErrorCode.STRING_TOO_LONG: "string too long",
    ErrorCode.UNKNOWN_TYPE: "unknown message type",
    ErrorCode.MISSING_FIELD: "required field missing",
    ErrorCode.WRONG_TYPE: "field has the wrong type",
    ErrorCode.INVALID_VALUE: "field has an invalid value",
    ErrorCode.NON_FINITE_NUMBER: "number must be finite",
    ErrorCode.NOT_AUTHENTICATED: "not authenticated",
    ErrorCode.ALREADY_AUTHENTICATED: "already authenticated",
    ErrorCode.INVALID_TOKEN: "token is invalid",
    ErrorCode.UNSUPPORTED: "not supported",
    ErrorCode.RATE_LIMITED: "rate limited",
    ErrorCode.TOO_MANY_GENERATIONS: "too many generations in progress",
    ErrorCode.LIMIT_EXCEEDED: "limit exceeded",
    ErrorCode.NOT_FOUND: "not found",
    ErrorCode.FORBIDDEN: "forbidden",
    ErrorCode.CONFLICT: "conflict",
    ErrorCode.UNKNOWN_PREFAB: "unknown prefab",
    ErrorCode.OUT_OF_BOUNDS: "out of bounds",
    ErrorCode.NOT_JOINED: "not joined to this world",
    ErrorCode.UNKNOWN_REQUEST: "no such request in progress",
    ErrorCode.INTERNAL: "internal server error",
    ErrorCode.UNAVAILABLE: "service unavailable, retry later",
}


class ProtocolException(Exception):
    """Base of every exception raised by the ``protocol`` package."""


class ProtocolError(ProtocolException):
    """The peer sent a frame that cannot be accepted (docs/protocol.md §8.1).

    ``rid`` is the frame's request id when the frame was a map with a valid ``rid``, so the
    error reply can be addressed; ``fields`` maps field paths (``ops[2].pos``) to reasons.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        fields: Mapping[str, str] | None = None,
        rid: int | None = None,
    ) -> None:
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES[code]
        self.fields = dict(fields) if fields else None
        self.rid = rid
        super().__init__(f"{code.wire_name}: {self.message}")

    @property
    def close_code(self) -> CloseCode | None:
        """The close code this error forces, or None when an error frame is enough.

        The one place where decoding errors map to closes: an oversized frame cannot be read
        past (RFC 6455 1009); everything else is answered and the session goes on (§8.1).
        """
        return CloseCode.MESSAGE_TOO_BIG if self.code is ErrorCode.FRAME_TOO_LARGE else None

    def reply(self) -> Error:
        """The ``error`` frame that answers this error."""
        return error_reply(self.code, rid=self.rid, message=self.message, fields=self.fields)


class EncodeError(ProtocolException):
    """We tried to encode something that is not a protocol message: a bug on our side."""


def error_reply(
    code: ErrorCode,
    *,
    rid: int | None = None,
    message: str | None = None,
    fields: Mapping[str, str] | None = None,
    retry_after_s: float | None = None,
    world_id: str | None = None,
) -> Error:
    """Build an ``error`` frame with the stable ``name`` and a default human message."""
    return Error(
        code=int(code),
        name=code.wire_name,
        message=message if message is not None else DEFAULT_MESSAGES[code],
        rid=rid,
        fields=dict(fields) if fields else None,
        retry_after_s=retry_after_s,
        world_id=world_id,
    )


def bye(
    code: CloseCode,
    message: str | None = None,
    *,
    retry_after_s: float | None = None,
    supported_versions: Sequence[int] | None = None,
) -> Bye:
    """Build the ``bye`` frame sent just before closing with ``code`` (docs/protocol.md §7.1).

    ``reason`` is always the code's wire name, the same string as the close frame's reason,
    so a client can switch on it; the human detail, if any, goes in ``message``.
    """
    return Bye(
        code=int(code),
        reason=code.wire_name,
        reconnect=code.reconnect,
        retry_after_s=retry_after_s,
        supported_versions=tuple(supported_versions) if supported_versions is not None else None,
        message=message,
    )
