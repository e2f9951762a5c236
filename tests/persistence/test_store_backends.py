"""The repositories behave the same on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from persistence.catalog import SHIPPED_CATALOG, read_catalog_file
from persistence.clock import as_utc, utcnow
from persistence.db import alembic_config, migrate_async
from persistence.errors import Conflict
from persistence.models import Base
from persistence.store import Store


def _prefab(pid: str, **changes: Any) -> dict[str, Any]:
    _, rows, _ = read_catalog_file(SHIPPED_CATALOG)
    row = dict(rows[0])
    row.update({"id": pid, "name": f"Test {pid}", **changes})
    return row


def _event(user: str, client_id: str | None, minute: int, **extra: Any) -> dict[str, Any]:
    stamp = datetime(2024, 5, 1, 12, minute, tzinfo=UTC)
    return {"user_id": user, "client_event_id": client_id, "event_type": "world_entered",
            "session_id": "s1", "world_id": None, "experience_id": None, "data": {"minute": minute},
            "timestamp": stamp, "received_at": utcnow(), **extra}


async def test_migrate_creates_every_table_and_stamps_head(store: Store) -> None:
    async with store.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        stamped = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert set(Base.metadata.tables) <= tables
    head = ScriptDirectory.from_config(alembic_config(store.url)).get_current_head()
    assert stamped == [head]


async def test_migrating_again_is_a_no_op(store: Store) -> None:
    await store.users.ensure_guest("kept")
    await migrate_async(store.url)
    assert await store.users.get("kept") is not None


async def test_guest_accounts_are_created_once(store: Store) -> None:
    first = await store.users.ensure_guest("device-1")
    again = await store.users.ensure_guest("device-1")
    assert (first.id, first.kind, again.id, again.kind) == ("device-1", "guest", "device-1", "guest")
    assert first.password_hash is None
    assert set(await store.users.get_many(["device-1", "nobody"])) == {"device-1"}


async def test_password_accounts_refuse_duplicates_and_guest_use(store: Store) -> None:
    user = await store.users.create_password_user("carol", "scrypt$hash", "Carol")
    assert (user.kind, user.display_name) == ("password", "Carol")
    with pytest.raises(Conflict):
        await store.users.create_password_user("carol", "scrypt$other", "Other")
    with pytest.raises(Conflict):
        await store.users.ensure_guest("carol")
    assert (await store.users.get("carol")).password_hash == "scrypt$hash"  # type: ignore[union-attr]
    # The per-connect lookup (one hop on SQLite) sees an account created a moment ago.
    assert await store.users.display_name("carol") == "Carol"
    assert await store.users.display_name("nobody") is None
    # Connects that arrive together read their names in one query (server/auth.py AccountNames).
    await store.users.ensure_guest("dave", "Dave")
    assert await store.users.display_names(["carol", "dave", "nobody", "carol"]) == {"carol": "Carol", "dave": "Dave"}


async def test_revocations_are_stored_once_listed_and_purged_when_expired(store: Store) -> None:
    future = utcnow() + timedelta(hours=1)
    before = utcnow() - timedelta(seconds=5)
    await store.users.revoke_session("sid-live", "alice", future)
    await store.users.revoke_session("sid-live", "alice", future)  # idempotent
    await store.users.revoke_session("sid-old", "alice", utcnow() - timedelta(seconds=1))
    assert await store.users.is_revoked("sid-live") and not await store.users.is_revoked("sid-other")
    listed = await store.users.revoked_since(None)
    assert sorted(sid for sid, _ in listed) == ["sid-live", "sid-old"]
    assert all(as_utc(at) >= before for _, at in listed)
    assert await store.users.revoked_since(utcnow() + timedelta(minutes=1)) == []
    assert await store.users.purge_expired_revocations() == 1
    assert [sid for sid, _ in await store.users.revoked_since(None)] == ["sid-live"]


async def test_catalog_upsert_inserts_updates_and_versions(store: Store) -> None:
    assert await store.catalog.version() is None
    assert await store.catalog.upsert([_prefab("p_one"), _prefab("p_two")], "v1") == (2, 0)
    assert await store.catalog.version() == "v1"
    changed = _prefab("p_two", tags=["changed"], placement={**_prefab("p_two")["placement"], "width": 7.5})
    assert await store.catalog.upsert([changed, _prefab("p_three")], "v2") == (1, 1)
    assert await store.catalog.version() == "v2"
    rows = await store.catalog.all()
    assert [p.id for p in rows] == ["p_one", "p_three", "p_two"]
    two = rows[2]
    assert (two.tags, two.placement["width"], two.name) == (["changed"], 7.5, "Test p_two")
    assert await store.catalog.count() == 3


async def test_catalog_reimport_under_the_same_label_still_changes_the_version(store: Store) -> None:
    """Caches and ETags key on the stored version: a corrected file with an unchanged
    catalog_version must still be seen as a change by every node."""
    await store.catalog.upsert([_prefab("p_one")], "v1")
    first = await store.catalog.version()
    await store.catalog.upsert([_prefab("p_one", name="Renamed")], "v1")
    second = await store.catalog.version()
    assert first != second and second is not None and second.startswith("v1")


async def test_catalog_shipped_marker_is_separate_from_the_version(store: Store) -> None:
    assert await store.catalog.shipped_version() is None
    await store.catalog.mark_shipped("2026.1")
    await store.catalog.mark_shipped("2026.2")
    assert await store.catalog.shipped_version() == "2026.2"
    assert await store.catalog.version() is None


async def test_telemetry_insert_skips_duplicates_within_and_across_batches(store: Store) -> None:
    first = [_event("alice", "e1", 1), _event("alice", "e2", 2), _event("alice", "e1", 3),
             _event("alice", None, 4), _event("alice", None, 5), _event("bob", "e1", 6)]
    assert await store.telemetry.insert(first) == set()
    assert await store.telemetry.count("alice") == 4
    again = await store.telemetry.insert([_event("alice", "e2", 7), _event("alice", "e3", 8)])
    assert again == {("alice", "e2")}
    assert (await store.telemetry.count("alice"), await store.telemetry.count("bob"),
            await store.telemetry.count()) == (5, 1, 6)


async def test_telemetry_for_user_is_newest_first_and_limited(store: Store) -> None:
    await store.telemetry.insert([_event("alice", f"e{m}", m) for m in (3, 1, 4, 2)]
                                 + [_event("bob", "b", 9)])
    rows = await store.telemetry.for_user("alice", 3)
    assert [r.client_event_id for r in rows] == ["e4", "e3", "e2"]
    assert rows[0].data == {"minute": 4}
    assert as_utc(rows[0].timestamp) == datetime(2024, 5, 1, 12, 4, tzinfo=UTC)


async def _world(store: Store, world_id: str, owner: str) -> None:
    if await store.users.get(owner) is None:
        await store.users.ensure_guest(owner)
    await store.worlds.create(id=world_id, owner_id=owner, prompt="a quiet forest", world_type="nature",
                              title="Forest", description="trees", header={}, seed=0)
    await store.worlds.set_visibility(world_id, "public")  # a card is public only while its world is


async def test_experiences_private_ones_are_visible_only_to_their_author(store: Store) -> None:
    await _world(store, "w1", "alice")
    common = {"world_id": "w1", "author_id": "alice", "description": "d", "thumbnail_url": None}
    pub = await store.experiences.create(id="x-pub", title="Public", tags=["a"], is_public=True, **common)
    await store.experiences.create(id="x-priv", title="Private", tags=[], is_public=False, **common)
    assert (pub.play_count, pub.rating) == (0, 0.0)
    got = await store.experiences.get("x-pub")
    assert got is not None and (got.title, got.tags, got.is_public) == ("Public", ["a"], True)
    assert await store.experiences.get("missing") is None
    assert {e.id for e, _ in await store.experiences.visible_to("alice", 10, 0)} == {"x-pub", "x-priv"}
    assert [e.id for e, _ in await store.experiences.visible_to("bob", 10, 0)] == ["x-pub"]


async def test_experiences_are_listed_newest_first_with_limit_and_offset(store: Store) -> None:
    await _world(store, "w1", "alice")
    for i in range(3):
        await store.experiences.create(id=f"x{i}", world_id="w1", author_id="alice", title=f"T{i}",
                                       description="d", thumbnail_url=None, tags=[], is_public=True)
    assert [e.id for e, _ in await store.experiences.visible_to("bob", 2, 0)] == ["x2", "x1"]
    assert [e.id for e, _ in await store.experiences.visible_to("bob", 2, 2)] == ["x0"]
