"""Message types of the session protocol: one frozen, slotted dataclass per wire `type`.

Like h11's ``_events.py``: plain data, no behaviour. Attribute names are the wire field names
(docs/protocol.md §5); the wire `type` tag is the ``TYPE`` class variable. An optional field is
``None`` when absent on the wire, and encoders omit ``None`` fields (docs/protocol.md §2.4).
Nested values (instances, ops, events) live in :mod:`protocol.values`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final, Literal, get_args

from .values import (
    ClientInfo,
    EditOp,
    EditResult,
    GenStatus,
    Instance,
    JoinMode,
    Member,
    PresenceKind,
    Role,
    TelemetryEvent,
    TelemetryRejection,
    Vec3,
    WorldType,
)

__all__ = [
    "CLIENT_MESSAGES",
    "LOCAL_ONLY",
    "SERVER_MESSAGES",
    "AuthOk",
    "AuthRefresh",
    "Bye",
    "Cancel",
    "Cancelled",
    "ClientMessage",
    "Edit",
    "EditAck",
    "Error",
    "GenChunk",
    "GenDone",
    "GenStart",
    "Hello",
    "Join",
    "Joined",
    "Leave",
    "Left",
    "Ping",
    "Pong",
    "Presence",
    "PresenceEvent",
    "Prompt",
    "ServerMessage",
    "Snapshot",
    "Telemetry",
    "TelemetryAck",
    "Welcome",
    "WorldOp",
    "wire_fields",
]

#: Metadata marking a dataclass field that is computed by the decoder and never on the wire.
LOCAL_ONLY: Final = {"wire": False}


# --- client → server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    TYPE: ClassVar[Literal["hello"]] = "hello"
    v: int
    token: str | None = None
    client: ClientInfo | None = None


@dataclass(frozen=True, slots=True)
class AuthRefresh:
    TYPE: ClassVar[Literal["auth.refresh"]] = "auth.refresh"
    rid: int
    token: str


@dataclass(frozen=True, slots=True)
class Ping:
    TYPE: ClassVar[Literal["ping"]] = "ping"
    rid: int


@dataclass(frozen=True, slots=True)
class Prompt:
    TYPE: ClassVar[Literal["prompt"]] = "prompt"
    rid: int
    prompt: str
    world_type: WorldType | None = None
    seed: int | None = None
    max_instances: int | None = None
    room: bool = True


@dataclass(frozen=True, slots=True)
class Cancel:
    TYPE: ClassVar[Literal["cancel"]] = "cancel"
    rid: int
    target: int


@dataclass(frozen=True, slots=True)
class Telemetry:
    TYPE: ClassVar[Literal["telemetry"]] = "telemetry"
    rid: int
    events: tuple[TelemetryEvent, ...]
    #: Events the decoder set aside (valid id, invalid content): the server reports them in
    #: telemetry.ack.rejected so one bad event never poisons a batch (docs/protocol.md §7.3).
    rejected: tuple[TelemetryRejection, ...] = field(default=(), metadata=LOCAL_ONLY)


@dataclass(frozen=True, slots=True)
class Join:
    TYPE: ClassVar[Literal["join"]] = "join"
    rid: int
    world_id: str
    since_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    TYPE: ClassVar[Literal["leave"]] = "leave"
    rid: int
    world_id: str


@dataclass(frozen=True, slots=True)
class Edit:
    TYPE: ClassVar[Literal["edit"]] = "edit"
    rid: int
    world_id: str
    ops: tuple[EditOp, ...]


@dataclass(frozen=True, slots=True)
class Presence:
    TYPE: ClassVar[Literal["presence"]] = "presence"
    world_id: str
    cursor: Vec3 | None = None
    selection: tuple[str, ...] | None = None


# --- server → client -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome:
    TYPE: ClassVar[Literal["welcome"]] = "welcome"
    session_id: str
    user_id: str
    server_version: str
    protocol: int
    heartbeat_s: float
    limits: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class AuthOk:
    TYPE: ClassVar[Literal["auth.ok"]] = "auth.ok"
    rid: int
    user_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Pong:
    TYPE: ClassVar[Literal["pong"]] = "pong"
    rid: int
    server_time: float


@dataclass(frozen=True, slots=True)
class GenStart:
    TYPE: ClassVar[Literal["gen.start"]] = "gen.start"
    rid: int
    world_id: str
    #: The requesting session: room members see the requester's rid, so a client matches
    #: gen.start to its own prompt by (session_id, rid) (docs/protocol.md §7.2).
    session_id: str
    header: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GenChunk:
    TYPE: ClassVar[Literal["gen.chunk"]] = "gen.chunk"
    rid: int
    world_id: str
    index: int
    instances: Sequence[Instance]


@dataclass(frozen=True, slots=True)
class GenDone:
    TYPE: ClassVar[Literal["gen.done"]] = "gen.done"
    rid: int
    world_id: str
    status: GenStatus
    instances: int
    chunks: int
    timings: Mapping[str, float]
    warnings: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Cancelled:
    TYPE: ClassVar[Literal["cancelled"]] = "cancelled"
    rid: int
    target: int


@dataclass(frozen=True, slots=True)
class TelemetryAck:
    TYPE: ClassVar[Literal["telemetry.ack"]] = "telemetry.ack"
    rid: int
    ids: Sequence[str]
    duplicates: Sequence[str] = ()
    rejected: Sequence[TelemetryRejection] = ()


@dataclass(frozen=True, slots=True)
class Joined:
    TYPE: ClassVar[Literal["joined"]] = "joined"
    rid: int
    world_id: str
    seq: int
    role: Role
    mode: JoinMode
    members: Sequence[Member]


@dataclass(frozen=True, slots=True)
class Snapshot:
    TYPE: ClassVar[Literal["snapshot"]] = "snapshot"
    rid: int
    world_id: str
    seq: int
    index: int
    last: bool
    instances: Sequence[Instance]
    header: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class WorldOp:
    TYPE: ClassVar[Literal["op"]] = "op"
    world_id: str
    seq: int
    author: str
    ops: Sequence[EditOp]


@dataclass(frozen=True, slots=True)
class EditAck:
    TYPE: ClassVar[Literal["edit.ack"]] = "edit.ack"
    rid: int
    world_id: str
    seq: int
    results: Sequence[EditResult]


@dataclass(frozen=True, slots=True)
class Left:
    TYPE: ClassVar[Literal["left"]] = "left"
    rid: int
    world_id: str


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    TYPE: ClassVar[Literal["presence"]] = "presence"
    world_id: str
    event: PresenceKind
    member: Member
    cursor: Sequence[float] | None = None
    selection: Sequence[str] | None = None
    #: Several joins (or leaves) of one room tick in one frame: all of them in order, `member`
    #: being the first (docs/protocol.md §7.4). Absent when the frame is about one member.
    members: Sequence[Member] | None = None


@dataclass(frozen=True, slots=True)
class Error:
    TYPE: ClassVar[Literal["error"]] = "error"
    code: int
    name: str
    message: str
    rid: int | None = None
    fields: Mapping[str, str] | None = None
    retry_after_s: float | None = None
    #: The world an unsolicited error is about (resync, deletion, lost access).
    world_id: str | None = None


@dataclass(frozen=True, slots=True)
class Bye:
    TYPE: ClassVar[Literal["bye"]] = "bye"
    code: int
    reason: str
    reconnect: bool
    retry_after_s: float | None = None
    supported_versions: Sequence[int] | None = None
    message: str | None = None


ClientMessage = (
    Hello | AuthRefresh | Ping | Prompt | Cancel | Telemetry | Join | Leave | Edit | Presence
)
ServerMessage = (
    Welcome
    | AuthOk
    | Pong
    | GenStart
    | GenChunk
    | GenDone
    | Cancelled
    | TelemetryAck
    | Joined
    | Snapshot
    | WorldOp
    | EditAck
    | Left
    | PresenceEvent
    | Error
    | Bye
)

CLIENT_MESSAGES: Final[dict[str, type[ClientMessage]]] = {
    cls.TYPE: cls for cls in get_args(ClientMessage)
}
SERVER_MESSAGES: Final[dict[str, type[ServerMessage]]] = {
    cls.TYPE: cls for cls in get_args(ServerMessage)
}


def wire_fields(cls: type[Any]) -> tuple[str, ...]:
    """Names of the fields of message ``cls`` that travel on the wire, in encoding order."""
    return tuple(f.name for f in fields(cls) if f.metadata.get("wire", True))
