"""Edits, the op log and seq assignment on every store backend (SQLite and PostgreSQL).

The seq is the order every member of a world sees (docs/protocol.md §7.4); several nodes
assign it through one database, so the concurrency tests use several engines at once, as
several server processes would.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from persistence.errors import Conflict, NotFound
from persistence.store import Store

ROCK = {"op": "add", "prefab_id": "rock_01", "prefab_type": "rock", "pos": [1.0, 0.0, 2.0]}


async def _world(store: Store, *, status: str = "complete", owner: str = "alice") -> str:
    world_id = f"w_{secrets.token_hex(6)}"
    if await store.users.get(owner) is None:
        await store.users.ensure_guest(owner)
    await store.worlds.create(id=world_id, owner_id=owner, prompt="a quiet forest", world_type="nature",
                              title="Forest", description="trees", header={}, seed=0)
    if status != "generating":
        await store.worlds.finish(world_id, status, 1.0)
    return world_id


async def _add(store: Store, world_id: str, inst_id: str, **kw: Any) -> Any:
    return await store.edits.apply(world_id, "alice", [dict(ROCK)], new_ids=[inst_id], **kw)


async def test_each_applied_batch_takes_the_next_seq_and_is_logged(store: Store) -> None:
    w = await _world(store)
    first = await _add(store, w, "i1", session_id="s1", rid=7)
    second = await store.edits.apply(w, "bob", [{"op": "move", "id": "i1", "pos": [3.0, 0.0, 3.0]},
                                                {"op": "set", "id": "i1", "props": {"lit": True}}],
                                     session_id="s2", rid=8, new_ids=["", ""])
    assert (first.seq, second.seq) == (1, 2)
    assert [o["outcome"] for o in second.ops] == ["applied", "applied"]
    log = await store.edits.ops_since(w, 0, 100)
    assert [(r.seq, r.author_id, r.session_id, r.rid) for r in log] == [(1, "alice", "s1", 7), (2, "bob", "s2", 8)]
    assert log[0].ops[0] == {**ROCK, "id": "i1", "rot": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0],
                             "props": {}, "outcome": "applied"}
    assert [r.seq for r in await store.edits.ops_since(w, 1, 100)] == [2]
    world, rows = await store.edits.snapshot(w)
    assert world.seq == 2 and world.instance_count == 1
    assert [(r.id, r.px, r.props) for r in rows] == [("i1", 3.0, {"lit": True})]


async def test_a_batch_that_changes_nothing_keeps_the_seq_and_logs_nothing(store: Store) -> None:
    w = await _world(store)
    await _add(store, w, "i1")
    applied = await store.edits.apply(w, "alice", [{"op": "remove", "id": "gone"}], new_ids=[""])
    assert (applied.seq, applied.advanced, applied.ops[0]["outcome"]) == (1, False, "noop")
    assert [r.seq for r in await store.edits.ops_since(w, 0, 100)] == [1]


async def test_a_refused_batch_writes_nothing(store: Store) -> None:
    w = await _world(store)
    await _add(store, w, "i1")
    with pytest.raises(Conflict):  # the second op reuses a live id: the whole batch fails
        await store.edits.apply(w, "alice", [dict(ROCK), dict(ROCK)], new_ids=["i2", "i1"])
    world, rows = await store.edits.snapshot(w)
    assert (world.seq, world.instance_count, [r.id for r in rows]) == (1, 1, ["i1"])
    with pytest.raises(NotFound):
        await _add(store, "w_missing", "i9")
    generating = await _world(store, status="generating")
    with pytest.raises(Conflict):
        await _add(store, generating, "i1")


async def test_an_op_on_an_instance_removed_by_an_earlier_seq_is_superseded(store: Store) -> None:
    w = await _world(store)
    await _add(store, w, "i1")
    await store.edits.apply(w, "bob", [{"op": "remove", "id": "i1"}], new_ids=[""])
    late = await store.edits.apply(w, "alice", [{"op": "move", "id": "i1", "pos": [0.0, 0.0, 0.0]},
                                                {"op": "add", **{k: v for k, v in ROCK.items() if k != "op"}}],
                                   new_ids=["", "i2"])
    assert [o["outcome"] for o in late.ops] == ["superseded", "applied"]
    assert late.seq == 3


async def test_compaction_keeps_the_newest_ops(store: Store) -> None:
    w = await _world(store)
    for n in range(10):
        await _add(store, w, f"i{n}")
    assert await store.edits.compact(w, 4) == 6
    assert await store.edits.oldest_seq(w) == 7
    assert [r.seq for r in await store.edits.ops_since(w, 0, 100)] == [7, 8, 9, 10]
    assert await store.edits.compact("w_missing", 4) == 0


async def test_concurrent_editors_on_several_engines_get_every_seq_exactly_once(store_url: str) -> None:
    """Four engines (as four nodes) × eight tasks × six batches on one world: the seqs taken
    are exactly 1..192, the op log holds each once, and the world's counters agree."""
    engines, tasks, batches = 4, 8, 6
    stores = [Store(store_url, pool_size=tasks) for _ in range(engines)]
    try:
        w = await _world(stores[0])

        async def editor(store: Store, name: str) -> list[int]:
            seqs = []
            for n in range(batches):
                applied = await _add(store, w, f"{name}-{n}", session_id=name, rid=n)
                seqs.append(applied.seq)
            return seqs

        results = await asyncio.gather(*(editor(stores[e], f"e{e}t{t}") for e in range(engines)
                                         for t in range(tasks)))
        total = engines * tasks * batches
        taken = sorted(s for seqs in results for s in seqs)
        assert taken == list(range(1, total + 1))
        assert all(seqs == sorted(seqs) for seqs in results)  # one editor's batches keep their order
        log = await stores[0].edits.ops_since(w, 0, total + 10)
        assert [r.seq for r in log] == taken
        # The op at each seq is the batch that was told that seq.
        told = {(f"e{e}t{t}", n): seq for (e, t), seqs in
                zip([(e, t) for e in range(engines) for t in range(tasks)], results, strict=True)
                for n, seq in enumerate(seqs)}
        assert {(r.session_id, r.rid): r.seq for r in log} == told
        world, rows = await stores[0].edits.snapshot(w)
        assert (world.seq, world.instance_count, len(rows)) == (total, total, total)
        assert sorted(r.ord for r in rows) == list(range(total))
    finally:
        for s in stores:
            await s.close()


