"""ImmersiVerse Python client SDK (docs/client.md) on ``websockets``.

    async with connect("ws://127.0.0.1:8000/ws", token) as session:
        async for msg in session.generate("a misty pine forest"):
            ...
"""

from __future__ import annotations

from .errors import ClientError, GenerationInterrupted, ServerError, SessionClosed
from .generation import Generation
from .session import Session, connect
from .telemetry import FlushResult
from .world import Resumed, WorldView

__all__ = [
    "ClientError",
    "FlushResult",
    "Generation",
    "GenerationInterrupted",
    "Resumed",
    "ServerError",
    "Session",
    "SessionClosed",
    "WorldView",
    "connect",
]
