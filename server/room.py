"""A world's room on this node: its local members and the ordered delivery to them.

Everything that reaches members — ops, generation frames, presence, joins — passes through
one queue and one task per room, so members see one order. Frames are encoded once by
their publisher; the room only appends the same bytes to each member's bounded queue
(`Session.send_bytes`), never awaiting a socket or the store per member.

Ops carry the world's seq. The room remembers the last seq it delivered; a duplicate is
dropped and a gap is filled from the op log before delivering (docs/protocol.md §7.5), so
a lost broker message costs latency, never a missing or repeated op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from protocol import messages as m
from protocol.codec import encode, encode_raw
from protocol.codes import ErrorCode

from .blueprint import instance_wire
from .broker import Envelope

if TYPE_CHECKING:
    from .hub import Hub
    from .session import Session

log = logging.getLogger("immersiverse.room")
REPLAY_BATCH = 1000


@dataclass(slots=True)
class Member:
    session: Session
    role: str
    base_seq: int  # ops up to here are already in what this member was sent
    gen_base: int  # generation instances below this stream position came in its snapshot

    def wire(self) -> dict[str, Any]:
        return member_record(self.session, self.role)


def member_record(session: Session, role: str) -> dict[str, Any]:
    """A member as the protocol shows it (docs/protocol.md §6.2) and presence stores it."""
    return {"user_id": session.user_id, "display_name": session.display_name, "role": role,
            "session_id": session.id}


def op_frame(world_id: str, seq: int, author: str, stored_ops: list[dict[str, Any]]) -> bytes:
    """The `op` frame for other members: the applied ops of a batch (docs/protocol.md §7.4)."""
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


class Room:
    def __init__(self, hub: Hub, world_id: str, seq: int, generating: bool,
                 bounds: dict[str, Any] | None = None) -> None:
        self.hub = hub
        self.world_id = world_id
        self.seq = seq
        self.generating = generating
        self.bounds = bounds  # the header's bounds: edits must stay inside them
        self.members: dict[str, Member] = {}
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"room:{world_id}")

    # -- producers ------------------------------------------------------------------------------
    def deliver(self, envelope: Envelope) -> None:
        """From the broker: queue for ordered delivery."""
        self._queue.put_nowait(("env", envelope))

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run `fn` inside the delivery task (between deliveries) and return its result."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(("call", (fn, done)))
        return await done

    async def publish_frame(self, frame: bytes, *, first_ord: int | None = None) -> None:
        env: Envelope = {"k": "frame", "f": frame}
        if first_ord is not None:
            env["a"] = first_ord
        await self.hub.broker.publish(self.world_id, env)

    def generation_finished(self) -> None:
        self.generating = False

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    # -- the delivery task ------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            kind, item = await self._queue.get()
            try:
                if kind == "env":
                    await self._on_envelope(item)
                else:
                    fn, done = item
                    try:
                        result = await fn()
                    except Exception as exc:
                        if not done.done():
                            done.set_exception(exc)
                    else:
                        if not done.done():
                            done.set_result(result)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop delivery for everyone else
                log.exception("room %s: delivery failed", self.world_id)

    async def _on_envelope(self, env: Envelope) -> None:
        kind = env["k"]
        if kind == "op":
            await self._on_op(env["s"], env)
        elif kind == "frame":
            self._fan_out(env["f"], exclude=env.get("o") if env.get("x") else None, first_ord=env.get("a"))
        elif kind == "presence":
            self._fan_out(env["f"], exclude=env.get("o"))
        elif kind == "control":
            if env.get("c") == "resync":
                await self._resync()
            else:
                await self.hub.on_control(self, env)

    def _fan_out(self, frame: bytes, *, exclude: str | None = None, first_ord: int | None = None) -> None:
        for sid, member in list(self.members.items()):
            if sid == exclude or (first_ord is not None and first_ord < member.gen_base):
                continue
            member.session.send_bytes(frame)

    async def _on_op(self, seq: int, env: Envelope | None) -> None:
        if seq <= self.seq:
            return  # already delivered (duplicate, or filled from the op log earlier)
        if seq > self.seq + 1:
            await self._fill_gap(seq - 1)
        if env is None:
            return
        self._deliver_op(seq, env["f"], env.get("o"), env.get("r"), env.get("res"))

    async def _fill_gap(self, upto: int) -> None:
        self.hub.metrics.broker_gaps.inc()
        while self.seq < upto:
            rows = await self.hub.services.store.edits.ops_since(self.world_id, self.seq, REPLAY_BATCH)
            rows = [r for r in rows if r.seq <= upto]
            if not rows or rows[0].seq != self.seq + 1:
                # Compacted away or not yet visible: members' views can no longer be patched
                # op by op; ask them to re-join (they get a snapshot).
                log.warning("room %s: cannot fill seq gap %d..%d from the op log", self.world_id, self.seq, upto)
                self._resync_all()
                self.seq = upto
                return
            for row in rows:
                self._deliver_op(row.seq, op_frame(self.world_id, row.seq, row.author_id, row.ops),
                                 row.session_id, row.rid, results_of(row.ops))

    async def _resync(self) -> None:
        """The broker may have lost messages (it reconnected): catch up with the op log."""
        world = await self.hub.services.store.worlds.get(self.world_id)
        if world is not None and world.seq > self.seq:
            await self._fill_gap(world.seq)

    def _deliver_op(self, seq: int, frame: bytes, origin: str | None, rid: int | None,
                    results: list[dict[str, Any]] | None) -> None:
        self.seq = seq
        ack: bytes | None = None
        for sid, member in list(self.members.items()):
            if member.base_seq >= seq:
                continue
            member.base_seq = seq
            if sid == origin and rid is not None:
                if ack is None:
                    ack = encode(m.EditAck(rid=rid, world_id=self.world_id, seq=seq,
                                           results=results or []))  # type: ignore[arg-type]
                member.session.send_bytes(ack)
            else:
                member.session.send_bytes(frame)

    def _resync_all(self) -> None:
        for member in list(self.members.values()):
            member.session.send_error(ErrorCode.CONFLICT, None,
                                      f"world {self.world_id}: missed updates; join again to resync",
                                      world_id=self.world_id)
            self.members.pop(member.session.id, None)
            member.session.rooms.pop(self.world_id, None)

    # -- joins (run inside the task through `call`) ---------------------------------------------------
    async def join(self, session: Session, rid: int, role: str, since_seq: int | None) -> None:
        store = self.hub.services.store
        retention = self.hub.services.settings.oplog_retention_ops
        if since_seq is not None and not self.generating:
            rows = await store.edits.ops_since(self.world_id, since_seq, retention + 1)
            world = await store.worlds.require(self.world_id)
            contiguous = (rows and rows[0].seq == since_seq + 1) or (not rows and since_seq == world.seq)
            if contiguous and since_seq <= world.seq and len(rows) <= retention:
                top = rows[-1].seq if rows else since_seq
                self._add(session, role, base_seq=top, gen_base=0)
                session.send(m.Joined(rid=rid, world_id=self.world_id, seq=top, role=role,  # type: ignore[arg-type]
                                      mode="replay", members=await self.hub.member_list(self.world_id)))
                for row in rows:
                    session.send_bytes(op_frame(self.world_id, row.seq, row.author_id, row.ops))
                return
        world, rows = await store.edits.snapshot(self.world_id)
        self._add(session, role, base_seq=world.seq, gen_base=len(rows))
        session.send(m.Joined(rid=rid, world_id=self.world_id, seq=world.seq, role=role,  # type: ignore[arg-type]
                              mode="snapshot", members=await self.hub.member_list(self.world_id)))
        size = self.hub.services.settings.chunk_size
        count = max(1, -(-len(rows) // size))
        for index in range(count):
            part = rows[index * size:(index + 1) * size]
            session.send(m.Snapshot(rid=rid, world_id=self.world_id, seq=world.seq, index=index,
                                    last=index == count - 1, instances=[instance_wire(r) for r in part],  # type: ignore[misc]
                                    header=world.header if index == 0 else None))

    def _add(self, session: Session, role: str, *, base_seq: int, gen_base: int) -> None:
        if not self.members:
            # Alone in the room: ops up to base_seq still in flight concern nobody here, so
            # they need neither delivery nor a gap fill.
            self.seq = max(self.seq, base_seq)
        self.members[session.id] = Member(session, role, base_seq, gen_base)
        session.rooms[self.world_id] = self

    def add_generator(self, session: Session) -> None:
        """The requester of a generation is the first member of its new world's room."""
        self.members[session.id] = Member(session, "owner", base_seq=0, gen_base=0)
        session.rooms[self.world_id] = self

    def remove(self, session: Session) -> Member | None:
        session.rooms.pop(self.world_id, None)
        return self.members.pop(session.id, None)
