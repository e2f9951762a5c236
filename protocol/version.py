"""Protocol version negotiation (docs/protocol.md §3)."""

from __future__ import annotations

__all__ = ["PROTOCOL_VERSION", "SUPPORTED_VERSIONS", "negotiate"]

#: The version this implementation speaks natively; `welcome.protocol` echoes the negotiated one.
PROTOCOL_VERSION: int = 1

#: Every version the server accepts in `hello.v`, oldest first. Listed in `bye` on close 4502.
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)


def negotiate(requested: int) -> int | None:
    """Return the version to speak for a client asking for ``requested``, or None.

    The client names one exact version (docs/protocol.md §3): there is no range to intersect,
    so negotiation is a membership test. None means: send `bye` and close with 4502.
    """
    return requested if requested in SUPPORTED_VERSIONS else None
