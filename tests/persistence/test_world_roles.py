"""Who may see a world: `role_in` (one query, asked on every join) agrees with `role_of`,
on every store backend."""

from __future__ import annotations

import pytest

from persistence.errors import NotFound
from persistence.store import Store


async def test_role_in_names_owner_members_public_and_strangers(store: Store) -> None:
    for user in ("olga", "ed", "vic", "stan"):
        await store.users.ensure_guest(user)
    await store.worlds.start_generated([], finish=("complete", 1.0), id="wr", owner_id="olga", prompt="p",
                                       world_type="nature", title="t", description="d", header={}, seed=1)
    await store.worlds.share("wr", "ed", "editor")
    await store.worlds.share("wr", "vic", "viewer")
    expected = {"olga": "owner", "ed": "editor", "vic": "viewer", "stan": None}
    world = await store.worlds.require("wr")
    for user, role in expected.items():
        assert await store.worlds.role_in("wr", user) == role == await store.worlds.role_of(world, user)
    await store.worlds.set_visibility("wr", "public")
    world = await store.worlds.require("wr")
    assert await store.worlds.role_in("wr", "stan") == "public" == await store.worlds.role_of(world, "stan")
    assert await store.worlds.role_in("wr", "vic") == "viewer"  # an invitation outranks public
    with pytest.raises(NotFound):
        await store.worlds.role_in("nope", "olga")


async def test_join_check_reads_role_version_and_cards_in_one_query(store: Store) -> None:
    """What a join reads (`join_check`): the same role as `role_in`, the snapshot version that
    every write changing a snapshot moves (server/room.py Snapshot), and whether a play
    would count (a card of the world that the joining user did not author)."""
    for user in ("olga", "ed", "stan"):
        await store.users.ensure_guest(user)
    await store.worlds.start_generated([], finish=("complete", 1.0), id="wj", owner_id="olga", prompt="p",
                                       world_type="nature", title="t", description="d", header={}, seed=1)
    await store.worlds.share("wj", "ed", "editor")
    for user in ("olga", "ed", "stan"):
        check = await store.worlds.join_check("wj", user)
        assert check.role == await store.worlds.role_in("wj", user)
        assert check.version == (0, "complete", 0)
        assert check.has_cards is False
    applied = await store.edits.apply("wj", "ed", [{"op": "add", "prefab_id": "small_rocks", "pos": [0.0, 0.0, 0.0],
                                                    "rot": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0],
                                                    "props": {}, "prefab_type": "environment"}],
                                      new_ids=["e1"])
    assert (await store.worlds.join_check("wj", "stan")).version == (applied.seq, "complete", 1)
    await store.experiences.create(id="xj", world_id="wj", author_id="olga", title="t", description="d",
                                   tags=[], is_public=True, thumbnail_url=None)
    assert (await store.worlds.join_check("wj", "ed")).has_cards is True
    assert (await store.worlds.join_check("wj", "olga")).has_cards is False  # her own card: no play
    with pytest.raises(NotFound):
        await store.worlds.join_check("nope", "olga")
