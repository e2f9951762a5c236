"""Refusals raised by session handlers; mapped to error frames in one place (session.py)."""

from __future__ import annotations

from collections.abc import Mapping

from protocol.codes import ErrorCode


class RequestRefused(Exception):
    """A well-formed request that the server will not carry out (docs/protocol.md §8.2)."""

    def __init__(self, code: ErrorCode, message: str | None = None, *,
                 fields: Mapping[str, str] | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message or code.wire_name)
        self.code = code
        self.message = message
        self.fields = fields
        self.retry_after_s = retry_after_s
