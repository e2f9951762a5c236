"""What joins and connects share, on real sockets: a room serves the snapshot it holds while every
joiner's access check reads the version it was taken at (server/room_snapshots.py), and the
connects that arrive together read their accounts' display names in one query (server/auth.py
`AccountNames`) — neither lets a revoked, expired or deleted account in, nor a joiner miss a
write."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from persistence.clock import utcnow
from persistence.models import User
from protocol.codec import pack_member, pack_members
from protocol.codes import CloseCode
from records import array_header
from server.auth import AccountNames
from server.context import SERVICES
from server.maintenance import purge_once
from server.node import NODE
from tests.conftest import bearer, login
from tests.session.peer import Connect
from tests.session.test_worlds import catalog_types, edit, join, make_world, pump
from tests.session.worldview import same_state, stored_state


def _count_snapshot_reads(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The world ids of the snapshot reads from now on."""
    store = client.app[SERVICES].store
    reads: list[str] = []
    packed_snapshot = store.edits.packed_snapshot

    async def counted(wid: str) -> Any:
        reads.append(wid)
        return await packed_snapshot(wid)
    monkeypatch.setattr(store.edits, "packed_snapshot", counted)
    return reads


def _reused(client: TestClient) -> float:
    return client.app[NODE].metrics.snapshot_reads_saved._value.get()  # type: ignore[no-any-return]


