"""Generation leases in the store (server/leases.py), on both backends: only worlds whose
lease expired (or that have none) are swept to `partial`, each by one caller; a renewed lease
is not swept; `None` sweeps every generating world (a single process starting)."""

from __future__ import annotations

from datetime import timedelta

from persistence.clock import utcnow
from persistence.store import Store


async def _world(store: Store, world_id: str, lease_s: float | None) -> None:
    lease = None if lease_s is None else utcnow() + timedelta(seconds=lease_s)
    await store.worlds.start_generated([], id=world_id, owner_id="lena", prompt="p", world_type="nature", title="t",
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
