"""Shared worlds on a session: join, leave, edit and presence, and leaving every room when the
session ends (docs/protocol.md §7.4). The hub finds the world's room (server/hub.py), the room
delivers (server/room.py); these handlers check who may do what, store edits and publish.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from persistence.errors import CommitUnknown, LimitExceeded
from protocol import messages as m
from protocol.codec import encode, encode_presence_batch, pack_member
from protocol.codes import ErrorCode

from .edit_ops import EDIT_ROLES, validated_ops
from .failures import EDIT_NOT_STORED, EDIT_UNRESOLVED, RequestRefused, store_outage
from .plays import count_play
from .room import Room
from .room_frames import member_record, op_frame, results_of
from .session import Session

log = logging.getLogger("immersiverse.hub")
COMPACT_EVERY = 100
# How long an edit whose commit outcome is unknown is kept open while its op is read back.
RESOLVE_EDIT_S = 60.0


async def _announce(session: Session, room: Room, event: str, role: str) -> None:
    """Publish a presence join/leave; the presence record itself is the caller's."""
    record = member_record(session, role)
    # encode_presence_batch of one member is encode(PresenceEvent(world_id, event, member)), byte for byte
    frame = encode_presence_batch(room.world_id, event, [pack_member(record)])
    await session.hub.broker.publish(room.world_id, {"k": "presence", "f": frame, "o": session.id, "e": event,
                                                     "m": dict(record)})


def _joined(session: Session, world_id: str, what: str) -> Room:
    room = session.rooms.get(world_id)
    if room is None:
        raise RequestRefused(ErrorCode.NOT_JOINED, what)
    return room


# -- generation ---------------------------------------------------------------------------------
async def open_generation(session: Session, world_id: str, header: dict[str, Any]) -> Room:
    """The new world's room, with the requester as its first member (docs/protocol.md §7.2)."""
    room = await session.hub.room(world_id, (0, True, header.get("bounds")))
    room.add_generator(session)
    await session.hub.broker.presence_set(world_id, session.id, member_record(session, "owner"))
    await _announce(session, room, "join", "owner")
    return room


# -- join and leave -------------------------------------------------------------------------------
async def on_join(session: Session, msg: m.Join) -> None:
    hub, broker = session.hub, session.hub.broker
    if msg.world_id in session.rooms:
        await _leave(session, session.rooms[msg.world_id])
    # One read (shared by the joins of this world that arrive together, server/hub.py): the
    # access check, the world's snapshot version (the room may serve a snapshot it holds of
    # that version, server/room.py) and whether a play would count.
    check = await hub.join_check(msg.world_id, session.user_id)  # NotFound: not_found
    if check.role is None:
        raise RequestRefused(ErrorCode.FORBIDDEN, "this world is private; ask its owner for an invitation")
    role = "viewer" if check.role == "public" else check.role
    with hub.joining(msg.world_id):
        try:
            room = await hub.room(msg.world_id)
            # Recorded before the join runs, so the member list in `joined` includes us.
            await broker.presence_set(msg.world_id, session.id, member_record(session, role))
            await room.join(session, msg.rid, role, msg.since_seq, check.version)
        except BaseException:  # (NotFound: the world was deleted meanwhile; not_found)
            await broker.presence_remove(msg.world_id, session.id)
            raise
    if msg.world_id in session.rooms:
        await _announce(session, room, "join", role)
        if check.has_cards:  # docs/discover.md §3 (a world without a card of another author counts no play)
            await count_play(session.services, msg.world_id, session.user_id)
    else:
        await broker.presence_remove(msg.world_id, session.id)
        await hub.drop_if_empty(room)


async def on_leave(session: Session, msg: m.Leave) -> None:
    room = _joined(session, msg.world_id, f"not joined to world {msg.world_id}")
    await _leave(session, room)
    session.send(m.Left(rid=msg.rid, world_id=msg.world_id))


async def _leave(session: Session, room: Room) -> None:
    member = room.remove(session)
    if member is not None:
        await session.hub.broker.presence_remove(room.world_id, session.id)
        await _announce(session, room, "leave", member.role)
    await session.hub.drop_if_empty(room)


async def leave_all(session: Session) -> None:
    """The session ended: leave its rooms, saying goodbye to their members."""
    for room in list(session.rooms.values()):
        try:
            await _leave(session, room)
        except Exception:  # the broker may be down; the presence record then expires
            log.warning("session %s: leaving %s failed", session.id, room.world_id, exc_info=True)


# -- presence ---------------------------------------------------------------------------------------
async def on_presence(session: Session, msg: m.Presence) -> None:
    room = _joined(session, msg.world_id, f"not joined to world {msg.world_id}")
    if not session.presence_bucket.take():
        return  # ephemeral: a dropped cursor update is replaced by the next one
    member = room.members[session.id].wire()
    frame = encode(m.PresenceEvent(world_id=msg.world_id, event="update", member=member,  # type: ignore[arg-type]
                                   cursor=msg.cursor, selection=msg.selection))
    await session.hub.broker.publish(msg.world_id, {"k": "frame", "f": frame, "o": session.id, "x": 1})


