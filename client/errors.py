"""Exceptions raised by the client SDK."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.codes import CloseCode, ErrorCode, should_reconnect

__all__ = ["ClientError", "GenerationInterrupted", "ServerError", "SessionClosed"]


class ClientError(Exception):
    """Base of every exception of the SDK."""


class ServerError(ClientError):
    """The server answered a request with an ``error`` frame (docs/protocol.md §8).

    ``code`` is an :class:`~protocol.codes.ErrorCode` when this SDK knows it, else the plain int
    (a newer server); ``name`` is the wire name, ``fields`` maps field paths to reasons.
    """

    def __init__(self, code: int, name: str, message: str, fields: Mapping[str, str] | None = None,
                 *, rid: int | None = None, retry_after_s: float | None = None) -> None:
        try:
            self.code: ErrorCode | int = ErrorCode(code)
        except ValueError:
            self.code = code
        self.name = name
        self.message = message
        self.fields = dict(fields or {})
        self.rid = rid
        self.retry_after_s = retry_after_s
        super().__init__(f"{name} ({int(code)}): {message}" + (f" {self.fields}" if self.fields else ""))

    @classmethod
    def from_frame(cls, frame: Any) -> ServerError:
        return cls(frame.code, frame.name, frame.message, frame.fields, rid=frame.rid,
                   retry_after_s=frame.retry_after_s)

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later (1104, 1105, 1200-1299)."""
        return self.code in (ErrorCode.RATE_LIMITED, ErrorCode.TOO_MANY_GENERATIONS) or \
            1200 <= int(self.code) <= 1299


class SessionClosed(ClientError):
    """The connection ended. ``reconnect`` says whether the SDK may (or will) reconnect.

    Raised by every call awaiting a reply when the socket closes, and by calls made after the
    session ended for good. ``code`` is the close code (the ``bye`` frame's when one arrived;
    1006 when the connection dropped without a close frame).
    """

    def __init__(self, code: int, reason: str = "", reconnect: bool | None = None,
                 retry_after_s: float | None = None) -> None:
        self.code = code
        self.reason = reason
        self.reconnect = should_reconnect(code) if reconnect is None else reconnect
        self.retry_after_s = retry_after_s
        try:
            label = CloseCode(code).wire_name
        except ValueError:
            label = str(code)
        super().__init__(f"session closed: {code} {label}" + (f" ({reason})" if reason and reason != label else ""))


class GenerationInterrupted(ClientError):
    """The connection closed while a generation was streaming; ``world_id`` (if the generation
    had started) names the world, which the server stores as ``partial`` (docs/protocol.md §7.2).
    The cause, a :class:`SessionClosed`, is ``__cause__`` and ``closed``."""

    def __init__(self, rid: int, world_id: str | None, closed: SessionClosed) -> None:
        self.rid = rid
        self.world_id = world_id
        self.closed = closed
        super().__init__(f"generation {rid} interrupted ({closed}); world {world_id or '-'} is partial")
