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
