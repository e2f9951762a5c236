"""Generation leases in the store (server/leases.py), on both backends: only worlds whose
lease expired (or that have none) are swept to `partial`, each by one caller; a renewed lease
is not swept; `None` sweeps every generating world (a single process starting); a generation's
own writes apply only while its world is `generating` (the fence against a node that was cut
off while another swept its world)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from persistence.clock import utcnow
from persistence.errors import LeaseLost
from persistence.store import Store
from tests.persistence.test_world_chunks import _chunk


async def _world(store: Store, world_id: str, lease_s: float | None,
                 chunks: Sequence[tuple[int, int, bytes]] = ()) -> None:
    lease = None if lease_s is None else utcnow() + timedelta(seconds=lease_s)
    await store.worlds.start_generated(chunks, id=world_id, owner_id="lena", prompt="p", world_type="nature", title="t",
                                       description="d", header={}, seed=1, gen_lease_until=lease)


async def test_only_expired_leases_are_swept_once_and_renewals_count(store: Store) -> None:
    await store.users.ensure_guest("lena")
    await _world(store, "wlive", 60)
    await _world(store, "wdead", -1)
    await _world(store, "wold", None)  # a row from before leases
    await _world(store, "wrenewed", -1)
    await store.worlds.renew_leases(["wrenewed"], utcnow() + timedelta(seconds=60))
    assert sorted(await store.worlds.sweep_expired(utcnow())) == ["wdead", "wold"]
    assert await store.worlds.sweep_expired(utcnow()) == []  # each world is swept once
    statuses = {w: (await store.worlds.require(w)).status for w in ("wlive", "wdead", "wold", "wrenewed")}
    assert statuses == {"wlive": "generating", "wdead": "partial", "wold": "partial", "wrenewed": "generating"}
    assert sorted(await store.worlds.sweep_expired(None)) == ["wlive", "wrenewed"]


async def test_a_swept_world_stays_partial_when_its_cut_off_node_writes_again(store: Store) -> None:
    """The node whose lease expired was only cut off: when it reaches the store again, its next
    chunks and its `complete` are refused in the same statement that would write them (the
    world is no longer `generating`), so the `partial` that the sweeping node announced stands."""
    await store.users.ensure_guest("lena")
    await _world(store, "wcut", -1, chunks=[_chunk(0, 2)])
    assert await store.worlds.sweep_expired(utcnow()) == ["wcut"]
    with pytest.raises(LeaseLost):
        await store.worlds.append_chunks("wcut", [_chunk(2, 3)], finish=("complete", 9.0))
    with pytest.raises(LeaseLost):
        await store.worlds.append_chunks("wcut", [_chunk(2, 3)])
    assert await store.worlds.finish("wcut", "complete", 9.0) is None
    await store.worlds.renew_leases(["wcut"], utcnow() + timedelta(seconds=60))
    world = await store.worlds.require("wcut")
    assert (world.status, world.instance_count) == ("partial", 2)
    assert [r.id for r in await store.worlds.instances("wcut")] == ["i00001", "i00002"]
    assert await store.worlds.sweep_expired(utcnow()) == []


async def test_a_generating_world_still_takes_its_chunks_and_its_end(store: Store) -> None:
    await store.users.ensure_guest("lena")
    await _world(store, "wlive", 60, chunks=[_chunk(0, 2)])
    await store.worlds.append_chunks("wlive", [_chunk(2, 1)])
    assert await store.worlds.finish("wlive", "partial", 3.0) is not None
    world = await store.worlds.require("wlive")
    assert (world.status, world.instance_count) == ("partial", 3)
