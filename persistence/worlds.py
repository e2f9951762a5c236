"""Worlds, their instances, members and visibility.

A world row is written (status `generating`) before its first instance, instances are
appended chunk by chunk in stream order (one `world_chunks` row per chunk, expanded into
`world_instances` rows by the world's first edit), and the status becomes `complete` (or
`partial` / `failed`) last: a crash can leave a prefix of the stream, never an unmarked
half-world. A world left `generating` by a node that stopped becomes `partial` once its
generation lease expires (`sweep_expired`, server/leases.py); the generation's own writes
apply only while the world is still `generating`, so a swept world is never completed later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, true, update

from records import InstanceRecord, pack_records, unpack_records

from .clock import utcnow
from .db import Repo
from .errors import LeaseLost, NotFound
from .models import Experience, World, WorldChunk, WorldInstance, WorldMember, WorldOp
from .statements import Tx, execute, first, rows, single

ROLES = ("owner", "editor", "viewer")
# The mapped classes' tables, typed as Tables for Core statements.
WORLDS = cast(Table, World.__table__)
INSTANCES = cast(Table, WorldInstance.__table__)
CHUNKS = cast(Table, WorldChunk.__table__)
OPS = cast(Table, WorldOp.__table__)
MEMBERS = cast(Table, WorldMember.__table__)
EXPERIENCES = cast(Table, Experience.__table__)
INSTANCE_COLUMNS = tuple(INSTANCES.c.keys())  # a `world_instances` row's columns, in table order

# The write statements, one set for both backends (persistence/statements.py).
INSERT_WORLD = insert(WORLDS)
INSERT_CHUNK = insert(CHUNKS)
INSERT_INSTANCE = insert(INSTANCES)
# A generation writes its world only while it is `generating`, in the same statement: once
# its lease expired and another node swept the world to `partial` (sweep_expired), a node that
# was cut off meanwhile can neither add to it nor mark it `complete` (server/leases.py).
_GROW = (update(WORLDS).where(WORLDS.c.id == bindparam("world_id"), WORLDS.c.status == "generating")
         .values(instance_count=WORLDS.c.instance_count + bindparam("grow"),
                 stored_bytes=WORLDS.c.stored_bytes + bindparam("grow_bytes"), updated_at=bindparam("now")))
_GROW_AND_FINISH = _GROW.values(status=bindparam("end_status"), processing_time_ms=bindparam("ms"))
_CHUNKS_OF = (select(CHUNKS.c.ord, CHUNKS.c.data).where(CHUNKS.c.world_id == bindparam("world_id"))
              .order_by(CHUNKS.c.ord))
_DROP_CHUNKS = delete(CHUNKS).where(CHUNKS.c.world_id == bindparam("world_id"))
# Reads asked before every join or generation: one hop on SQLite (the writer's reader thread).
_ROLE = (select(WORLDS.c.owner_id, WORLDS.c.visibility, MEMBERS.c.role)
         .outerjoin(MEMBERS, (MEMBERS.c.world_id == WORLDS.c.id) & (MEMBERS.c.user_id == bindparam("user_id")))
         .where(WORLDS.c.id == bindparam("world_id")))
# What joins read (`join_checks`), in one hop for any number of joiners of one world: the
# world's owner, visibility and snapshot version (seq, status, instance count: every write that
# changes what a snapshot holds changes one of them, server/room.py `Snapshot`), the joiners'
# invitations, and up to two authors of the world's cards (a play counts for a user when one of
# them is someone else, server/plays.py).
_JOIN_WORLD = select(WORLDS.c.owner_id, WORLDS.c.visibility, WORLDS.c.seq, WORLDS.c.status,
                     WORLDS.c.instance_count).where(WORLDS.c.id == bindparam("world_id"))
_JOIN_INVITED = select(MEMBERS.c.user_id, MEMBERS.c.role).where(
    MEMBERS.c.world_id == bindparam("world_id"), MEMBERS.c.user_id.in_(bindparam("user_ids", expanding=True)))
_CARD_AUTHORS = (select(EXPERIENCES.c.author_id).where(EXPERIENCES.c.world_id == bindparam("world_id"))
                 .distinct().limit(2))
_USAGE = (select(func.count(), func.coalesce(func.sum(WORLDS.c.stored_bytes), 0))
          .where(WORLDS.c.owner_id == bindparam("owner_id")))


class JoinCheck(NamedTuple):
    """What a join reads of a world in one query (`WorldRepo.join_check`)."""

    role: str | None  # as `role_in`
    version: tuple[int, str, int]  # (seq, status, instance_count): what a snapshot of it holds
    has_cards: bool  # a card of this world that the user did not author exists (a play counts)


class InstanceRow(NamedTuple):
    """One instance as read from a chunk: the same attributes as a `world_instances` row."""

    world_id: str
    id: str
    ord: int
    prefab_id: str
    prefab_type: str
    px: float
    py: float
    pz: float
    rx: float
    ry: float
    rz: float
    rw: float
    sx: float
    sy: float
    sz: float
    props: dict[str, Any]


def chunk_rows(world_id: str, first_ord: int, data: bytes) -> list[InstanceRow]:
    """A stored chunk (a packed array of wire instances, records/) as rows, in stream order."""
    return [InstanceRow(world_id, r.id, n, *r.columns()) for n, r in enumerate(unpack_records(data), first_ord)]


async def instance_rows(s: Any, world_id: str) -> list[Any]:
    """Every instance of the world in stream order: `world_instances` rows and chunk rows."""
    rows: list[Any] = list((await s.execute(
        select(INSTANCES).where(INSTANCES.c.world_id == world_id).order_by(INSTANCES.c.ord))).all())
    chunks = (await s.execute(select(CHUNKS.c.ord, CHUNKS.c.data).where(CHUNKS.c.world_id == world_id)
                              .order_by(CHUNKS.c.ord))).all()
    if chunks:
        from_chunks = [r for first, data in chunks for r in chunk_rows(world_id, first, data)]
        rows = sorted(rows + from_chunks, key=lambda r: r.ord) if rows else from_chunks
    return rows


async def packed_instances(s: Any, world_id: str) -> tuple[int, list[bytes]]:
    """Every instance of the world in stream order as packed arrays (records/): the stored
    chunks as they are, without decoding one, while the world has no edited rows (a world is
    expanded into rows by its first edit); else its rows, packed. Returns (count, arrays)."""
    chunks = (await s.execute(select(CHUNKS.c.count, CHUNKS.c.data).where(CHUNKS.c.world_id == world_id)
                              .order_by(CHUNKS.c.ord))).all()
    edited = (await s.execute(select(INSTANCES.c.ord).where(INSTANCES.c.world_id == world_id).limit(1))).first()
    if edited is None:
        return sum(n for n, _ in chunks), [bytes(data) for _, data in chunks]
    rows = await instance_rows(s, world_id)
    return len(rows), [pack_records(InstanceRecord.from_row(r) for r in rows)]


def expand_chunks(world_id: str) -> Tx[int]:
    """Turn the world's chunks into `world_instances` rows (before its first edit, in the
    edit's transaction); returns how many instances were expanded."""
    chunks = yield rows(_CHUNKS_OF, {"world_id": world_id})
    if not chunks:
        return 0
    expanded = [r._asdict() for first, data in chunks for r in chunk_rows(world_id, first, data)]
    yield execute(INSERT_INSTANCE, expanded)
    yield execute(_DROP_CHUNKS, {"world_id": world_id})
    return len(expanded)


