"""A world's room on this node: its local members and the ordered delivery to them.

Everything that reaches members — ops, generation frames, presence — passes through one
queue and one task per room, so members see one order; joins run in the same task, between
deliveries. Frames are encoded once by their publisher and framed once by the room
(`writer.ws_frame`); the room hands the same bytes to each member's writer, never awaiting
a socket or the store per member. What piles up while the task is busy goes out together,
one write per member (`Room._broadcast`); presence joins (and leaves) among it as one frame
listing them all (`Room._coalesce`, docs/protocol.md §7.4).

A join's snapshot (or replayed ops) goes out paced by the joiner's reading, like generation
(`Room._pace`): frames for that member that a broadcast produces meanwhile are held back and
follow the snapshot, so the member's order is the same and a reader that reads can join any
world within the limits (issue 15, finding 8).

Ops carry the world's seq. The room remembers the last seq it delivered; a duplicate is
dropped and a gap is filled from the op log before delivering (docs/protocol.md §7.5), so
a lost broker message costs latency, never a missing or repeated op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from protocol import messages as m
from protocol.codec import (
    encode,
    encode_joined_packed,
    encode_presence_batch,
    pack_member,
)
from protocol.codes import ErrorCode

from .broker import Broker, Envelope
from .context import Services
from .metrics import Metrics
from .room_frames import Member, Out, Peer, op_frame, results_of
from .room_snapshots import SNAPSHOT_DIRECT_BYTES, KeptSnapshot, MemberList, Version, read_snapshot
from .writer import Broadcast, ws_frame

log = logging.getLogger("immersiverse.room")
REPLAY_BATCH = 1000
# Deliveries between yields to the event loop. Each is a socket write (a system call, ~10 µs
# on loopback), so a big room's broadcast takes milliseconds; slices let other sessions and
# the store's round trips (the next edit's transaction) progress in between.
FAN_OUT_SLICE = 64
BROADCASTS = ("op", "frame", "presence")  # envelope kinds that are frames for members
BATCH_BYTES = 64 * 1024  # frames joined into one write per member at most (Room._broadcast)
PRESENCE_BATCH = 1000  # members announced in one presence frame at most (Room._coalesce)
PRESENCE_TICK_S = 0.05  # a room sends presence joins and leaves at most this often (Room._tick_presence)…
PRESENCE_TICK_MEMBERS = 250  # … and in a bigger room, once per tick per this many members (at most 20 ticks)

# A queued join: (session, rid, role, since_seq, version, done).
Join = tuple[Peer, int, str, int | None, Version | None, asyncio.Future[None]]


# A control envelope for the world (deleted, roles changed, generation orphaned, member
# expired): handled by the hub, inside the room's delivery task (Hub.on_control).
OnControl = Callable[["Room", Envelope], Awaitable[None]]


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    if not done.done():
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)


class Room:
    def __init__(self, world_id: str, seq: int, generating: bool, bounds: dict[str, Any] | None = None, *,
                 services: Services, broker: Broker, metrics: Metrics, on_control: OnControl) -> None:
        self.services = services
        self.broker = broker
        self.metrics = metrics
        self._on_control = on_control
        self.world_id = world_id
        self.seq = seq
        self.generating = generating
        self.bounds = bounds  # the header's bounds: edits must stay inside them
        self.members: dict[str, Member] = {}
        self.logged_bytes = 0  # op bytes logged by this node since the world's last compaction
        # Who this node's members were last told is present (session id → member): kept from
        # `joined` member lists and presence join/leave, and reconciled with the broker's list
        # after a broker outage (`_resync`, docs/scaling.md "Failures").
        self.known: dict[str, dict[str, Any]] = {}
        self._queue: deque[tuple[str, Any]] = deque()  # ("env", envelope) | ("join", …) | ("call", …)
        self._wake = asyncio.Event()
        self._presence_held: list[Out] = []  # presence joins and leaves waiting for the room's next tick
        self._presence_sent = -PRESENCE_TICK_S  # loop time of the last presence join or leave sent
        self._presence_timer: asyncio.TimerHandle | None = None
        self._snapshot = KeptSnapshot()  # the last snapshot read, while it may be served again
        self._members_listed = MemberList()  # the member list of the last wave's `joined`
        self._task = asyncio.create_task(self._run(), name=f"room:{world_id}")

    @property
    def backlog(self) -> int:
        """Envelopes and calls waiting for the delivery task."""
        return len(self._queue)

    # -- producers ------------------------------------------------------------------------------
    def deliver(self, envelope: Envelope) -> None:
        """From the broker: queue for ordered delivery."""
        self._queue.append(("env", envelope))
        self._wake.set()

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run `fn` inside the delivery task (between deliveries) and return its result."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(("call", (fn, done)))
        self._wake.set()
        return await done

    async def publish_frame(self, frame: bytes, *, first_ord: int | None = None) -> None:
        env: Envelope = {"k": "frame", "f": frame}
        if first_ord is not None:
            env["a"] = first_ord
        await self.broker.publish(self.world_id, env)

    def generation_finished(self) -> None:
        self.generating = False

    async def close(self) -> None:
        self._snapshot.keep(None)
        if self._presence_timer is not None:
            self._presence_timer.cancel()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    # -- the delivery task ------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            kind, item = self._queue.popleft()
            try:
                if kind == "env":
                    await self._on_envelope(item)
                elif kind == "join":
                    joins = [item]
                    while self._queue and self._queue[0][0] == "join":
                        joins.append(self._queue.popleft()[1])
                    try:
                        await self._join_all(joins)
                    finally:  # no joiner waits forever, whatever happened
                        for *_, done in joins:
                            _settle(done, RuntimeError(f"join of {self.world_id} did not complete"))
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
        if kind == "op" and env["s"] > self.seq + 1:
            await self._fill_gap(env["s"] - 1)
        if kind in BROADCASTS or kind == "tick":
            batch: list[Out] = []
            if kind == "tick":  # the room's presence tick (_tick_presence)
                self._presence_timer = None
            else:
                self._take(env, batch)  # (an op's gap was filled just above)
            self._take_queued(batch)
            batch = self._tick_presence(batch)
            if batch:
                await self._broadcast(self._coalesce(batch))
        elif kind == "control":
            if env.get("c") == "resync":
                await self._resync()
            else:
                await self._on_control(self, env)

    def _take_queued(self, batch: list[Out]) -> None:
        """Move what is already queued for members into `batch`: one write per member for the
        lot (ops pile up while a big room is being served; presence events during a wave of joins).

        Broadcasts keep their order among themselves but may overtake queued joins: that is
        safe because everything published was stored first, so a join that runs later finds it
        in its snapshot and member list. A control envelope, an op after a seq gap or a call
        ends the batch; it and all behind it wait for the next round.
        """
        waiting: deque[tuple[str, Any]] = deque()
        queue = self._queue
        while queue:
            kind, item = queue[0]
            if kind == "env":
                if not self._take(item, batch):
                    break
                queue.popleft()
            elif kind == "join":
                waiting.append(queue.popleft())
            else:
                break
        if waiting:
            waiting.extend(queue)
            self._queue = waiting

    def _take(self, env: Envelope, batch: list[Out]) -> bool:
        """Add `env` to `batch` if it can go out now (False: it must wait for the next round)."""
        kind = env["k"]
        if kind == "op":
            seq = env["s"]
            top = next((out.seq for out in reversed(batch) if out.seq), self.seq)
            if seq > top + 1:
                return False  # a gap: filled from the op log before this op goes out
            if seq > top:  # else already delivered (duplicate, or filled from the op log earlier)
                batch.append(Out(env["f"], seq=seq, origin=env.get("o"), rid=env.get("r"), results=env.get("res")))
        elif kind == "frame":
            batch.append(Out(env["f"], exclude=env.get("o") if env.get("x") else None, first_ord=env.get("a")))
        elif kind == "presence":
            member, event = env.get("m"), env.get("e")
            if isinstance(member, dict) and event == "join":
                self.known[env["o"]] = member
            elif event == "leave":
                self.known.pop(env["o"], None)
            if isinstance(member, dict) and event in ("join", "leave"):
                batch.append(Out(env["f"], exclude=env["o"], event=event, about=[(env["o"], member)]))
            else:
                batch.append(Out(env["f"], exclude=env.get("o")))
        else:
            return False
        return True

    def _tick_presence(self, batch: list[Out]) -> list[Out]:
        """Presence joins and leaves go out at most once per tick (PRESENCE_TICK_S, longer in a
        room of more than PRESENCE_TICK_MEMBERS members): those that arrive
        sooner after the last wait for the room's next tick (a local "tick" envelope), coalesced
        with the others of that tick (`_coalesce`), so a wave of joins costs each member one
        presence frame per tick. The first after a quiet spell goes out at once, and any other
        frame takes what is held along, ahead of it: members see the same order as without ticks."""
        if not self._presence_held and all(out.about is None for out in batch):
            return batch
        loop = asyncio.get_running_loop()
        # A tick writes to every member: in a big room it is longer, so that presence joins and
        # leaves cost a room at most PRESENCE_TICK_MEMBERS / PRESENCE_TICK_S writes a second.
        tick = PRESENCE_TICK_S * min(20.0, max(1.0, len(self.members) / PRESENCE_TICK_MEMBERS))
        now, due = loop.time(), self._presence_sent + tick
        if now + 0.001 < due and all(out.about is not None for out in batch):
            self._presence_held += batch
            if self._presence_timer is None:
                self._presence_timer = loop.call_at(due, self.deliver, {"k": "tick"})
            return []
        self._presence_sent = now
        held, self._presence_held = self._presence_held, []
        return held + batch

    def _coalesce(self, batch: list[Out]) -> list[Out]:
        """Presence per room tick: consecutive joins (or leaves) in `batch` become one `presence`
        frame listing them all (docs/protocol.md §7.4), so a wave of N joins costs each member a
        frame per tick, not N frames. A single join keeps its publisher's frame."""
        out: list[Out] = []
        for item in batch:
            last = out[-1] if out else None
            if (item.about is not None and last is not None and last.about is not None
                    and last.event == item.event and len(last.about) < PRESENCE_BATCH):
                last.about += item.about
            else:
                out.append(item)
        for item in out:
            if item.about is not None and len(item.about) > 1:
                item.packed = [pack_member(member) for _, member in item.about]
                item.sessions = {sid for sid, _ in item.about}
                item.frame = encode_presence_batch(self.world_id, item.event or "join", item.packed)
                item.exclude = None  # each session it announces gets `without(it)` instead
        return out

    async def _broadcast(self, batch: list[Out]) -> None:
        """Deliver `batch` in parts of at most BATCH_BYTES (a member's transport takes one part
        at once, past its high-water mark: the part size bounds that overshoot)."""
        part: list[Out] = []
        size = 0
        for out in batch:
            if part and size + len(out.frame) > BATCH_BYTES:
                await self._broadcast_part(part)
                part, size = [], 0
            part.append(out)
            size += len(out.frame)
        if part:
            await self._broadcast_part(part)

    async def _broadcast_part(self, batch: list[Out]) -> None:
        """Deliver `batch` in order to every member, each getting what concerns it.

        Most members get every frame of the batch: for them the frames are joined into one
        WebSocket byte string once (server/writer.py `ws_frame`) and written with one call. The
        others — an op's author (who gets `edit.ack` instead), a frame's excluded origin, a
        member whose snapshot already holds an op or a generated instance — are served one by one.
        """
        seqs = [out.seq for out in batch if out.seq]
        if seqs:
            self.seq = seqs[-1]
        first_seq = seqs[0] if seqs else None
        special = {out.origin if out.rid is not None else out.exclude for out in batch} - {None}
        special.update(sid for out in batch if out.sessions for sid in out.sessions)
        ords = [out.first_ord for out in batch if out.first_ord is not None]
        min_ord = min(ords) if ords else None
        frames = [out.frame for out in batch]
        # Built once for everyone, and counted once (server/writer.py Broadcast)
        shared = Broadcast(frames, b"".join(map(ws_frame, frames))) if len(self.members) > 1 else None
        top = seqs[-1] if seqs else 0
        members = self.members
        everyone = list(members.items())
        try:
            for start in range(0, len(everyone), FAN_OUT_SLICE):
                if start:
                    await asyncio.sleep(0)  # see FAN_OUT_SLICE
                for sid, member in everyone[start:start + FAN_OUT_SLICE]:
                    if members.get(sid) is not member:
                        continue  # it left meanwhile (and got `left`)
                    writer = member.session.writer
                    if member.held is not None:
                        self._hold(member, self._frames_for(sid, member, batch))
                        continue
                    if (sid in special or (first_seq is not None and member.base_seq >= first_seq)
                            or (min_ord is not None and min_ord < member.gen_base)):
                        writer.send_many(self._frames_for(sid, member, batch))
                        continue
                    if top:
                        member.base_seq = top
                    if shared is not None:
                        writer.send_broadcast(shared)
                    else:
                        writer.send_many(frames)
        finally:
            if shared is not None and shared.written:
                self.metrics.frames_sent(frames, shared.written)

    def _frames_for(self, sid: str, member: Member, batch: list[Out]) -> list[bytes]:
        out: list[bytes] = []
        for item in batch:
            if item.seq:
                if member.base_seq >= item.seq:
                    continue
                member.base_seq = item.seq
                out.append(self._ack(item) if sid == item.origin and item.rid is not None else item.frame)
            elif item.packed is not None:
                frame = item.without(self.world_id, sid) if sid in (item.sessions or ()) else item.frame
                if frame is not None:
                    out.append(frame)
            elif sid != item.exclude and (item.first_ord is None or item.first_ord >= member.gen_base):
                out.append(item.frame)
        return out

    def _hold(self, member: Member, frames: list[bytes]) -> None:
        """Keep `frames` until `member`'s snapshot is out; bounded like its send queue."""
        assert member.held is not None
        member.held += frames
        member.held_bytes += sum(map(len, frames))
        if member.held_bytes > self.services.settings.send_queue_bytes:
            member.held, member.held_bytes = [], 0
            member.session.writer.close_slow()

    def _send_paced(self, member: Member, frames: Iterable[bytes]) -> None:
        """Send `frames` to `member` as fast as it reads them, then what was held meanwhile."""
        member.held = []
        member.pacer = member.session.spawn(self._pace(member, iter(frames)), "snapshot")

    async def _pace(self, member: Member, frames: Iterator[bytes]) -> None:
        """The send queue's backpressure, as for generation (server/session_gen.py): wait below
        half its bound before each frame, so a reader that reads is never closed as slow."""
        writer = member.session.writer
        high_water = self.services.settings.send_queue_bytes // 2
        try:
            for frame in frames:
                await writer.wait_below(high_water)
                if writer.closed:
                    return
                writer.send(frame)
        finally:
            held, member.held, member.held_bytes = member.held or [], None, 0
            if held and not writer.closed:
                writer.send_many(held)

    def _ack(self, item: Out) -> bytes:
        if item.ack is None:
            item.ack = encode(m.EditAck(rid=item.rid, world_id=self.world_id, seq=item.seq,  # type: ignore[arg-type]
                                        results=item.results or []))  # type: ignore[arg-type]
        return item.ack

    async def _fill_gap(self, upto: int) -> None:
        self.metrics.broker_gaps.inc()
        while self.seq < upto:
            rows = await self.services.store.edits.ops_since(self.world_id, self.seq, REPLAY_BATCH)
            rows = [r for r in rows if r.seq <= upto]
            if not rows or rows[0].seq != self.seq + 1:
                # Compacted away or not yet visible: members' views can no longer be patched
                # op by op; ask them to re-join (they get a snapshot).
                log.warning("room %s: cannot fill seq gap %d..%d from the op log", self.world_id, self.seq, upto)
                self._resync_all()
                self.seq = upto
                return
            author = self.services.public_id
            await self._broadcast([Out(op_frame(self.world_id, row.seq, author(row.author_id), row.ops), seq=row.seq,
                                       origin=row.session_id, rid=row.rid, results=results_of(row.ops))
                                   for row in rows])

    async def _resync(self) -> None:
        """The broker may have lost messages (it or another node reconnected): catch up with
        the op log, and tell members the joins and leaves they missed."""
        world = await self.services.store.worlds.get(self.world_id)
        if world is not None and world.seq > self.seq:
            await self._fill_gap(world.seq)
        if self.broker.healthy:  # else the list would hold only this node's members
            await self._reconcile_presence()

    async def _reconcile_presence(self) -> None:
        fresh = {mm["session_id"]: mm for mm in await self.broker.presence_list(self.world_id)}
        events = [(sid, "leave", mm) for sid, mm in self.known.items() if sid not in fresh]
        events += [(sid, "join", mm) for sid, mm in fresh.items() if sid not in self.known]
        self.known = fresh
        frames = [(sid, encode(m.PresenceEvent(world_id=self.world_id, event=event,  # type: ignore[arg-type]
                                               member=mm)))  # type: ignore[arg-type]
                  for sid, event, mm in events]
        for member in list(self.members.values()):
            for sid, frame in frames:
                if sid != member.session.id:  # a session does not get its own presence (§7.4)
                    member.session.send_bytes(frame)

    def _resync_all(self) -> None:
        for member in list(self.members.values()):
            member.session.send_error(ErrorCode.CONFLICT, None,
                                      f"world {self.world_id}: missed updates; join again to resync",
                                      world_id=self.world_id)
            self.members.pop(member.session.id, None)
            member.session.rooms.pop(self.world_id, None)

    # -- joins (run inside the delivery task, between deliveries) -----------------------------------
    async def join(self, session: Peer, rid: int, role: str, since_seq: int | None,
                   version: Version | None = None) -> None:
        """Make `session` a member: `joined`, then its snapshot or the ops it missed (§7.3).

        Runs inside the delivery task. Joins queued together are served together: one store
        read of the world and one member list for all of them (a wave of joins would otherwise
        read the same snapshot once per member, one after the other). `version` is the world's
        snapshot version as the joiner's access check read it (persistence/worlds.py
        `join_check`): when the room holds the snapshot of that version, no read at all
        (server/room_snapshots.py).
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(("join", (session, rid, role, since_seq, version, done)))
        self._wake.set()
        await done

    async def _join_all(self, joins: list[Join]) -> None:
        by_snapshot = []
        for join in joins:
            session, rid, role, since_seq, _, done = join
            if done.done():  # its requester is gone (the session closed while it waited)
                continue
            try:
                if since_seq is None or self.generating or not await self._join_replay(session, rid, role, since_seq):
                    by_snapshot.append(join)
                    continue
            except Exception as exc:
                _settle(done, exc)
                continue
            _settle(done, None)
        if not by_snapshot:
            return
        try:
            # (a generating world's instances grow without a new seq: always read)
            snap = None if self.generating else self._snapshot.serves([join[4] for join in by_snapshot], self.seq)
            if snap is not None:
                self.metrics.snapshot_reads_saved.inc()
            else:
                snap = await read_snapshot(self.services, self.world_id)
                self._snapshot.keep(None if self.generating else snap)
            for session, _, role, _, _, _ in by_snapshot:
                self._add(session, role, base_seq=snap.seq, gen_base=snap.count)
            members = await self.broker.presence_list(self.world_id)
        except Exception as exc:  # e.g. NotFound: the world was deleted meanwhile
            for *_, done in by_snapshot:
                _settle(done, exc)
            return
        listed, added = self._members_listed.pack(members)  # the member list, encoded once for the wave
        self.known.update((mm["session_id"], mm) for mm in added)
        for session, rid, role, _, _, done in by_snapshot:
            joined = encode_joined_packed(rid, self.world_id, snap.seq, role, "snapshot", listed)
            member = self.members.get(session.id)
            frames = snap.frames(self.world_id, rid)
            if member is None:  # (it left while the member list was read)
                session.send_bytes(joined)
            elif snap.size <= SNAPSHOT_DIRECT_BYTES:  # small: `joined` and the snapshot in one write
                session.writer.send_many([joined, *frames])
            else:
                session.send_bytes(joined)
                self._send_paced(member, frames)
            _settle(done, None)

    async def _join_replay(self, session: Peer, rid: int, role: str, since_seq: int) -> bool:
        """Serve the ops after `since_seq` from the op log; False if it no longer holds them all."""
        store = self.services.store
        retention = self.services.settings.oplog_retention_ops
        rows = await store.edits.ops_since(self.world_id, since_seq, retention + 1)
        world = await store.worlds.require(self.world_id)
        contiguous = (rows and rows[0].seq == since_seq + 1) or (not rows and since_seq == world.seq)
        if not (contiguous and since_seq <= world.seq and len(rows) <= retention):
            return False
        top = rows[-1].seq if rows else since_seq
        self._add(session, role, base_seq=top, gen_base=0)
        members = await self.broker.presence_list(self.world_id)
        self.known.update((mm["session_id"], mm) for mm in members)
        session.send(m.Joined(rid=rid, world_id=self.world_id, seq=top, role=role,  # type: ignore[arg-type]
                              mode="replay", members=members))  # type: ignore[arg-type]
        member = self.members.get(session.id)
        if member is not None:  # (else it left while the member list was read)
            public_id = self.services.public_id
            frames = (op_frame(self.world_id, row.seq, public_id(row.author_id), row.ops) for row in rows)
            self._send_paced(member, frames)
        return True

    def _add(self, session: Peer, role: str, *, base_seq: int, gen_base: int) -> None:
        if not self.members:
            # Alone in the room: ops up to base_seq still in flight concern nobody here, so
            # they need neither delivery nor a gap fill.
            self.seq = max(self.seq, base_seq)
        self.members[session.id] = Member(session, role, base_seq, gen_base)
        session.rooms[self.world_id] = self

    def add_generator(self, session: Peer) -> None:
        """The requester of a generation is the first member of its new world's room."""
        self.members[session.id] = Member(session, "owner", base_seq=0, gen_base=0)
        session.rooms[self.world_id] = self

    def remove(self, session: Peer) -> Member | None:
        session.rooms.pop(self.world_id, None)
        member = self.members.pop(session.id, None)
        if member is not None and member.pacer is not None and member.held is not None:
            member.held = None  # its snapshot is of no use now (it left, or re-joins)
            member.pacer.cancel()
        return member
