"""WorldView: a joined world kept up to date from snapshot, replay, op and gen frames.

All state changes happen in the session's reader task, in frame order, so ``instances`` and
``seq`` always describe the world as of one sequence number (docs/protocol.md §7.4).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from protocol import messages as m
from protocol import values as val
from records import InstanceRecord

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Resumed", "WorldView", "apply_ops", "op_to_wire"]

log = logging.getLogger("immersiverse.client.world")
EVENT_QUEUE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Resumed:
    """Local event: the view was re-joined after a reconnect (``mode`` replay or snapshot)."""

    world_id: str
    mode: str
    seq: int


def op_to_wire(op: val.EditOp | Mapping[str, Any]) -> dict[str, Any]:
    """An op dataclass (or an op map) as a plain wire map."""
    if isinstance(op, Mapping):
        return dict(op)
    out: dict[str, Any] = {"op": op.OP}
    for name in ("id", "prefab_id", "pos", "rot", "scale", "props"):
        value = getattr(op, name, None)
        if value is not None:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _floats(v: Any) -> tuple[float, ...] | None:
    return None if v is None else tuple(float(x) for x in v)


# The casts below do not check lengths (or a missing pos) on purpose: a user's op is forwarded
# as given and the server's decoder answers a malformed one with a field error (docs/protocol.md §6.1).
def _vec3(v: Any) -> val.Vec3 | None:
    return cast("val.Vec3 | None", _floats(v))


def _quat(v: Any) -> val.Quat | None:
    return cast("val.Quat | None", _floats(v))


def op_from_wire(op: Mapping[str, Any]) -> val.EditOp:
    """A user's op map ({"op": "add", ...}) as the protocol dataclass the encoder expects."""
    kind = op.get("op")
    if kind == "add":
        return val.AddOp(prefab_id=op["prefab_id"], pos=cast(val.Vec3, _vec3(op["pos"])), id=op.get("id"),
                         rot=_quat(op.get("rot")), scale=_vec3(op.get("scale")), props=op.get("props"))
    if kind == "move":
        return val.MoveOp(id=op["id"], pos=_vec3(op.get("pos")), rot=_quat(op.get("rot")),
                          scale=_vec3(op.get("scale")))
    if kind == "set":
        return val.SetOp(id=op["id"], props=op["props"])
    if kind == "remove":
        return val.RemoveOp(id=op["id"])
    raise ValueError(f"unknown op kind {kind!r}")


def apply_ops(instances: dict[str, dict[str, Any]], ops: Sequence[Mapping[str, Any]]) -> None:
    """Apply applied ops (wire maps, add ops with their ``id``) to an id → instance map."""
    for op in ops:
        kind, iid = op.get("op"), op.get("id")
        if kind == "add" and iid:
            instances[iid] = InstanceRecord.from_wire(op).wire()  # rot, scale, props filled in
        elif kind == "move" and iid in instances:
            inst = instances[iid]
            for key in ("pos", "rot", "scale"):
                if op.get(key) is not None:
                    inst[key] = list(op[key])
        elif kind == "set" and iid in instances:
            props = dict(instances[iid].get("props") or {})
            for k, v in (op.get("props") or {}).items():
                if v is None:
                    props.pop(k, None)
                else:
                    props[k] = v
            instances[iid]["props"] = props
        elif kind == "remove" and iid is not None:
            instances.pop(iid, None)