async def test_concurrent_adds_of_one_id_on_two_engines_let_exactly_one_win(store_url: str) -> None:
    stores = [Store(store_url, pool_size=4) for _ in range(2)]
    try:
        w = await _world(stores[0])
        for round_ in range(10):
            outcomes = await asyncio.gather(*(_add(s, w, f"same{round_}") for s in stores),
                                            return_exceptions=True)
            wins = [o for o in outcomes if not isinstance(o, BaseException)]
            assert len(wins) == 1, outcomes
            assert all(isinstance(o, Conflict) for o in outcomes if o not in wins)
        world, rows = await stores[0].edits.snapshot(w)
        assert world.seq == 10 and sorted(r.id for r in rows) == sorted(f"same{n}" for n in range(10))
    finally:
        for s in stores:
            await s.close()


async def test_identical_moves_and_sets_are_noop_and_keep_the_seq(store: Store) -> None:
    # docs/protocol.md §7.4: a move to the current transform or a set of the current props
    # changes nothing: outcome noop, no new seq, nothing logged (so nothing is broadcast).
    w = await _world(store)
    await store.edits.apply(w, "alice", [{**ROCK, "props": {"lit": True, "n": 1}}], new_ids=["i1"])
    same = [{"op": "move", "id": "i1", "pos": [1.0, 0.0, 2.0]},
            {"op": "move", "id": "i1", "rot": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0]},
            {"op": "set", "id": "i1", "props": {"lit": True}},
            {"op": "set", "id": "i1", "props": {"gone": None}}]
    applied = await store.edits.apply(w, "bob", same, new_ids=[""] * len(same))
    assert (applied.seq, applied.advanced) == (1, False)
    assert [o["outcome"] for o in applied.ops] == ["noop"] * len(same)
    assert [r.seq for r in await store.edits.ops_since(w, 0, 100)] == [1]
    # A value of another JSON type is a change (1.0 and true are not 1), and only the changing
    # op of a mixed batch is applied and logged.
    mixed = [{"op": "set", "id": "i1", "props": {"n": 1.0}}, {"op": "move", "id": "i1", "pos": [1.0, 0.0, 2.0]}]
    applied = await store.edits.apply(w, "bob", mixed, new_ids=["", ""])
    assert (applied.seq, [o["outcome"] for o in applied.ops]) == (2, ["applied", "noop"])
    _, rows = await store.edits.snapshot(w)
    assert rows[0].props == {"lit": True, "n": 1.0}
