"""The hub: world id → Room on this node, and the session handlers for shared worlds
(join, leave, edit, presence). A room exists while it has members and is dropped, with
its broker subscription, when the last one leaves.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
from typing import TYPE_CHECKING, Any

from generator import bounds_contains
from persistence.errors import CommitUnknown, Conflict, LimitExceeded, NotFound
from protocol import messages as m
from protocol.codec import encode
from protocol.codes import CloseCode, ErrorCode

from .broker import Broker, Envelope
from .context import Services
from .failures import RequestRefused, store_outage
from .metrics import Metrics
from .plays import count_play
from .room import Room, member_record, op_frame, results_of

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("immersiverse.hub")
EDIT_ROLES = ("owner", "editor")
# A rotation's length may be off by float rounding (0.7071² × 2 = 0.99998), not by more.
QUAT_TOLERANCE = 1e-3
COMPACT_EVERY = 100
# How long an edit whose commit outcome is unknown is kept open while its op is read back.
RESOLVE_EDIT_S = 60.0
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class Hub:
    def __init__(self, services: Services, broker: Broker, metrics: Metrics) -> None:
        self.services = services
        self.broker = broker
        self.metrics = metrics
        self.rooms: dict[str, Room] = {}
        self._pending: dict[str, int] = {}  # joins in progress per world: keeps its room alive
        self._creating: dict[str, asyncio.Lock] = {}
        self._logged: dict[str, int] = {}  # op bytes logged per world on this node since its last compaction
        broker.bind(self._on_broker)

    def _on_broker(self, world_id: str, env: Envelope) -> None:
        room = self.rooms.get(world_id)
        if room is not None:
            room.deliver(env)

    # -- rooms ------------------------------------------------------------------------------------
    async def _room(self, world_id: str, new: tuple[int, bool, Any] | None = None) -> Room:
        """The world's room on this node, opened on first use. `new` = (seq, generating, bounds)
        of a world this node has just created, which need not be read back."""
        room = self.rooms.get(world_id)
        if room is not None:
            return room
        lock = self._creating.setdefault(world_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(world_id)
            if room is None:
                # Subscribe before reading the seq: every op committed after the read is
                # then delivered through the broker (or found by the gap fill).
                await self.broker.subscribe(world_id)
                if new is None:
                    world = await self.services.store.worlds.require(world_id)
                    new = (world.seq, world.status == "generating", (world.header or {}).get("bounds"))
                room = Room(self, world_id, *new)
                self.rooms[world_id] = room
                self.metrics.rooms.set(len(self.rooms))
        self._creating.pop(world_id, None)
        return room

    async def _drop_if_empty(self, room: Room) -> None:
        if room.members or self._pending.get(room.world_id) or self.rooms.get(room.world_id) is not room:
            return
        del self.rooms[room.world_id]
        self._logged.pop(room.world_id, None)
        self.metrics.rooms.set(len(self.rooms))
        await room.close()
        await self.broker.unsubscribe(room.world_id)

    async def member_list(self, world_id: str) -> list[dict[str, Any]]:
        return await self.broker.presence_list(world_id)

    async def _announce(self, room: Room, session: Session, event: str, role: str) -> None:
        """Publish a presence join/leave; the presence record itself is the caller's."""
        frame = encode(m.PresenceEvent(world_id=room.world_id, event=event,  # type: ignore[arg-type]
                                       member=member_record(session, role)))  # type: ignore[arg-type]
        await self.broker.publish(room.world_id, {"k": "presence", "f": frame, "o": session.id, "e": event,
                                                  "m": member_record(session, role)})

    # -- generation ---------------------------------------------------------------------------------
    async def open_generation(self, session: Session, world_id: str, header: dict[str, Any]) -> Room:
        room = await self._room(world_id, (0, True, header.get("bounds")))
        room.add_generator(session)
        await self.broker.presence_set(world_id, session.id, member_record(session, "owner"))
        await self._announce(room, session, "join", "owner")
        return room

    # -- handlers ---------------------------------------------------------------------------------------
    async def _role(self, session: Session, world_id: str) -> str:
        try:
            role = await self.services.store.worlds.role_in(world_id, session.user_id)
        except NotFound:
            raise RequestRefused(ErrorCode.NOT_FOUND, f"world {world_id} not found") from None
        if role is None:
            raise RequestRefused(ErrorCode.FORBIDDEN, "this world is private; ask its owner for an invitation")
        return "viewer" if role == "public" else role

    async def on_join(self, session: Session, msg: m.Join) -> None:
        if msg.world_id in session.rooms:
            await self._leave(session, session.rooms[msg.world_id])
        role = await self._role(session, msg.world_id)
        self._pending[msg.world_id] = self._pending.get(msg.world_id, 0) + 1
        try:
            room = await self._room(msg.world_id)
            # Recorded before the join runs, so the member list in `joined` includes us.
            await self.broker.presence_set(msg.world_id, session.id, member_record(session, role))
            await room.join(session, msg.rid, role, msg.since_seq)
        except BaseException as exc:
            await self.broker.presence_remove(msg.world_id, session.id)
            if isinstance(exc, NotFound):
                raise RequestRefused(ErrorCode.NOT_FOUND, f"world {msg.world_id} not found") from None
            raise
        finally:
            self._pending[msg.world_id] -= 1
            if not self._pending[msg.world_id]:
                del self._pending[msg.world_id]
        if msg.world_id in session.rooms:
            await self._announce(room, session, "join", role)
            await count_play(self.services, msg.world_id, session.user_id)  # docs/discover.md §3
        else:
            await self.broker.presence_remove(msg.world_id, session.id)
            await self._drop_if_empty(room)

    async def on_leave(self, session: Session, msg: m.Leave) -> None:
        room = session.rooms.get(msg.world_id)
        if room is None:
            raise RequestRefused(ErrorCode.NOT_JOINED, f"not joined to world {msg.world_id}")
        await self._leave(session, room)
        session.send(m.Left(rid=msg.rid, world_id=msg.world_id))

    async def _leave(self, session: Session, room: Room) -> None:
        member = room.remove(session)
        if member is not None:
            await self.broker.presence_remove(room.world_id, session.id)
            await self._announce(room, session, "leave", member.role)
        await self._drop_if_empty(room)

    async def session_closed(self, session: Session) -> None:
        for room in list(session.rooms.values()):
            try:
                await self._leave(session, room)
            except Exception:  # the broker may be down; the presence record then expires
                log.warning("session %s: leaving %s failed", session.id, room.world_id, exc_info=True)

    async def on_presence(self, session: Session, msg: m.Presence) -> None:
        room = session.rooms.get(msg.world_id)
        if room is None:
            raise RequestRefused(ErrorCode.NOT_JOINED, f"not joined to world {msg.world_id}")
        if not session.presence_bucket.take():
            return  # ephemeral: a dropped cursor update is replaced by the next one
        member = room.members[session.id].wire()
        frame = encode(m.PresenceEvent(world_id=msg.world_id, event="update", member=member,
                                       cursor=msg.cursor, selection=msg.selection))
        await self.broker.publish(msg.world_id, {"k": "frame", "f": frame, "o": session.id, "x": 1})

    async def on_edit(self, session: Session, msg: m.Edit) -> None:
        room = session.rooms.get(msg.world_id)
        if room is None:
            raise RequestRefused(ErrorCode.NOT_JOINED, f"join world {msg.world_id} before editing it")
        member = room.members.get(session.id)
        if member is None or member.role not in EDIT_ROLES:
            raise RequestRefused(ErrorCode.FORBIDDEN, "viewers cannot edit this world")
        ops, new_ids = self._validated_ops(msg, room.bounds)
        cap = self.services.settings.max_instances_per_world
        try:
            applied = await self.services.store.edits.apply(
                msg.world_id, session.user_id, ops, session_id=session.id, rid=msg.rid, new_ids=new_ids,
                max_instances=cap, max_props_bytes=self.services.settings.max_props_bytes)
        except LimitExceeded as exc:
            adds = sum(1 for op in ops if op["op"] == "add")
            raise RequestRefused(ErrorCode.LIMIT_EXCEEDED, str(exc), fields=exc.fields or {
                "ops": f"{adds} adds would exceed max_instances_per_world"}) from None
        except Conflict as exc:
            raise RequestRefused(ErrorCode.CONFLICT, str(exc)) from None
        except NotFound:
            raise RequestRefused(ErrorCode.NOT_FOUND, f"world {msg.world_id} not found") from None
        except CommitUnknown as exc:
            # The store went away during the COMMIT: the edit may be stored. Its one final
            # frame waits until the op log says (docs/protocol.md §8.3).
            store_outage(exc, self.services.settings.store_retry_after_s)
            session.spawn(self._resolve_edit(session, msg), "edit-outcome")
            return
        if not applied.advanced:
            session.send(m.EditAck(rid=msg.rid, world_id=msg.world_id, seq=applied.seq,
                                   results=results_of(applied.ops)))  # type: ignore[arg-type]
            return
        size = await self._publish_op(session, msg.world_id, msg.rid, applied.seq, session.user_id, applied.ops)
        await self._bound_oplog(session, msg.world_id, applied.seq, size)

    async def _bound_oplog(self, session: Session, world_id: str, seq: int, size: int) -> None:
        """Keep the op log within `oplog_retention_ops` ops and about `oplog_max_bytes` bytes.

        By count every COMPACT_EVERY ops (in the background); by size once a quarter of the
        byte budget has been logged here since the last compaction — awaited, so that an
        editor sending big ops cannot outrun it (the world's log stays under 1.25× the budget
        plus one batch per node)."""
        s = self.services.settings
        logged = self._logged[world_id] = self._logged.get(world_id, 0) + size
        if logged >= s.oplog_max_bytes // 4:
            del self._logged[world_id]
            await self.services.store.edits.compact(world_id, s.oplog_retention_ops, s.oplog_max_bytes)
        elif seq % COMPACT_EVERY == 0:
            session.spawn(self.services.store.edits.compact(world_id, s.oplog_retention_ops, s.oplog_max_bytes),
                          "compact")

    async def _publish_op(self, session: Session, world_id: str, rid: int, seq: int, author: str,
                          ops: list[dict[str, Any]]) -> int:
        """Publish a stored op (`author` an account id, shown as its public id); its author gets
        `edit.ack` from the room, once (a room drops a seq it has already delivered, e.g. from a
        gap fill). Returns the op frame's size."""
        self.metrics.ops.inc()
        frame = op_frame(world_id, seq, self.services.public_id(author), ops)
        await self.broker.publish(world_id, {"k": "op", "s": seq, "f": frame, "o": session.id, "r": rid,
                                             "res": results_of(ops)})
        return len(frame)

    async def _resolve_edit(self, session: Session, msg: m.Edit) -> None:
        """Read back the op of an edit whose commit outcome is unknown, by (session, rid): stored
        → `edit.ack` (through the room); not stored → `unavailable` (resending is safe). While
        the store stays unreachable, retry every `store_retry_after_s`, up to RESOLVE_EDIT_S;
        then close 4005 without a final frame: the client resumes with since_seq, where a
        stored edit comes back as an op (docs/protocol.md §8.3)."""
        retry = self.services.settings.store_retry_after_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESOLVE_EDIT_S
        while session.open:
            try:
                row = await self.services.store.edits.op_of_request(msg.world_id, session.id, msg.rid)
            except Exception as exc:
                if store_outage(exc, retry) is None:
                    raise
                if loop.time() + retry > deadline:
                    session.close_soon(CloseCode.UNAVAILABLE, retry_after_s=retry,
                                       message=f"the outcome of edit rid {msg.rid} is unknown; resume with since_seq")
                    return
                await asyncio.sleep(retry)
                continue
            if row is None:
                session.send_error(ErrorCode.UNAVAILABLE, msg.rid, "the store is unavailable; the edit was not "
                                   "applied, send it again", retry_after_s=retry)
            else:
                await self._publish_op(session, msg.world_id, msg.rid, row.seq, row.author_id, row.ops)
            return

    def _validated_ops(self, msg: m.Edit, bounds: Any) -> tuple[list[dict[str, Any]], list[str]]:
        catalog = self.services.catalog.by_id
        ops: list[dict[str, Any]] = []
        new_ids: list[str] = []
        for i, op in enumerate(msg.ops):
            kind = op.OP
            out: dict[str, Any] = {"op": kind}
            for name in ("id", "prefab_id", "pos", "rot", "scale", "props"):
                value = getattr(op, name, None)
                if value is not None:
                    out[name] = list(value) if isinstance(value, tuple) else value
            if kind == "add":
                prefab = catalog.get(out["prefab_id"])
                if prefab is None:
                    raise RequestRefused(ErrorCode.UNKNOWN_PREFAB, f"prefab {out['prefab_id']} is not in the catalog",
                                         fields={f"ops[{i}].prefab_id": "unknown prefab"})
                out["prefab_type"] = prefab["type"]
                new_id = out.get("id") or f"e{secrets.token_hex(6)}"
                if not _INSTANCE_ID.match(new_id):
                    raise RequestRefused(ErrorCode.INVALID_VALUE, fields={f"ops[{i}].id": "invalid instance id"})
                new_ids.append(new_id)
            else:
                new_ids.append("")
            for key in ("pos", "rot", "scale"):
                if key in out and not all(math.isfinite(v) for v in out[key]):
                    raise RequestRefused(ErrorCode.NON_FINITE_NUMBER, fields={f"ops[{i}].{key}": "must be finite"})
            if "rot" in out and abs(math.hypot(*out["rot"]) - 1.0) > QUAT_TOLERANCE:
                # docs/protocol.md §6.1: rotations are unit quaternions; [1e308, 1e308, 0, 0] is not one
                raise RequestRefused(ErrorCode.INVALID_VALUE, fields={f"ops[{i}].rot": "must be a unit quaternion"})
            if "scale" in out and not all(0 < v <= 100 for v in out["scale"]):
                raise RequestRefused(ErrorCode.INVALID_VALUE, fields={f"ops[{i}].scale": "must be in (0, 100]"})
            if "pos" in out and bounds and not bounds_contains(bounds, out["pos"]):
                raise RequestRefused(ErrorCode.OUT_OF_BOUNDS, f"ops[{i}] lies outside the world bounds",
                                     fields={f"ops[{i}].pos": "outside the world bounds"})
            ops.append(out)
        return ops, new_ids

    # -- world-level control (REST changes, deletions) -------------------------------------------
    async def world_deleted(self, world_id: str) -> None:
        await self.broker.publish(world_id, {"k": "control", "c": "deleted"})

    async def generation_orphaned(self, world_id: str) -> None:
        """The world's generating node died and the world is now `partial` (server/leases.py)."""
        await self.broker.publish(world_id, {"k": "control", "c": "orphaned"})

    async def roles_changed(self, world_id: str) -> None:
        await self.broker.publish(world_id, {"k": "control", "c": "roles"})

    async def on_control(self, room: Room, env: Envelope) -> None:
        if env.get("c") == "deleted":
            for member in list(room.members.values()):
                member.session.send_error(ErrorCode.NOT_FOUND, None, f"world {room.world_id} was deleted",
                                          world_id=room.world_id)
                room.remove(member.session)
                await self.broker.presence_remove(room.world_id, member.session.id)
            asyncio.get_running_loop().create_task(self._drop_if_empty(room))
        elif env.get("c") == "roles":
            world = await self.services.store.worlds.get(room.world_id)
            for member in list(room.members.values()):
                role = (None if world is None
                        else await self.services.store.worlds.role_of(world, member.session.user_id))
                if role is None:
                    member.session.send_error(ErrorCode.FORBIDDEN, None,
                                              f"you no longer have access to {room.world_id}",
                                              world_id=room.world_id)
                    room.remove(member.session)
                    await self.broker.presence_remove(room.world_id, member.session.id)
                else:
                    member.role = "viewer" if role == "public" else role
            asyncio.get_running_loop().create_task(self._drop_if_empty(room))
        elif env.get("c") == "orphaned" and room.generating:
            # docs/protocol.md §7.2: the generation's final frame, sent for its dead node. The
            # prompt's rid died with the requester's session: 0; members follow by world_id.
            room.generation_finished()
            world = await self.services.store.worlds.get(room.world_id)
            count = world.instance_count if world is not None else 0
            frame = encode(m.GenDone(rid=0, world_id=room.world_id, status="partial", instances=count,
                                     chunks=-(-count // self.services.settings.chunk_size), timings={},
                                     warnings=["the node generating this world stopped; it is stored as partial"]))
            for member in list(room.members.values()):
                member.session.send_bytes(frame)
        elif env.get("c") == "expired" and isinstance(env.get("m"), dict):
            # Its node died (broker_redis.py reaps records no longer refreshed): say goodbye
            # for it, as its own node would have on a close (docs/protocol.md §7.4).
            member = env["m"]
            room.known.pop(str(member.get("session_id")), None)
            frame = encode(m.PresenceEvent(world_id=room.world_id, event="leave", member=member))
            for local in list(room.members.values()):
                if local.session.id != member.get("session_id"):
                    local.session.send_bytes(frame)

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await room.close()
        self.rooms.clear()

