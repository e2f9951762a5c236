"""Values nested inside messages (docs/protocol.md §6): instances, members, ops, events.

Nested values the *client* sends (ops, telemetry events, client info) are dataclasses, because the
server acts on them. Nested values the *server* sends (instances, members, results) are plain
dicts described by TypedDicts: they are built by the generator or the database and go straight to
msgpack on the hot path (docs/protocol.md §6.3), so wrapping them would only cost time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, TypedDict, get_args

__all__ = [
    "WORLD_TYPES",
    "AddOp",
    "ClientInfo",
    "EditOp",
    "EditResult",
    "GenStatus",
    "Instance",
    "JoinMode",
    "Member",
    "MoveOp",
    "Outcome",
    "PresenceKind",
    "Quat",
    "RemoveOp",
    "Role",
    "SetOp",
    "TelemetryEvent",
    "TelemetryRejection",
    "Vec3",
    "WorldType",
]

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]  # Unity order x, y, z, w (docs/protocol.md §6.1)
WorldType = Literal[
    "fantasy", "sci_fi", "realistic", "surreal", "historical", "urban", "nature", "space"
]
WORLD_TYPES: Final[tuple[str, ...]] = get_args(WorldType)
Role = Literal["owner", "editor", "viewer"]
JoinMode = Literal["snapshot", "replay"]
GenStatus = Literal["complete", "cancelled", "failed", "partial"]
Outcome = Literal["applied", "superseded", "noop"]
PresenceKind = Literal["update", "join", "leave"]

# --- nested values: server → client (plain dicts) --------------------------------------------


class Instance(TypedDict):
    """A prefab instance (docs/protocol.md §6.1): left-handed, Y-up, metres, quaternion xyzw."""

    id: str
    prefab_id: str
    prefab_type: str
    pos: Sequence[float]
    rot: Sequence[float]
    scale: Sequence[float]
    props: Mapping[str, Any]


class Member(TypedDict):
    """One connected session in a world; a user on two devices appears twice."""

    user_id: str
    display_name: str
    role: str
    session_id: str


class EditResult(TypedDict):
    """Outcome of op ``i`` of an edit (docs/protocol.md §7.4)."""

    i: int
    outcome: str
    id: str


class TelemetryRejection(TypedDict):
    """A telemetry event that was not stored, and why (code is an ErrorCode)."""

    id: str
    code: int
    message: str


# --- nested values: client → server (dataclasses) ------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientInfo:
    name: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    id: str
    type: str
    ts: float | None = None
    world_id: str | None = None
    experience_id: str | None = None
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AddOp:
    OP: ClassVar[Literal["add"]] = "add"
    prefab_id: str
    pos: Vec3
    id: str | None = None
    rot: Quat | None = None
    scale: Vec3 | None = None
    props: Mapping[str, Any] | None = None
    #: Set by the server in `op` broadcasts (from the catalog); ignored when a client sends it.
    prefab_type: str | None = None


@dataclass(frozen=True, slots=True)
class MoveOp:
    OP: ClassVar[Literal["move"]] = "move"
    id: str
    pos: Vec3 | None = None
    rot: Quat | None = None
    scale: Vec3 | None = None


@dataclass(frozen=True, slots=True)
class SetOp:
    OP: ClassVar[Literal["set"]] = "set"
    id: str
    props: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RemoveOp:
    OP: ClassVar[Literal["remove"]] = "remove"
    id: str


EditOp = AddOp | MoveOp | SetOp | RemoveOp
