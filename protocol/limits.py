"""Decoding limits (docs/protocol.md §2.3). The server advertises the relevant ones in `welcome`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "SERVER_FRAME_LIMITS", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied while decoding one frame; every one maps to a documented ErrorCode."""

    #: Whole frame, bytes. Bigger → FRAME_TOO_LARGE (the server closes 1009).
    max_frame_bytes: int = 1 << 20
    #: Nesting of maps/arrays; the top-level map is depth 1. Deeper → TOO_DEEP.
    max_depth: int = 16
    #: Entries in any one array or map. More → TOO_MANY_ITEMS.
    max_items: int = 10_000
    #: Bytes in any one msgpack str. Longer → STRING_TOO_LONG.
    max_str_len: int = 65_536
    #: Characters in an identifier (world_id, instance id, event id, rid-less names).
    max_id_chars: int = 64
    #: Characters in a prefab_id.
    max_prefab_id_chars: int = 128
    #: Characters in a JWT.
    max_token_chars: int = 8192
    #: Characters in `prompt.prompt`.
    max_prompt_chars: int = 1000
    #: Upper bound a client may ask for in `prompt.max_instances`.
    max_instances: int = 100_000
    #: Events in one `telemetry` frame.
    max_telemetry_events: int = 500
    #: Packed msgpack size of one telemetry event's `data`.
    max_event_data_bytes: int = 8192
    #: Ops in one `edit` frame.
    max_ops_per_edit: int = 500
    #: Packed msgpack size of one op's `props`.
    max_props_bytes: int = 4096
    #: Instance ids in `presence.selection`.
    max_selection: int = 256


#: What the server applies to client frames.
DEFAULT_LIMITS = Limits()

#: What a client applies to server frames: chunks and snapshots are bigger than requests.
SERVER_FRAME_LIMITS = Limits(max_frame_bytes=16 << 20, max_depth=32, max_items=1_000_000)
