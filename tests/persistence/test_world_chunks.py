"""Generated instances stored a chunk per row (models.WorldChunk), on every store backend.

Readers see chunk instances and edited rows as one ordered world; the first edit expands
the chunks into instance rows in its own transaction, so edits and snapshots never see a
half-expanded world.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import msgpack
from sqlalchemy import func, select

from persistence.clock import as_utc
from persistence.models import WorldChunk, WorldInstance
from persistence.store import Store


def _inst(n: int) -> dict[str, Any]:
    return {"id": f"i{n:05d}", "prefab_id": "oak_tree", "prefab_type": "environment",
            "pos": [float(n), 0.5, -float(n)], "rot": [0.0, 0.38268343, 0.0, 0.92387953],
            "scale": [1.25, 1.25, 1.25], "props": {"attributes": ["mossy"]} if n % 2 else {}}


def _chunk(first: int, count: int) -> tuple[int, int, bytes]:
    return first, count, msgpack.packb([_inst(n) for n in range(first + 1, first + count + 1)])


async def _generated(store: Store, sizes: list[int]) -> str:
    world_id = f"w_{secrets.token_hex(6)}"
    await store.users.ensure_guest("alice")
    await store.worlds.create(id=world_id, owner_id="alice", prompt="a forest", world_type="nature",
                              title="Forest", description="trees", header={}, seed=0)
    first = 0
    for size in sizes:  # as stream_world does: first chunk alone, then groups
        await store.worlds.append_chunks(world_id, [_chunk(first, size)])
        first += size
    await store.worlds.finish(world_id, "complete", 1.0)
    return world_id


async def _counts(store: Store, world_id: str) -> tuple[int, int]:
    async with store.sessions() as s:
        chunks = await s.scalar(select(func.count()).select_from(WorldChunk).where(WorldChunk.world_id == world_id))
        rows = await s.scalar(select(func.count()).select_from(WorldInstance)
                              .where(WorldInstance.world_id == world_id))
    return int(chunks or 0), int(rows or 0)


async def test_chunks_read_back_as_ordered_instance_rows(store: Store) -> None:
    w = await _generated(store, [3, 4, 2])
    rows = await store.worlds.instances(w)
    assert [r.id for r in rows] == [f"i{n:05d}" for n in range(1, 10)]
    assert [r.ord for r in rows] == list(range(9))
    r = rows[2]
    assert (r.world_id, r.prefab_id, r.prefab_type, r.px, r.py, r.pz) == (w, "oak_tree", "environment", 3.0, 0.5, -3.0)
    assert (r.rx, r.ry, r.rz, r.rw, r.sx, r.sy, r.sz) == (0.0, 0.38268343, 0.0, 0.92387953, 1.25, 1.25, 1.25)
    assert (rows[0].props, rows[1].props) == ({"attributes": ["mossy"]}, {})
    world = await store.worlds.require(w)
    assert world.instance_count == 9
    assert await _counts(store, w) == (3, 0)


async def test_the_first_edit_expands_chunks_into_rows_and_edits_a_generated_instance(store: Store) -> None:
    w = await _generated(store, [2, 3])
    before = [tuple(r[1:]) for r in await store.worlds.instances(w)]
    applied = await store.edits.apply(w, "alice", [{"op": "move", "id": "i00004", "pos": [9.0, 9.0, 9.0]},
                                                   {"op": "remove", "id": "i00001"},
                                                   {"op": "add", "prefab_id": "rock_01", "prefab_type": "rock",
                                                    "pos": [1.0, 0.0, 1.0]}],
                                      new_ids=["", "", "r1"])
    assert [o["outcome"] for o in applied.ops] == ["applied", "applied", "applied"]
    assert await _counts(store, w) == (0, 5)
    world, rows = await store.edits.snapshot(w)
    assert world.instance_count == 5
    assert [r.id for r in rows] == ["i00002", "i00003", "i00004", "i00005", "r1"]
    assert [r.ord for r in rows] == [1, 2, 3, 4, 5]
    moved = next(r for r in rows if r.id == "i00004")
    assert (moved.px, moved.py, moved.pz) == (9.0, 9.0, 9.0)
    # Everything the edit did not touch reads back exactly as it was stored in the chunks.
    untouched = {r[1]: tuple(r[1:]) for r in rows if r.id in ("i00002", "i00003", "i00005")}
    assert untouched == {t[0]: t for t in before if t[0] in ("i00002", "i00003", "i00005")}


async def test_an_edit_that_changes_nothing_still_leaves_a_whole_world(store: Store) -> None:
    w = await _generated(store, [2])
    applied = await store.edits.apply(w, "alice", [{"op": "remove", "id": "nope"}], new_ids=[""])
    assert not applied.advanced
    assert [r.id for r in await store.worlds.instances(w)] == ["i00001", "i00002"]


async def test_deleting_a_world_deletes_its_chunks(store: Store) -> None:
    w = await _generated(store, [2, 2])
    assert await store.worlds.delete(w)
    assert await _counts(store, w) == (0, 0)
    assert await store.worlds.instances(w) == []


async def test_a_world_started_with_its_chunks_reads_back_like_any_other(store: Store) -> None:
    await store.users.ensure_guest("alice")
    header = {"title": "Fjord — été", "bounds": {"min": {"x": -1.5}}, "warnings": []}
    await store.worlds.start_generated([_chunk(0, 3)], id="wfast", owner_id="alice", prompt="a fjord",
                                       world_type="nature", title="Fjord", description="cold", header=header, seed=7)
    world = await store.worlds.require("wfast")
    assert ((world.status, world.instance_count, world.visibility, world.seq, world.seed)
            == ("generating", 3, "private", 0, 7))
    assert world.header == header
    assert world.created_at.utcoffset() in (None, timedelta(0)) and world.created_at == world.updated_at
    await store.worlds.append_chunks("wfast", [_chunk(3, 2)], finish=("complete", 12.5))
    world = await store.worlds.require("wfast")
    assert (world.status, world.instance_count, world.processing_time_ms) == ("complete", 5, 12.5)
    assert as_utc(world.updated_at) >= as_utc(world.created_at)
    assert await store.worlds.count_owned("alice") == 1
    assert [r.id for r in await store.worlds.instances("wfast")] == [f"i{n:05d}" for n in range(1, 6)]
    listed, total = await store.worlds.list_for_user("alice", 10, 0)
    assert total == 1 and listed[0][0].id == "wfast"


async def test_a_whole_world_in_its_first_chunk_is_created_complete(store: Store) -> None:
    await store.users.ensure_guest("alice")
    await store.worlds.start_generated([_chunk(0, 2)], finish=("complete", 3.0), id="wone", owner_id="alice",
                                       prompt="p", world_type="nature", title="t", description="d", header={}, seed=1)
    world = await store.worlds.require("wone")
    assert (world.status, world.instance_count, world.processing_time_ms) == ("complete", 2, 3.0)
    # Its generation has ended: a later end changes nothing (server/leases.py, the fence).
    assert await store.worlds.finish("wone", "partial", 4.0) is None
    assert (await store.worlds.require("wone")).status == "complete"