def _chunk_params(world_id: str, chunks: Sequence[tuple[int, int, bytes]]) -> list[dict[str, Any]]:
    return [{"world_id": world_id, "ord": o, "count": n, "data": d} for o, n, d in chunks]


def _role(owner_id: str, visibility: str, member_role: str | None, user_id: str) -> str | None:
    if owner_id == user_id:
        return "owner"
    if member_role is not None:
        return member_role
    return "public" if visibility == "public" else None


class WorldRepo(Repo):
    """Worlds; on a SQLite file the generation writes go through the one-hop `SqliteWriter`."""

    async def create(self, **fields: Any) -> World:
        now = utcnow()
        world = World(created_at=now, updated_at=now, status="generating", seq=0,
                      instance_count=0, **fields)
        async with self._tx() as s:
            s.add(world)
        return world

    async def start_generated(self, chunks: Sequence[tuple[int, int, bytes]], *,
                              finish: tuple[str, float] | None = None, **fields: Any) -> dict[str, Any]:
        """Create a world (status `generating`) with its first chunks, in one transaction;
        `finish=(status, processing_time_ms)` when those chunks are the whole world. Returns the
        world row's values as stored (so the caller need not read it back)."""
        now = utcnow()
        status, ms = finish or ("generating", 0.0)
        row = {"visibility": "private", "gen_lease_until": None, **fields, "status": status,
               "processing_time_ms": ms, "seq": 0, "instance_count": sum(n for _, n, _ in chunks),
               "created_at": now, "updated_at": now, "stored_bytes": sum(len(d) for _, _, d in chunks)}
        params = _chunk_params(fields["id"], chunks)

        def tx() -> Tx[None]:
            yield execute(INSERT_WORLD, row)
            if params:
                yield execute(INSERT_CHUNK, params)
        await self._write(tx)
        return row

    async def append_chunks(self, world_id: str, chunks: Sequence[tuple[int, int, bytes]], *,
                            finish: tuple[str, float] | None = None) -> datetime:
        """Append generated chunks `(first_ord, count, data)` in one transaction; `data` is the
        chunk's msgpack array of wire-shaped instances, stored as sent (models.WorldChunk).
        `finish=(status, processing_time_ms)` also ends the generation in that transaction.
        Returns the world's new `updated_at`; LeaseLost (nothing written: the transaction rolls
        back) when the world is no longer `generating`. The world row is updated last, so its
        row lock (which lease renewals and sweeps wait for) is held only to the COMMIT."""
        now = utcnow()
        params = _chunk_params(world_id, chunks)
        grow: dict[str, Any] = {"world_id": world_id, "grow": sum(n for _, n, _ in chunks),
                                "grow_bytes": sum(len(d) for _, _, d in chunks), "now": now}
        if finish is not None:
            grow["end_status"], grow["ms"] = finish

        def tx() -> Tx[None]:
            if params:
                yield execute(INSERT_CHUNK, params)
            grown = yield execute(_GROW if finish is None else _GROW_AND_FINISH, grow)
            if grown == 0:
                raise LeaseLost(f"world {world_id} is no longer generating")
        await self._write(tx)
        return now

    async def finish(self, world_id: str, status: str, processing_time_ms: float) -> datetime | None:
        """End the world's generation with `status`; returns its new `updated_at`, or None when
        it was no longer `generating` (another node swept it: nothing is written)."""
        now = utcnow()

        done = await self._write(lambda: single(execute(_GROW_AND_FINISH, {
            "world_id": world_id, "grow": 0, "grow_bytes": 0, "now": now, "end_status": status,
            "ms": processing_time_ms})))
        return now if done else None

    async def renew_leases(self, world_ids: Sequence[str], until: datetime) -> None:
        """Extend the generation lease of these worlds (those still `generating`)."""
        async with self._tx() as s:
            await s.execute(update(World).where(World.id.in_(world_ids), World.status == "generating")
                            .values(gen_lease_until=until))

    async def sweep_expired(self, now: datetime | None) -> list[str]:
        """Worlds whose generation lease expired before `now` (their node died; NULL: a row from
        before leases) become `partial` — every `generating` world when `now` is None; returns
        their ids. On several nodes at once, each world is returned to exactly one caller (the
        one whose UPDATE changed it)."""
        async with self._tx() as s:
            expired = true() if now is None else (World.gen_lease_until.is_(None)) | (World.gen_lease_until < now)
            result = await s.execute(update(World).where(World.status == "generating", expired)
                                     .values(status="partial", updated_at=utcnow()).returning(World.id))
            return [str(i) for i in result.scalars()]

    async def get(self, world_id: str) -> World | None:
        async with self._sessions() as s:
            return await s.get(World, world_id)

    async def require(self, world_id: str) -> World:
        world = await self.get(world_id)
        if world is None:
            raise NotFound(f"world {world_id} not found")
        return world

    async def instances(self, world_id: str) -> list[Any]:
        """The world's instances in stream order, as read-only rows (attribute access by column).

        Core rows, not ORM objects: a snapshot of thousands of instances is read on every join,
        and building identity-mapped objects for it cost more than the query.
        """
        async with self._sessions() as s:
            return await instance_rows(s, world_id)

    async def count_owned(self, owner_id: str) -> int:
        return (await self.usage(owner_id))[0]

    async def usage(self, owner_id: str) -> tuple[int, int]:
        """(worlds owned, their stored bytes): checked before every generation, in one hop."""
        row = await self._read(lambda: single(first(_USAGE, {"owner_id": owner_id})))
        return int(row[0]), int(row[1])

    async def list_for_user(self, user_id: str, limit: int, offset: int) -> tuple[list[tuple[World, str]], int]:
        """Worlds the user owns or was invited to, newest first, with the user's role."""
        async with self._sessions() as s:
            invited = select(WorldMember.world_id).where(WorldMember.user_id == user_id)
            cond = or_(World.owner_id == user_id, World.id.in_(invited))
            total = int(await s.scalar(select(func.count()).select_from(World).where(cond)) or 0)
            worlds = list(await s.scalars(select(World).where(cond)
                                          .order_by(World.created_at.desc(), World.id)
                                          .limit(limit).offset(offset)))
            roles = {m.world_id: m.role for m in await s.scalars(
                select(WorldMember).where(WorldMember.user_id == user_id,
                                          WorldMember.world_id.in_([w.id for w in worlds])))}
        return [(w, "owner" if w.owner_id == user_id else roles.get(w.id, "viewer")) for w in worlds], total

    async def role_of(self, world: World, user_id: str) -> str | None:
        """owner / editor / viewer, "public" for a stranger to a public world, else None."""
        if world.owner_id == user_id:
            return "owner"
        async with self._sessions() as s:
            member = await s.get(WorldMember, (world.id, user_id))
        return _role(world.owner_id, world.visibility, member.role if member is not None else None, user_id)

    async def role_in(self, world_id: str, user_id: str) -> str | None:
        """`role_of` by world id in one query (every join asks); NotFound when there is no world."""
        row = await self._read(lambda: single(first(_ROLE, {"user_id": user_id, "world_id": world_id})))
        if row is None:
            raise NotFound(f"world {world_id} not found")
        return _role(row[0], row[1], row[2], user_id)

    async def join_check(self, world_id: str, user_id: str) -> JoinCheck:
        """`role_in`, the world's snapshot version and whether a play would count: what a join
        reads. NotFound when there is no world."""
        return (await self.join_checks(world_id, [user_id]))[user_id]

    async def join_checks(self, world_id: str, user_ids: Sequence[str]) -> dict[str, JoinCheck]:
        """`join_check` for several users of one world in one hop (server/hub.py batches the
        joins that arrive together). NotFound when there is no world."""
        users = sorted(set(user_ids))

        def tx() -> Tx[dict[str, JoinCheck] | None]:
            world = yield first(_JOIN_WORLD, {"world_id": world_id})
            if world is None:
                return None
            invited = dict((yield rows(_JOIN_INVITED, {"world_id": world_id, "user_ids": users})))
            authors = [row[0] for row in (yield rows(_CARD_AUTHORS, {"world_id": world_id}))]
            version = (int(world[2]), str(world[3]), int(world[4]))
            return {u: JoinCheck(_role(world[0], world[1], invited.get(u), u), version,
                                 any(author != u for author in authors)) for u in users}
        checks = await self._read(tx)
        if checks is None:
            raise NotFound(f"world {world_id} not found")
        return checks

    async def roles_in_world(self, world_id: str, user_ids: Sequence[str]) -> dict[str, str | None] | None:
        """`role_in` for several users of one world, in one read (a room re-checks its members
        when the world's roles change); None when there is no world."""
        members = cast(Table, WorldMember.__table__)
        async with self._sessions() as s:
            world = (await s.execute(select(WORLDS.c.owner_id, WORLDS.c.visibility)
                                     .where(WORLDS.c.id == world_id))).first()
            if world is None:
                return None
            invited = dict((await s.execute(select(members.c.user_id, members.c.role).where(
                members.c.world_id == world_id, members.c.user_id.in_(sorted(set(user_ids)))))).all())
        return {u: _role(world[0], world[1], invited.get(u), u) for u in user_ids}

    async def members(self, world_id: str) -> list[WorldMember]:
        async with self._sessions() as s:
            return list(await s.scalars(select(WorldMember).where(WorldMember.world_id == world_id)
                                        .order_by(WorldMember.user_id)))

    async def share(self, world_id: str, user_id: str, role: str | None) -> None:
        """Invite `user_id` as editor/viewer, or remove the invitation when role is None."""
        async with self._tx() as s:
            member = await s.get(WorldMember, (world_id, user_id))
            if role is None:
                if member is not None:
                    await s.delete(member)
            elif member is None:
                s.add(WorldMember(world_id=world_id, user_id=user_id, role=role))
            else:
                member.role = role

    async def set_visibility(self, world_id: str, visibility: str) -> None:
        async with self._tx() as s:
            await s.execute(update(World).where(World.id == world_id)
                            .values(visibility=visibility, updated_at=utcnow()))

    async def delete(self, world_id: str) -> bool:
        async with self._tx() as s:
            # Children first: SQLite enforces ON DELETE CASCADE only with foreign_keys on,
            # and an operator's tool may not set it.
            await s.execute(delete(WorldInstance).where(WorldInstance.world_id == world_id))
            await s.execute(delete(WorldChunk).where(WorldChunk.world_id == world_id))
            await s.execute(delete(WorldMember).where(WorldMember.world_id == world_id))
            from .models import Experience, WorldOp

            await s.execute(delete(WorldOp).where(WorldOp.world_id == world_id))
            await s.execute(delete(Experience).where(Experience.world_id == world_id))
            result = await s.execute(delete(World).where(World.id == world_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]
