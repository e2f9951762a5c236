"""ImmersiVerse session protocol: Sans-I/O messages, codec, codes (docs/protocol.md).

No I/O here and no asyncio/aiohttp/database imports (a test enforces it): the server and the
client SDK feed bytes in and get typed messages out, and back.
"""

from __future__ import annotations

from .codec import (
    decode_client,
    decode_server,
    encode,
    encode_client,
    encode_gen_chunk,
    encode_raw,
    encode_server,
)
from .codes import (
    CLOSE_EXPLANATIONS,
    ERROR_EXPLANATIONS,
    RETRYABLE_ERRORS,
    CloseCode,
    ErrorCode,
    should_reconnect,
)
from .errors import (
    DEFAULT_MESSAGES,
    EncodeError,
    ProtocolError,
    ProtocolException,
    bye,
    error_reply,
)
from .limits import DEFAULT_LIMITS, SERVER_FRAME_LIMITS, Limits
from .messages import CLIENT_MESSAGES, SERVER_MESSAGES, ClientMessage, ServerMessage
from .version import PROTOCOL_VERSION, SUPPORTED_VERSIONS, negotiate

__all__ = [
    "CLIENT_MESSAGES",
    "CLOSE_EXPLANATIONS",
    "DEFAULT_LIMITS",
    "DEFAULT_MESSAGES",
    "ERROR_EXPLANATIONS",
    "PROTOCOL_VERSION",
    "RETRYABLE_ERRORS",
    "SERVER_FRAME_LIMITS",
    "SERVER_MESSAGES",
    "SUPPORTED_VERSIONS",
    "ClientMessage",
    "CloseCode",
    "EncodeError",
    "ErrorCode",
    "Limits",
    "ProtocolError",
    "ProtocolException",
    "ServerMessage",
    "bye",
    "decode_client",
    "decode_server",
    "encode",
    "encode_client",
    "encode_gen_chunk",
    "encode_raw",
    "encode_server",
    "error_reply",
    "negotiate",
    "should_reconnect",
]
