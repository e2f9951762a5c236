"""What a room sends and to whom: the member interface a room needs of a connection (`Peer`),
its members (`Member`), the frames of a broadcast (`Out`), and the op and ack frames of an edit
(`op_frame`, `results_of`). The delivery itself is server/room.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from protocol import messages as m
from protocol.codec import encode_presence_batch, encode_raw
from protocol.codes import ErrorCode

from .writer import Writer


class Peer(Protocol):
    """What a room needs of a member's connection (server/session.py `Session` is one; the
    in-memory tests use a recording one). `rooms` is the connection's joined rooms by world id:
    only the Room adds to it or removes from it (`_add`, `add_generator`, `remove`)."""

    id: str
    display_name: str
    writer: Writer
    rooms: dict[str, Any]  # server/room.py Room objects, by world id

    @property
    def user_id(self) -> str: ...

    @property
    def public_id(self) -> str: ...

    def send(self, msg: m.ServerMessage) -> bool: ...

    def send_bytes(self, data: bytes, frame: bytes | None = None) -> bool: ...

    def send_error(self, code: ErrorCode, rid: int | None = None, message: str | None = None, *,
                   world_id: str | None = None) -> None: ...

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]: ...



@dataclass(slots=True)
class Out:
    """One frame of a broadcast and whom it is not for (see Room._broadcast)."""

    frame: bytes
    seq: int | None = None  # an op: members whose base_seq is at or past it skip it
    origin: str | None = None  # an op: its author's session, which gets `edit.ack` instead
    rid: int | None = None
    results: list[dict[str, Any]] | None = None
    ack: bytes | None = None  # the `edit.ack`, encoded once
    exclude: str | None = None  # a frame or presence event: not echoed to this session
    first_ord: int | None = None  # a gen.chunk: members whose snapshot holds it skip it
    event: str | None = None  # a presence join or leave: merged with its neighbours (Room._coalesce)
    about: list[tuple[str, dict[str, Any]]] | None = None  # with `event`: (session id, member) announced
    packed: list[bytes] | None = None  # a merged presence event: its members, packed once
    sessions: set[str] | None = None  # … the sessions it announces
    variants: dict[str, bytes | None] | None = None  # … and its frame without each of them

    def without(self, world_id: str, sid: str) -> bytes | None:
        """A merged presence event's frame for `sid`, one of the sessions it announces: the same
        frame without `sid` (a session does not get its own presence), built once; None if it
        announced only `sid`."""
        assert self.about is not None and self.packed is not None and self.event is not None
        if self.variants is None:
            self.variants = {}
        if sid not in self.variants:
            rest = [p for (s, _), p in zip(self.about, self.packed, strict=True) if s != sid]
            self.variants[sid] = encode_presence_batch(world_id, self.event, rest) if rest else None
        return self.variants[sid]


@dataclass(slots=True)
class Member:
    session: Peer
    role: str
    base_seq: int  # ops up to here are already in what this member was sent
    gen_base: int  # generation instances below this stream position came in its snapshot
    held: list[bytes] | None = None  # while its snapshot is paced out: its broadcast frames, in order
    held_bytes: int = 0
    pacer: asyncio.Task[Any] | None = None  # the task pacing its snapshot out (Room._pace)

    def wire(self) -> dict[str, Any]:
        return member_record(self.session, self.role)


def member_record(session: Peer, role: str) -> dict[str, Any]:
    """A member as the protocol shows it (docs/protocol.md §6.2) and presence stores it."""
    # `user_id` carries the opaque public id: the account id is a guest's login (issue 15).
    return {"user_id": session.public_id, "display_name": session.display_name, "role": role,
            "session_id": session.id}


def op_frame(world_id: str, seq: int, author: str, stored_ops: list[dict[str, Any]]) -> bytes:
    """The `op` frame for other members: the applied ops of a batch (docs/protocol.md §7.4);
    `author` is the author's public id, never the account id."""
    ops = [{k: v for k, v in op.items() if k != "outcome"} for op in stored_ops if op["outcome"] == "applied"]
    return encode_raw("op", {"world_id": world_id, "seq": seq, "author": author, "ops": ops})


def results_of(stored_ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """edit.ack results; an add also names its prefab_type (docs/protocol.md §7.4)."""
    out = []
    for i, op in enumerate(stored_ops):
        result = {"i": i, "outcome": op["outcome"], "id": op["id"]}
        if op["op"] == "add":
            result["prefab_type"] = op["prefab_type"]
        out.append(result)
    return out
