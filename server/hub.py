"""The hub: world id → Room on this node, and the broker subscription of each (centrifuge
`hub.go`). A room is opened on first use and dropped, with its subscription, when it has no
members and no join in progress. World-level control (a world deleted, its roles changed,
its generation orphaned, a member's node gone) reaches the room's members from here.

What members ask of a world (join, leave, edit, presence) is server/session_rooms.py; the hub
knows rooms and subscriptions, never a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from persistence.worlds import JoinCheck
from protocol import messages as m
from protocol.codec import encode
from protocol.codes import ErrorCode

from .broker import Broker, Envelope
from .context import Services
from .metrics import Metrics
from .room import Room
from .tasks import TaskSet

log = logging.getLogger("immersiverse.hub")


def _settle_all(futures: Iterable[asyncio.Future[Any]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)
            future.exception()  # (retrieved: a caller that went away is not logged)


class Hub:
    def __init__(self, services: Services, broker: Broker, metrics: Metrics) -> None:
        self.services = services
        self.broker = broker
        self.metrics = metrics
        self.rooms: dict[str, Room] = {}
        self._pending: dict[str, int] = {}  # joins in progress per world: keeps its room alive
        self._creating: dict[str, asyncio.Lock] = {}
        self._tasks = TaskSet(log, "hub")
        # Join checks (access, snapshot version, plays) waiting for their world's next read, and
        # the worlds whose read is running (Hub.join_check).
        self._checks: dict[str, list[tuple[str, asyncio.Future[JoinCheck]]]] = {}
        self._checking: set[str] = set()
        # world id -> generations of it running on this node (GenerationLeases.running): such
        # a generation sends its own final frame, so an "orphaned" notice is not for its room
        self.generating_here: Mapping[str, int] = {}
        broker.bind(self._on_broker)

    def _on_broker(self, world_id: str, env: Envelope) -> None:
        room = self.rooms.get(world_id)
        if room is not None:
            room.deliver(env)

    # -- rooms ------------------------------------------------------------------------------------
    async def room(self, world_id: str, new: tuple[int, bool, Any] | None = None) -> Room:
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
                room = Room(world_id, *new, services=self.services, broker=self.broker, metrics=self.metrics,
                            on_control=self.on_control)
                self.rooms[world_id] = room
                self.metrics.rooms.set(len(self.rooms))
        self._creating.pop(world_id, None)
        return room

    async def join_check(self, world_id: str, user_id: str) -> JoinCheck:
        """`store.worlds.join_check`, with the joins of one world that arrive together read in
        one query (`join_checks`): a check asked while its world's read is running waits for the
        next read, so every answer was read after it was asked — as fresh as a read of its own."""
        future: asyncio.Future[JoinCheck] = asyncio.get_running_loop().create_future()
        # One future per caller: a caller that goes away cancels only its own.
        self._checks.setdefault(world_id, []).append((user_id, future))
        if world_id not in self._checking:
            self._checking.add(world_id)
            self._tasks.spawn(self._read_checks(world_id), f"join-checks:{world_id}")
        return await future

    async def _read_checks(self, world_id: str) -> None:
        waiting: list[tuple[str, asyncio.Future[JoinCheck]]] = []
        try:
            while waiting := self._checks.pop(world_id, []):
                try:
                    checks = await self.services.store.worlds.join_checks(world_id, [u for u, _ in waiting])
                except Exception as exc:  # NotFound (no world), or the store is down: for all of them
                    _settle_all([future for _, future in waiting], exc)
                    continue
                for user_id, future in waiting:
                    if not future.done():
                        future.set_result(checks[user_id])
        finally:
            self._checking.discard(world_id)
            # (cancelled: the hub is closing) no joiner waits forever
            _settle_all([future for _, future in [*waiting, *self._checks.pop(world_id, [])]],
                        RuntimeError("the hub closed"))

    @contextlib.contextmanager
    def joining(self, world_id: str) -> Iterator[None]:
        """A join of `world_id` is in progress: its room stays open meanwhile."""
        self._pending[world_id] = self._pending.get(world_id, 0) + 1
        try:
            yield
        finally:
            self._pending[world_id] -= 1
            if not self._pending[world_id]:
                del self._pending[world_id]

    async def drop_if_empty(self, room: Room) -> None:
        if room.members or self._pending.get(room.world_id) or self.rooms.get(room.world_id) is not room:
            return
        del self.rooms[room.world_id]
        self.metrics.rooms.set(len(self.rooms))
        await room.close()
        await self.broker.unsubscribe(room.world_id)

    # -- world-level control (REST changes, deletions, leases) -----------------------------------
    async def world_deleted(self, world_id: str) -> None:
        await self.broker.publish(world_id, {"k": "control", "c": "deleted"})

    async def generation_orphaned(self, world_id: str) -> None:
        """The world's generating node died and the world is now `partial` (server/leases.py)."""
        await self.broker.publish(world_id, {"k": "control", "c": "orphaned"})

    async def roles_changed(self, world_id: str) -> None:
        await self.broker.publish(world_id, {"k": "control", "c": "roles"})

    async def on_control(self, room: Room, env: Envelope) -> None:
        """A control envelope, run inside the room's delivery task."""
        if env.get("c") == "deleted":
            for member in list(room.members.values()):
                member.session.send_error(ErrorCode.NOT_FOUND, None, f"world {room.world_id} was deleted",
                                          world_id=room.world_id)
                room.remove(member.session)
                await self.broker.presence_remove(room.world_id, member.session.id)
            self._tasks.spawn(self.drop_if_empty(room), f"drop:{room.world_id}")
        elif env.get("c") == "roles":
            # Members' roles are cached from their join (Member.role); a change of the world's
            # roles re-reads them all at once, never one read per member.
            members = list(room.members.values())
            roles = await self.services.store.worlds.roles_in_world(
                room.world_id, [member.session.user_id for member in members]) or {}
            for member in members:
                if room.members.get(member.session.id) is not member:
                    continue  # it left while the roles were read
                role = roles.get(member.session.user_id)
                if role is None:
                    member.session.send_error(ErrorCode.FORBIDDEN, None,
                                              f"you no longer have access to {room.world_id}",
                                              world_id=room.world_id)
                    room.remove(member.session)
                    await self.broker.presence_remove(room.world_id, member.session.id)
                else:
                    member.role = "viewer" if role == "public" else role
            self._tasks.spawn(self.drop_if_empty(room), f"drop:{room.world_id}")
        elif env.get("c") == "orphaned" and room.generating and room.world_id not in self.generating_here:
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
        await self._tasks.close()
        for room in list(self.rooms.values()):
            await room.close()
        self.rooms.clear()