# -- edits ------------------------------------------------------------------------------------------
async def on_edit(session: Session, msg: m.Edit) -> None:
    room = _joined(session, msg.world_id, f"join world {msg.world_id} before editing it")
    member = room.members.get(session.id)
    if member is None or member.role not in EDIT_ROLES:
        raise RequestRefused(ErrorCode.FORBIDDEN, "viewers cannot edit this world")
    settings = session.settings
    ops, new_ids = validated_ops(msg, room.bounds, session.services.catalog.by_id)
    try:
        applied = await session.services.store.edits.apply(
            msg.world_id, session.user_id, ops, session_id=session.id, rid=msg.rid, new_ids=new_ids,
            max_instances=settings.max_instances_per_world, max_props_bytes=settings.max_props_bytes)
    except LimitExceeded as exc:
        if not exc.fields:  # the instance cap: name the adds
            adds = sum(1 for op in ops if op["op"] == "add")
            exc.fields = {"ops": f"{adds} adds would exceed max_instances_per_world"}
        raise
    except CommitUnknown as exc:
        # The store went away during the COMMIT: the edit may be stored. Its one final
        # frame waits until the op log says (docs/protocol.md §8.3).
        store_outage(exc, settings.store_retry_after_s)
        session.spawn(_resolve_edit(session, msg), "edit-outcome")
        return
    if not applied.advanced:
        session.send(m.EditAck(rid=msg.rid, world_id=msg.world_id, seq=applied.seq,
                               results=results_of(applied.ops)))  # type: ignore[arg-type]
        return
    size = await _publish_op(session, msg.world_id, msg.rid, applied.seq, session.user_id, applied.ops)
    await _bound_oplog(session, room, applied.seq, size)


async def _bound_oplog(session: Session, room: Room, seq: int, size: int) -> None:
    """Keep the op log within `oplog_retention_ops` ops and about `oplog_max_bytes` bytes.

    By count every COMPACT_EVERY ops (in the background); by size once a quarter of the
    byte budget has been logged here since the last compaction — awaited, so that an
    editor sending big ops cannot outrun it (the world's log stays under 1.25× the budget
    plus one batch per node)."""
    s, edits = session.settings, session.services.store.edits
    room.logged_bytes += size
    if room.logged_bytes >= s.oplog_max_bytes // 4:
        room.logged_bytes = 0
        await edits.compact(room.world_id, s.oplog_retention_ops, s.oplog_max_bytes)
    elif seq % COMPACT_EVERY == 0:
        session.spawn(edits.compact(room.world_id, s.oplog_retention_ops, s.oplog_max_bytes), "compact")


async def _publish_op(session: Session, world_id: str, rid: int, seq: int, author: str,
                      ops: list[dict[str, Any]]) -> int:
    """Publish a stored op (`author` an account id, shown as its public id); its author gets
    `edit.ack` from the room, once (a room drops a seq it has already delivered, e.g. from a
    gap fill). Returns the op frame's size."""
    hub = session.hub
    hub.metrics.ops.inc()
    frame = op_frame(world_id, seq, session.services.public_id(author), ops)
    await hub.broker.publish(world_id, {"k": "op", "s": seq, "f": frame, "o": session.id, "r": rid,
                                        "res": results_of(ops)})
    return len(frame)


async def _resolve_edit(session: Session, msg: m.Edit) -> None:
    """Read back the op of an edit whose commit outcome is unknown, by (session, rid): stored
    → `edit.ack` (through the room); not stored → `unavailable` (resending is safe). While
    the store stays unreachable, retry every `store_retry_after_s`, up to RESOLVE_EDIT_S;
    then close 4005 without a final frame: the client resumes with since_seq, where a
    stored edit comes back as an op (docs/protocol.md §8.3)."""
    retry = session.settings.store_retry_after_s
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RESOLVE_EDIT_S
    while session.open:
        try:
            row = await session.services.store.edits.op_of_request(msg.world_id, session.id, msg.rid)
        except Exception as exc:
            if store_outage(exc, retry) is None:
                raise
            if loop.time() + retry > deadline:
                session.close_soon(EDIT_UNRESOLVED, retry_after_s=retry,
                                   message=f"the outcome of edit rid {msg.rid} is unknown; resume with since_seq")
                return
            await asyncio.sleep(retry)
            continue
        if row is None:
            session.send_error(EDIT_NOT_STORED.code, msg.rid, EDIT_NOT_STORED.message, retry_after_s=retry)
        else:
            await _publish_op(session, msg.world_id, msg.rid, row.seq, row.author_id, row.ops)
        return
