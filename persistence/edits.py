"""Ordered edits: one transaction assigns the world's next seq, applies the batch to the
instance table, and appends it to the op log — so state and log never disagree.

The seq comes from `UPDATE worlds SET seq = seq + 1 … RETURNING seq`: on PostgreSQL the
row lock serialises concurrent editors on every node; on SQLite the write lock does.
Conflicts resolve by seq order: last writer wins per field, and an op on an instance that
an earlier seq removed is `superseded` (remove wins over move). See docs/protocol.md §7.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import utcnow
from .db import Repo
from .errors import Conflict, LimitExceeded, NotFound
from .models import World, WorldInstance, WorldOp
from .worlds import expand_chunks, instance_rows

IDENTITY_ROT = [0.0, 0.0, 0.0, 1.0]
UNIT_SCALE = [1.0, 1.0, 1.0]


@dataclass(frozen=True, slots=True)
class Applied:
    seq: int
    ops: list[dict[str, Any]]  # each op as stored, with "outcome"
    advanced: bool = True  # False: nothing applied, nothing logged or broadcast


class EditRepo(Repo):

    async def apply(self, world_id: str, author_id: str, ops: list[dict[str, Any]], *,
                    session_id: str | None = None, rid: int | None = None, new_ids: list[str],
                    max_instances: int | None = None) -> Applied:
        """Apply a validated batch atomically. `new_ids[i]` names op i's instance when it adds one.

        Raises NotFound (no world), Conflict (an add reuses a live id, or the world is still
        generating), LimitExceeded (adds past `max_instances`). Nothing is written when it raises.
        """
        async with self._tx() as s:
            status = await s.scalar(select(World.status).where(World.id == world_id))
            if status is None:
                raise NotFound(f"world {world_id} not found")
            if status == "generating":
                raise Conflict("the world is still generating; edit it after gen.done")
            # Lock the world row first (PostgreSQL: FOR UPDATE; SQLite: the write lock taken
            # by this UPDATE), so outcomes are computed against the state this seq follows.
            await s.execute(update(World).where(World.id == world_id).values(updated_at=utcnow()))
            # Generated instances are stored a chunk per row; edits work on instance rows.
            await expand_chunks(s, world_id)
            adds = sum(1 for op in ops if op["op"] == "add")
            if adds and max_instances is not None:
                # Under the row lock: two editors racing at the cap cannot both pass it.
                count = int(await s.scalar(select(World.instance_count).where(World.id == world_id)) or 0)
                if count + adds > max_instances:
                    raise LimitExceeded(f"a world holds at most {max_instances} instances")
            ids = [op.get("id") for op in ops if op.get("id")] + [i for i in new_ids if i]
            live = {row.id: row for row in await s.scalars(
                select(WorldInstance).where(WorldInstance.world_id == world_id, WorldInstance.id.in_(ids)))}
            # (not `… or -1`: a max of 0 is falsy, and every later add would reuse ord 0)
            next_ord = int(await s.scalar(select(func.coalesce(func.max(WorldInstance.ord), -1))
                                          .where(WorldInstance.world_id == world_id))) + 1
            stored = []
            for i, op in enumerate(ops):
                out = _apply_one(s, world_id, op, new_ids[i], live, next_ord)
                if out["op"] == "add":
                    next_ord += 1
                stored.append(out)
            if not any(o["outcome"] == "applied" for o in stored):
                # docs/protocol.md §7.4: nothing applied → seq does not advance, no op is logged.
                current = await s.scalar(select(World.seq).where(World.id == world_id))
                return Applied(int(current or 0), stored, advanced=False)
            seq = await s.scalar(update(World).where(World.id == world_id)
                                 .values(seq=World.seq + 1).returning(World.seq))
            s.add(WorldOp(world_id=world_id, seq=seq, author_id=author_id, session_id=session_id, rid=rid,
                          ops=stored, created_at=utcnow()))
            count_delta = sum(1 for o in stored if o["op"] == "add") - sum(
                1 for o in stored if o["op"] == "remove" and o["outcome"] == "applied")
            if count_delta:
                await s.execute(update(World).where(World.id == world_id)
                                .values(instance_count=World.instance_count + count_delta))
        return Applied(int(seq), stored)

    async def ops_since(self, world_id: str, since_seq: int, limit: int) -> list[WorldOp]:
        async with self._sessions() as s:
            q = (select(WorldOp).where(WorldOp.world_id == world_id, WorldOp.seq > since_seq)
                 .order_by(WorldOp.seq).limit(limit))
            return list(await s.scalars(q))

    async def oldest_seq(self, world_id: str) -> int | None:
        async with self._sessions() as s:
            return await s.scalar(select(func.min(WorldOp.seq)).where(WorldOp.world_id == world_id))

    async def snapshot(self, world_id: str) -> tuple[World, list[Any]]:
        """The world row and its instances as of one consistent moment."""
        async with self._sessions() as s:
            # The first statement autobegins the transaction; on PostgreSQL it is begun with
            # REPEATABLE READ (an explicit s.begin() after this would raise "already begun").
            # Read-only: closing the session ends it.
            if s.bind.dialect.name == "postgresql":
                await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            world = await s.get(World, world_id)
            if world is None:
                raise NotFound(f"world {world_id} not found")
            rows = await instance_rows(s, world_id)
        return world, rows

    async def compact(self, world_id: str, keep: int) -> int:
        """Drop ops older than the newest `keep`; returns how many were deleted."""
        async with self._tx() as s:
            top = await s.scalar(select(World.seq).where(World.id == world_id))
            if top is None:
                return 0
            result = await s.execute(delete(WorldOp).where(WorldOp.world_id == world_id,
                                                           WorldOp.seq <= top - keep))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _apply_one(s: AsyncSession, world_id: str, op: dict[str, Any], new_id: str | None,
               live: dict[str, WorldInstance], next_ord: int) -> dict[str, Any]:
    kind = op["op"]
    if kind == "add":
        assert new_id is not None
        if new_id in live:
            raise Conflict(f"instance id {new_id} is already in use")
        pos, rot, scale = op["pos"], op.get("rot") or IDENTITY_ROT, op.get("scale") or UNIT_SCALE
        row = WorldInstance(world_id=world_id, id=new_id, ord=next_ord, prefab_id=op["prefab_id"],
                            prefab_type=op["prefab_type"], px=pos[0], py=pos[1], pz=pos[2], rx=rot[0],
                            ry=rot[1], rz=rot[2], rw=rot[3], sx=scale[0], sy=scale[1], sz=scale[2],
                            props=dict(op.get("props") or {}))
        s.add(row)
        live[new_id] = row
        return {"op": "add", "id": new_id, "prefab_id": op["prefab_id"], "prefab_type": op["prefab_type"],
                "pos": list(pos), "rot": list(rot), "scale": list(scale), "props": row.props,
                "outcome": "applied"}
    row = live.get(op["id"])
    if kind == "remove":
        if row is None:
            return {"op": "remove", "id": op["id"], "outcome": "noop"}
        live.pop(op["id"])
        # Deleting through the session keeps a later add of the same id in this batch valid.
        s.sync_session.delete(row)
        return {"op": "remove", "id": op["id"], "outcome": "applied"}
    if row is None:  # an earlier seq (or op) removed it: remove wins over move / set
        return {"op": kind, "id": op["id"], "outcome": "superseded"}
    out: dict[str, Any] = {"op": kind, "id": op["id"], "outcome": "applied"}
    if kind == "move":
        for key, cols in (("pos", ("px", "py", "pz")), ("rot", ("rx", "ry", "rz", "rw")),
                          ("scale", ("sx", "sy", "sz"))):
            if op.get(key) is not None:
                for col, value in zip(cols, op[key], strict=True):
                    setattr(row, col, value)
                out[key] = list(op[key])
    elif kind == "set":
        merged = dict(row.props or {})
        for key, value in op["props"].items():
            if value is None:
                merged.pop(key, None)  # null deletes a property
            else:
                merged[key] = value
        row.props = merged
        out["props"] = dict(op["props"])
    return out
