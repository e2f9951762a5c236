"""Ordered edits: one transaction assigns the world's next seq, applies the batch to the
instance table, and appends it to the op log — so state and log never disagree.

The seq comes from `UPDATE worlds SET seq = seq + 1 … RETURNING seq`: on PostgreSQL the
row lock serialises concurrent editors on every node; on SQLite the write lock does.
Conflicts resolve by seq order: last writer wins per field, and an op on an instance that
an earlier seq removed is `superseded` (remove wins over move). See docs/protocol.md §7.4.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgpack
from sqlalchemy import Text, bindparam, cast, delete, func, insert, select, update

from .clock import utcnow
from .db import Repo
from .errors import CommitUnknown, Conflict, LimitExceeded, NotFound, is_outage
from .models import World, WorldOp
from .sqlite_writer import json_text
from .statements import Tx, execute, first, rows, run_core, run_sqlite, scalar
from .worlds import (
    INSERT_INSTANCE,
    INSTANCE_COLUMNS,
    INSTANCES,
    OPS,
    WORLDS,
    expand_chunks,
    instance_rows,
    packed_instances,
)

IDENTITY_ROT = [0.0, 0.0, 0.0, 1.0]
UNIT_SCALE = [1.0, 1.0, 1.0]


@dataclass(frozen=True, slots=True)
class Applied:
    seq: int
    ops: list[dict[str, Any]]  # each op as stored, with "outcome"
    advanced: bool = True  # False: nothing applied, nothing logged or broadcast


# An edit batch's statements (persistence/statements.py). The world row is locked first
# (PostgreSQL: FOR UPDATE), so outcomes are computed against the state this seq follows.
_LOCK_WORLD = (select(WORLDS.c.status, WORLDS.c.instance_count, WORLDS.c.seq)
               .where(WORLDS.c.id == bindparam("world_id")).with_for_update())
_LIVE = select(INSTANCES).where(INSTANCES.c.world_id == bindparam("world_id"),
                                INSTANCES.c.id.in_(bindparam("ids", expanding=True)))
_NEXT_ORD = (select(func.coalesce(func.max(INSTANCES.c.ord), -1))
             .where(INSTANCES.c.world_id == bindparam("world_id")))
_ADVANCE = (update(WORLDS).where(WORLDS.c.id == bindparam("world_id"))
            .values(seq=WORLDS.c.seq + 1, instance_count=WORLDS.c.instance_count + bindparam("added"),
                    stored_bytes=WORLDS.c.stored_bytes + bindparam("logged_bytes"), updated_at=bindparam("now"))
            .returning(WORLDS.c.seq))
_INSERT_OP = insert(OPS)
_DROP = delete(INSTANCES).where(INSTANCES.c.world_id == bindparam("world_id"),
                                INSTANCES.c.id.in_(bindparam("ids", expanding=True)))


class EditRepo(Repo):
    """Edits; on a SQLite file a batch is one transaction on the one-hop `SqliteWriter`."""

    async def apply(self, world_id: str, author_id: str, ops: list[dict[str, Any]], *,
                    session_id: str | None = None, rid: int | None = None, new_ids: list[str],
                    max_instances: int | None = None, max_props_bytes: int | None = None) -> Applied:
        """Apply a validated batch atomically. `new_ids[i]` names op i's instance when it adds one.

        Raises NotFound (no world), Conflict (an add reuses a live id, or the world is still
        generating), LimitExceeded (adds past `max_instances`, or an instance's props after the
        op past `max_props_bytes` packed). Nothing is written when it raises, except CommitUnknown:
        the connection died during COMMIT, and the batch may be stored (`op_of_request` tells).
        """
        batch = _Batch(world_id, author_id, ops, session_id, rid, new_ids, max_instances, max_props_bytes)
        if self._writer is not None:  # SQLite: a failed COMMIT rolls back, the outcome is known
            return await self._writer.run(lambda conn: run_sqlite(conn, batch.steps()))
        applied: Applied | None = None
        try:
            async with self._core() as conn:
                applied = await run_core(conn, batch.steps())
        except Exception as exc:
            if applied is not None and is_outage(exc):  # the statements ran; the COMMIT failed
                raise CommitUnknown(f"the commit of seq {applied.seq} of {world_id} may not be stored") from exc
            raise
        return applied

    async def ops_since(self, world_id: str, since_seq: int, limit: int) -> list[WorldOp]:
        async with self._sessions() as s:
            q = (select(WorldOp).where(WorldOp.world_id == world_id, WorldOp.seq > since_seq)
                 .order_by(WorldOp.seq).limit(limit))
            return list(await s.scalars(q))

    async def op_of_request(self, world_id: str, session_id: str, rid: int) -> WorldOp | None:
        """The op a session's request `rid` stored, if it was stored: how an edit whose COMMIT
        outcome is unknown (the connection died during it) is resolved (docs/protocol.md §8)."""
        async with self._sessions() as s:
            q = select(WorldOp).where(WorldOp.world_id == world_id, WorldOp.session_id == session_id,
                                      WorldOp.rid == rid)
            return (await s.scalars(q)).first()

    async def oldest_seq(self, world_id: str) -> int | None:
        async with self._sessions() as s:
            return await s.scalar(select(func.min(WorldOp.seq)).where(WorldOp.world_id == world_id))

    async def snapshot(self, world_id: str) -> tuple[World, list[Any]]:
        """The world row and its instances as of one consistent moment."""
        async with self._consistent(world_id) as (s, world):
            rows = await instance_rows(s, world_id)
        return world, rows

    async def packed_snapshot(self, world_id: str) -> tuple[World, int, list[bytes]]:
        """`snapshot` with the instances as packed arrays (worlds.packed_instances): the world
        row, its instance count and the arrays, as of one consistent moment. What a join sends."""
        async with self._consistent(world_id) as (s, world):
            count, packed = await packed_instances(s, world_id)
        return world, count, packed

    @contextlib.asynccontextmanager
    async def _consistent(self, world_id: str) -> AsyncIterator[tuple[Any, World]]:
        """A read-only session over one consistent view, and the world row; NotFound without it."""
        async with self._sessions() as s:
            # The first statement autobegins the transaction; on PostgreSQL it is begun with
            # REPEATABLE READ (an explicit s.begin() after this would raise "already begun").
            # Read-only: closing the session ends it.
            if s.get_bind().dialect.name == "postgresql":
                await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            world = await s.get(World, world_id)
            if world is None:
                raise NotFound(f"world {world_id} not found")
            yield s, world

    async def compact(self, world_id: str, keep: int, max_bytes: int | None = None) -> int:
        """Drop ops older than the newest `keep`, and older than the newest ops that fit in
        `max_bytes` (their stored JSON text); returns how many were deleted."""
        async with self._tx() as s:
            top = await s.scalar(select(World.seq).where(World.id == world_id))
            if top is None:
                return 0
            cut = top - keep
            if max_bytes is not None:
                # Newest first, the running total of sizes; the newest op past the budget and
                # everything older go.
                total = func.sum(func.length(cast(WorldOp.ops, Text))).over(order_by=WorldOp.seq.desc())
                sizes = (select(WorldOp.seq.label("seq"), total.label("total"))
                         .where(WorldOp.world_id == world_id).subquery())
                over = await s.scalar(select(func.max(sizes.c.seq)).where(sizes.c.total > max_bytes))
                if over is not None:
                    cut = max(cut, int(over))
            result = await s.execute(delete(WorldOp).where(WorldOp.world_id == world_id,
                                                           WorldOp.seq <= cut))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


class _Batch:
    """One edit batch: the rules in `plan` (no I/O), its transaction in `steps` (on SQLite one
    writer-thread transaction, on PostgreSQL under the world's row lock)."""

    def __init__(self, world_id: str, author_id: str, ops: list[dict[str, Any]], session_id: str | None,
                 rid: int | None, new_ids: list[str], max_instances: int | None,
                 max_props_bytes: int | None = None) -> None:
        self.world_id, self.author_id, self.ops = world_id, author_id, ops
        self.session_id, self.rid, self.new_ids, self.max_instances = session_id, rid, new_ids, max_instances
        self.max_props_bytes = max_props_bytes
        self.adds = sum(1 for op in ops if op["op"] == "add")
        self.ids = [op["id"] for op in ops if op.get("id")] + [i for i in new_ids if i]

    def check(self, status: str | None, count: int) -> None:
        if status is None:
            raise NotFound(f"world {self.world_id} not found")
        if status == "generating":
            raise Conflict("the world is still generating; edit it after gen.done")
        # Checked under the row lock: two editors racing at the cap cannot both pass it.
        if self.adds and self.max_instances is not None and count + self.adds > self.max_instances:
            raise LimitExceeded(f"a world holds at most {self.max_instances} instances")

    def plan(self, live: dict[str, dict[str, Any]], next_ord: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The ops as stored (with outcomes) and the final state of every instance the batch
        touched: a row dict, or None when it ends removed. `live` maps id → row for the ids
        the batch names that exist now."""
        final: dict[str, dict[str, Any] | None] = {}
        stored = []
        for i, op in enumerate(self.ops):
            out = _apply_one(self.world_id, op, self.new_ids[i], live, next_ord, final)
            if out["op"] == "add":
                next_ord += 1
            if op.get("props") and self.max_props_bytes is not None and out["outcome"] == "applied":
                self._check_props(i, final[out["id"]])
            stored.append(out)
        return stored, final

    def _check_props(self, i: int, row: dict[str, Any] | None) -> None:
        """One instance's merged props stay within the cap (a `set` merges keys, so each op
        being small does not bound the result: issue 15, finding 7)."""
        assert self.max_props_bytes is not None
        size = len(msgpack.packb(row["props"])) if row is not None else 0
        if size > self.max_props_bytes:
            raise LimitExceeded(f"an instance's props may hold at most {self.max_props_bytes} bytes packed; "
                                f"ops[{i}] would make them {size}",
                                fields={f"ops[{i}].props": f"merged props would exceed {self.max_props_bytes} bytes"})

    def _counts(self, stored: list[dict[str, Any]]) -> int:
        return sum(1 for o in stored if o["op"] == "add") - sum(
            1 for o in stored if o["op"] == "remove" and o["outcome"] == "applied")

    def steps(self) -> Tx[Applied]:
        """The batch's transaction (persistence/statements.py): lock, check, plan, write."""
        w = self.world_id
        row = yield first(_LOCK_WORLD, {"world_id": w})
        self.check(row and row[0], row[1] if row else 0)
        yield from expand_chunks(w)
        found = yield rows(_LIVE, {"world_id": w, "ids": self.ids})
        live = {r[1]: dict(zip(INSTANCE_COLUMNS, r, strict=True)) for r in found}
        next_ord = int((yield scalar(_NEXT_ORD, {"world_id": w}))) + 1
        existing = set(live)
        stored, final = self.plan(live, next_ord)
        if not any(o["outcome"] == "applied" for o in stored):
            # docs/protocol.md §7.4: nothing applied → seq does not advance, no op is logged.
            return Applied(int(row[2]), stored, advanced=False)
        now = utcnow()
        seq = yield scalar(_ADVANCE, {"world_id": w, "added": self._counts(stored),
                                      "logged_bytes": len(json_text(stored)), "now": now})
        yield execute(_INSERT_OP, {"world_id": w, "seq": seq, "author_id": self.author_id,
                                   "session_id": self.session_id, "rid": self.rid, "ops": stored, "created_at": now})
        gone = [i for i in final if i in existing]  # delete, then insert what remains
        if gone:
            yield execute(_DROP, {"world_id": w, "ids": gone})
        kept = [r for r in final.values() if r is not None]
        if kept:
            yield execute(INSERT_INSTANCE, kept)
        return Applied(int(seq), stored)


def _apply_one(world_id: str, op: dict[str, Any], new_id: str | None, live: dict[str, dict[str, Any]],
               next_ord: int, final: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """One op against `live` (id → row of the instances alive now, updated as ops apply);
    records each touched instance's resulting row (or None) in `final`."""
    kind = op["op"]
    if kind == "add":
        assert new_id is not None
        if new_id in live:
            raise Conflict(f"instance id {new_id} is already in use")
        pos, rot, scale = op["pos"], op.get("rot") or IDENTITY_ROT, op.get("scale") or UNIT_SCALE
        added = {"world_id": world_id, "id": new_id, "ord": next_ord, "prefab_id": op["prefab_id"],
                 "prefab_type": op["prefab_type"], "px": pos[0], "py": pos[1], "pz": pos[2], "rx": rot[0],
                 "ry": rot[1], "rz": rot[2], "rw": rot[3], "sx": scale[0], "sy": scale[1], "sz": scale[2],
                 "props": dict(op.get("props") or {})}
        live[new_id] = final[new_id] = added
        return {"op": "add", "id": new_id, "prefab_id": op["prefab_id"], "prefab_type": op["prefab_type"],
                "pos": list(pos), "rot": list(rot), "scale": list(scale), "props": added["props"],
                "outcome": "applied"}
    row = live.get(op["id"])
    if kind == "remove":
        if row is None:
            return {"op": "remove", "id": op["id"], "outcome": "noop"}
        del live[op["id"]]
        final[op["id"]] = None  # a later add of the same id in this batch replaces it
        return {"op": "remove", "id": op["id"], "outcome": "applied"}
    if row is None:  # an earlier seq (or op) removed it: remove wins over move / set
        return {"op": kind, "id": op["id"], "outcome": "superseded"}
    if _changes_nothing(op, row):  # docs/protocol.md §7.4: identical edits are noop
        return {"op": kind, "id": op["id"], "outcome": "noop"}
    row = final[op["id"]] = live[op["id"]] = dict(row)
    out: dict[str, Any] = {"op": kind, "id": op["id"], "outcome": "applied"}
    if kind == "move":
        for key, cols in _TRANSFORM:
            if op.get(key) is not None:
                for col, value in zip(cols, op[key], strict=True):
                    row[col] = value
                out[key] = list(op[key])
    elif kind == "set":
        row["props"] = _merged(row["props"], op["props"])
        out["props"] = dict(op["props"])
    return out


_TRANSFORM = (("pos", ("px", "py", "pz")), ("rot", ("rx", "ry", "rz", "rw")), ("scale", ("sx", "sy", "sz")))


def _merged(props: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(props or {})
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)  # null deletes a property
        else:
            merged[key] = value
    return merged


def _changes_nothing(op: dict[str, Any], row: dict[str, Any]) -> bool:
    """A move to the current transform, or a set whose merge leaves the props as they are.
    Props compare as JSON text, so 1, 1.0 and true stay different values (§2.3)."""
    if op["op"] == "move":
        return all(op.get(key) is None or [row[c] for c in cols] == list(op[key]) for key, cols in _TRANSFORM)
    current = row["props"] or {}
    return json.dumps(_merged(current, op["props"]), sort_keys=True) == json.dumps(current, sort_keys=True)