async def test_a_room_serves_its_snapshot_again_until_a_write_changes_the_world(
        client: TestClient, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog_types(client)
    owner = await connect("owner")
    world_id = await make_world(client, owner, n=40, ed="editor", vi="viewer")
    reads = _count_snapshot_reads(client, monkeypatch)

    _, vo = await join(owner, world_id)  # the room is opened: its first wave reads the world
    assert len(reads) == 1 and _reused(client) == 0
    seq, stored = await stored_state(client, world_id)
    ed, vi = await connect("ed"), await connect("vi")
    _, ve = await join(ed, world_id)  # the same version: served from the room, no read
    assert len(reads) == 1 and _reused(client) == 1
    assert ve.seq == seq and same_state(ve, stored)

    target = next(iter(vo.instances))
    await edit(owner, vo, [{"op": "move", "id": target, "pos": [1.0, 2.0, 3.0]}])
    await pump(owner, vo, 1)
    await pump(ed, ve, 1)
    _, vv = await join(vi, world_id)  # an edit moved the seq: read again
    assert len(reads) == 2 and _reused(client) == 1
    seq, stored = await stored_state(client, world_id)
    assert seq == 1 and vv.seq == 1 and same_state(vv, stored) and same_state(ve, stored)

    again = await connect("vi")
    _, va = await join(again, world_id)  # nothing changed since that read: served again
    assert len(reads) == 2 and _reused(client) == 2
    assert va.seq == 1 and same_state(va, stored)


async def test_an_edit_committed_but_not_yet_delivered_is_not_lost_by_a_reused_snapshot(
        client: TestClient, connect: Connect) -> None:
    """The joiner's access check reads the seq after the edit's commit: the held snapshot (of the
    seq before) is not served, so the joiner gets the edit in its snapshot or as an op."""
    catalog_types(client)
    owner, ed = await connect("owner"), await connect("ed")
    world_id = await make_world(client, owner, n=20, ed="editor")
    _, vo = await join(owner, world_id)
    room = client.app[NODE].hub.rooms[world_id]
    gate, holding = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        holding.set()
        await gate.wait()
    held = asyncio.ensure_future(room.call(hold))  # the room delivers nothing meanwhile
    await holding.wait()
    target = next(iter(vo.instances))
    await edit(owner, vo, [{"op": "move", "id": target, "pos": [4.0, 0.0, 4.0]}])
    async with asyncio.timeout(10):
        while (await client.app[SERVICES].store.worlds.require(world_id)).seq < 1:
            await asyncio.sleep(0.01)
    joining = asyncio.ensure_future(join(ed, world_id))
    async with asyncio.timeout(10):
        while room.backlog < 2:  # the op and the join wait behind the hold
            await asyncio.sleep(0.005)
    gate.set()
    await held
    _, ve = await joining
    await pump(ed, ve, 1)
    _, stored = await stored_state(client, world_id)
    assert ve.seq == 1 and same_state(ve, stored) and _reused(client) == 0


async def test_a_revoked_token_is_refused_though_its_account_was_read_a_moment_ago(
        client: TestClient, connect: Connect) -> None:
    token = await login(client, "gina")
    first = await connect(token=token)
    await client.post("/api/v1/auth/logout", headers=bearer(token))
    assert await first.closed(timeout=5) == CloseCode.TOKEN_REVOKED
    again = await connect(token=token, welcome=False)
    assert (await again.recv())["code"] == CloseCode.TOKEN_REVOKED


async def test_a_purged_account_is_refused_at_its_next_connect(client: TestClient, connect: Connect) -> None:
    services = client.app[SERVICES]
    token = await login(client, "idle-guest")
    peer = await connect(token=token)
    assert peer.welcome["user_id"] == "idle-guest"  # type: ignore[attr-defined]
    await peer.ws.close()
    async with services.store.users._tx() as s:  # idle for longer than guest_idle_days
        await s.execute(update(User).where(User.id == "idle-guest")
                        .values(last_seen_at=utcnow() - timedelta(days=services.settings.guest_idle_days + 1)))
    _, guests = await purge_once(services)
    assert guests >= 1
    refused = await connect(token=token, welcome=False)  # the token is still valid: the account is gone
    assert (await refused.recv())["code"] == CloseCode.FORBIDDEN


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


class _Users:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.reads: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def display_names(self, user_ids: list[str]) -> dict[str, str]:
        self.reads.append(sorted(user_ids))
        seen = {u: self.names[u] for u in user_ids if u in self.names}  # as of the read's start
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return seen


class _Store:
    def __init__(self, users: _Users) -> None:
        self.users = users


async def test_account_names_asked_together_are_read_together_and_each_after_it_was_asked() -> None:
    users = _Users({"ann": "Ann", "bo": "Bo"})
    names = AccountNames(_Store(users))  # type: ignore[arg-type]
    users.gate.clear()
    first = [asyncio.ensure_future(names.get(u)) for u in ("ann", "ann", "bo", "nobody")]
    await _turns()
    assert users.reads == [["ann", "bo", "nobody"]]  # one read for the connects that came together
    late = asyncio.ensure_future(names.get("ann"))  # asked while that read runs: the next read
    await _turns()
    users.names["ann"] = "Ann (renamed)"
    users.gate.set()
    assert await asyncio.gather(*first) == ["Ann", "Ann", "Bo", None]
    assert await late == "Ann (renamed)"
    assert users.reads == [["ann", "bo", "nobody"], ["ann"]]
    assert await names.get("ann") == "Ann (renamed)" and len(users.reads) == 3  # nothing is remembered


async def test_a_failed_read_of_names_fails_its_callers_and_the_next_read_is_fresh() -> None:
    users = _Users({"ann": "Ann"})
    names = AccountNames(_Store(users))  # type: ignore[arg-type]
    users.fail = ConnectionError("store down")
    with pytest.raises(ConnectionError):
        await names.get("ann")
    users.fail = None
    assert await names.get("ann") == "Ann"


async def test_a_read_whose_caller_goes_away_still_serves_the_others() -> None:
    users = _Users({"ann": "Ann"})
    names = AccountNames(_Store(users))  # type: ignore[arg-type]
    users.gate.clear()
    first, second = asyncio.ensure_future(names.get("ann")), asyncio.ensure_future(names.get("ann"))
    await _turns()
    first.cancel()
    users.gate.set()
    assert await second == "Ann" and len(users.reads) == 1
    with pytest.raises(asyncio.CancelledError):
        await first


def test_a_member_list_from_members_packed_one_by_one_is_the_list_packed_whole() -> None:
    """What MemberList (server/room_snapshots.py) sends in `joined`: the list header and its members packed before."""
    members = [{"user_id": f"u{k}", "display_name": "Ä" * k, "role": "viewer", "session_id": f"s{k}"}
               for k in range(20)]
    for listed in (members[:0], members[:1], members[:15], members[:16], members):
        assert array_header(len(listed)) + b"".join(map(pack_member, listed)) == pack_members(listed)


async def test_joined_lists_the_members_present_across_waves_joins_and_leaves(
        client: TestClient, connect: Connect) -> None:
    """MemberList packs only the members added since the last wave's list: after a leave
    the list is built again, and every `joined` names exactly who is there."""
    owner = await connect("owner")
    world_id = await make_world(client, owner, n=10, bob="viewer", carol="viewer", dan="viewer")
    peers = {"owner": owner, "bob": await connect("bob"), "carol": await connect("carol"), "dan": await connect("dan")}
    sid = {name: peer.welcome["session_id"] for name, peer in peers.items()}  # type: ignore[attr-defined]

    async def joins(name: str) -> set[str]:
        joined, _ = await join(peers[name], world_id)
        return {mm["session_id"] for mm in joined["members"]}
    assert await joins("owner") == {sid["owner"]}
    assert await joins("bob") == {sid["owner"], sid["bob"]}
    assert await joins("carol") == {sid["owner"], sid["bob"], sid["carol"]}
    await peers["bob"].request("leave", world_id=world_id)
    assert await joins("dan") == {sid["owner"], sid["carol"], sid["dan"]}
    again = await connect("bob")
    sid["bob2"] = again.welcome["session_id"]  # type: ignore[attr-defined]
    peers["bob2"] = again
    assert await joins("bob2") == {sid["owner"], sid["carol"], sid["dan"], sid["bob2"]}


async def test_the_snapshots_rooms_keep_stay_within_the_process_budget(
        client: TestClient, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    import server.room_snapshots as snapshots
    from server.room_snapshots import KeptSnapshot

    catalog_types(client)
    owner = await connect("owner")
    world_id = await make_world(client, owner, n=40, ed="editor")
    reads = _count_snapshot_reads(client, monkeypatch)
    monkeypatch.setattr(snapshots, "SNAPSHOT_CACHE_TOTAL", KeptSnapshot.total)  # no room for one more
    await join(owner, world_id)
    ed = await connect("ed")
    await join(ed, world_id)  # nothing kept: the second wave reads again
    assert len(reads) == 2 and _reused(client) == 0
    monkeypatch.setattr(snapshots, "SNAPSHOT_CACHE_TOTAL", 64 * 1024 * 1024)
    before = KeptSnapshot.total
    await ed.request("leave", world_id=world_id)
    await join(ed, world_id)  # kept this time, and counted
    assert len(reads) == 3 and KeptSnapshot.total > before
    room = client.app[NODE].hub.rooms[world_id]
    await room.close()  # a closed room gives its share back
    assert KeptSnapshot.total == before