class WorldView:
    """A world this session joined. ``instances`` (id → instance map, §6.1) and ``seq`` are the
    world as of ``seq``; ``members``, ``role`` and ``header`` come from ``joined`` / snapshot."""

    def __init__(self, session: Session, world_id: str) -> None:
        self.session = session
        self.world_id = world_id
        self.instances: dict[str, dict[str, Any]] = {}
        self.seq = -1  # nothing applied yet
        self.role = ""
        self.mode = ""
        self.header: dict[str, Any] = {}
        self.members: dict[str, dict[str, Any]] = {}  # session_id → member
        self.status: str | None = None
        self.joined = False  # member of the room right now
        self.left = False  # left on purpose (or removed for good)
        self.gaps = 0  # op frames that skipped a seq (should stay 0)
        self._target = 0
        self._snapshot: dict[str, dict[str, Any]] | None = None
        self._ready = asyncio.Event()
        self._error: BaseException | None = None  # why the pending join could not complete
        self._resume = False
        self._subscribers: list[asyncio.Queue[Any]] = []

    def __repr__(self) -> str:
        return f"<WorldView {self.world_id} seq={self.seq} instances={len(self.instances)}>"

    # -- public API -----------------------------------------------------------------------------
    async def edit(self, ops: Sequence[val.EditOp | Mapping[str, Any]]) -> m.EditAck:
        """Send an atomic edit; returns ``edit.ack`` (raises ServerError when refused). The
        applied ops are already in ``instances`` when this returns."""
        return await self.session._edit(self, [op if not isinstance(op, Mapping) else op_from_wire(op)
                                               for op in ops])

    async def presence(self, cursor: Sequence[float] | None = None,
                       selection: Sequence[str] | None = None) -> None:
        """Send an ephemeral presence update (no reply; the server may drop excess ones)."""
        await self.session._send(m.Presence(
            world_id=self.world_id, cursor=tuple(cursor) if cursor is not None else None,  # type: ignore[arg-type]
            selection=tuple(selection) if selection is not None else None))

    async def leave(self) -> None:
        """Leave the world (``left`` awaited); the view stops updating."""
        await self.session._leave(self)

    def events(self) -> AsyncIterator[Any]:
        """Subscribe now; yields every later world event in order: ``WorldOp``, ``PresenceEvent``,
        ``GenStart`` / ``GenChunk`` / ``GenDone`` of the world, own ``EditAck``, ``Resumed`` after
        a reconnect, ``ServerError`` for rid-less errors about the world. Ends when the view is
        left; raises ``SessionClosed`` when the session ends for good."""
        queue: asyncio.Queue[Any] = asyncio.Queue(EVENT_QUEUE_MAX)
        self._subscribers.append(queue)
        return self._iterate(queue)

    async def _iterate(self, queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if queue in self._subscribers:
                self._subscribers.remove(queue)

    async def wait_seq(self, seq: int, timeout: float | None = None) -> None:
        """Wait until ``self.seq >= seq`` (e.g. after another member's edit)."""
        queue = asyncio.Queue[Any](EVENT_QUEUE_MAX)
        self._subscribers.append(queue)
        try:
            async with asyncio.timeout(timeout):
                while self.seq < seq:
                    item = await queue.get()
                    if item is _END:
                        raise RuntimeError(f"left world {self.world_id}")
                    if isinstance(item, BaseException):
                        raise item
        finally:
            self._subscribers.remove(queue)

    # -- reader side (called by Session in frame order) -----------------------------------------
    def _emit(self, event: Any) -> None:
        for queue in self._subscribers:
            if queue.full():  # a subscriber that never reads must not grow memory without bound
                log.warning("world %s: event subscriber is %d behind; dropping its oldest event",
                            self.world_id, queue.qsize())
                queue.get_nowait()
            queue.put_nowait(event)

    def _end(self, exc: BaseException | None = None) -> None:
        self.joined = False
        self._ready.set()
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(exc if exc is not None else _END)

    def _on_joined(self, msg: m.Joined) -> None:
        self.joined = True
        self.role, self.mode, self._target = msg.role, msg.mode, msg.seq
        self.members = {mb["session_id"]: dict(mb) for mb in msg.members}
        if msg.mode == "snapshot":
            self._snapshot = {}
        elif self.seq >= msg.seq:
            self._became_ready()

    def _on_snapshot(self, msg: m.Snapshot) -> None:
        if self._snapshot is None:
            self._snapshot = {}
        if msg.header is not None:
            self.header = dict(msg.header)
            self.status = self.header.get("status", self.status)
        for inst in msg.instances:
            self._snapshot[inst["id"]] = dict(inst)
        if msg.last:
            # Replace wholesale: a snapshot after a resume never duplicates what we had.
            self.instances, self._snapshot = self._snapshot, None
            self.seq = msg.seq
            self._became_ready()

    def _on_op(self, msg: m.WorldOp, wire_ops: list[dict[str, Any]]) -> None:
        if msg.seq <= self.seq:
            return  # already applied (a replay overlapping what we had)
        if self.seq >= 0 and msg.seq != self.seq + 1:
            self.gaps += 1
            log.warning("world %s: op seq %d after %d", self.world_id, msg.seq, self.seq)
        apply_ops(self.instances, wire_ops)
        self.seq = msg.seq
        self._emit(msg)
        if not self._ready.is_set() and self.seq >= self._target:
            self._became_ready()

    def _on_ack(self, ack: m.EditAck, ops: list[val.EditOp]) -> None:
        applied = []
        for res, op in zip(ack.results, ops, strict=False):
            if res["outcome"] == "applied":
                wire = op_to_wire(op)
                wire["id"] = res["id"]
                if wire["op"] == "add":
                    wire["prefab_type"] = self.session._prefab_type(wire["prefab_id"])
                applied.append(wire)
        if ack.seq > self.seq:
            apply_ops(self.instances, applied)
            self.seq = ack.seq
        self._emit(ack)

    def _on_gen(self, msg: m.GenStart | m.GenChunk | m.GenDone) -> None:
        if isinstance(msg, m.GenStart):
            self.header = {**dict(msg.header), "status": "generating"}
            self.status = "generating"
        elif isinstance(msg, m.GenChunk):
            target = self._snapshot if self._snapshot is not None else self.instances
            for inst in msg.instances:
                target[inst["id"]] = dict(inst)
        else:
            self.status = "complete" if msg.status == "complete" else "partial"
        self._emit(msg)

    def _on_presence(self, msg: m.PresenceEvent) -> None:
        # `members`: the joins (or leaves) of one room tick in one frame (docs/protocol.md §7.4)
        for member in msg.members or (msg.member,):
            if msg.event == "leave":
                self.members.pop(member["session_id"], None)
            else:
                self.members[member["session_id"]] = dict(member)
        self._emit(msg)

    def _became_ready(self) -> None:
        self._ready.set()
        if self._resume:
            self._resume = False
            self._emit(Resumed(self.world_id, self.mode, self.seq))


_END = object()
