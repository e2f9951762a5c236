"""Broadcast batching (server/room.py `Room._broadcast`): what piles up in a room while its
delivery task is busy goes out together — each member still gets exactly its frames, in
order: watchers every op, authors `edit.ack` for their own, a member who joined meanwhile
only what its snapshot does not already hold."""

from __future__ import annotations

import asyncio

import msgpack
from aiohttp.test_utils import TestClient

from server.context import SERVICES
from server.node import NODE
from tests.conftest import TIMEOUT, AppFactory
from tests.session.peer import Connect, open_peer, public_world, rid, stalled_member
from tests.session.test_worlds import catalog_types, edit, join, join_in_one_tick, make_world, pump
from tests.session.worldview import WorldView, same_state, stored_state


async def test_ops_piled_up_behind_a_busy_room_reach_everyone_once_in_order(client: TestClient,
                                                                             connect: Connect) -> None:
    catalog_types(client)
    owner, ed, viewer, late = await connect("owner"), await connect("ed"), await connect("vi"), await connect("la")
    world_id = await make_world(client, owner, ed="editor", vi="viewer", la="viewer")
    views = {p: (await join(p, world_id))[1] for p in (owner, ed, viewer)}
    room = client.app[NODE].hub.rooms[world_id]
    ids = list(views[owner].instances)

    # Hold the room's delivery task (a call runs inside it), so what follows queues up.
    release = asyncio.Event()
    held = asyncio.ensure_future(room.call(release.wait))
    for i in range(6):
        author = (owner, ed)[i % 2]
        await edit(author, views[author], [{"op": "move", "id": ids[i], "pos": [float(i), 0.0, 1.0]}])
    async with asyncio.timeout(TIMEOUT):  # applied and waiting in the room: 6 ops
        while room.backlog < 6:
            await asyncio.sleep(0.01)
    r = rid()
    await late.send(type="join", rid=r, world_id=world_id)  # queues behind the ops
    async with asyncio.timeout(TIMEOUT):
        while room.backlog < 7:
            await asyncio.sleep(0.01)
    for i in range(6, 10):  # behind the join: the late member's snapshot may already hold them
        author = (owner, ed)[i % 2]
        await edit(author, views[author], [{"op": "move", "id": ids[i], "pos": [float(i), 0.0, 2.0]}])
    async with asyncio.timeout(TIMEOUT):
        while (await stored_state(client, world_id))[0] < 10:
            await asyncio.sleep(0.01)
    assert room.backlog >= 7  # nothing went out while the room was held
    release.set()
    await held

    late_view = WorldView(world_id)
    joined = await late.until(lambda f: f.get("rid") == r)
    late_view.feed(joined)
    while True:
        snap = await late.until(lambda f: f.get("type") == "snapshot" and f.get("rid") == r)
        late_view.feed(snap)
        if snap["last"]:
            break
    views[late] = late_view
    # A last edit after everything: reading up to it shows any duplicate or gap before it.
    await edit(owner, views[owner], [{"op": "move", "id": ids[0], "pos": [0.0, 0.0, 9.0]}])
    for p, view in views.items():
        await pump(p, view, 11)  # WorldView fails on any gap, duplicate or out-of-order ack
    seq, stored = await stored_state(client, world_id)
    assert seq == 11
    for p in (owner, ed, viewer):
        assert views[p].seqs == list(range(1, 12)) and not views[p].pending
        assert same_state(views[p], stored)
    assert late_view.seqs == list(range(joined["seq"] + 1, 12)) and same_state(late_view, stored)
    # the author got acks for its own edits, never its own ops echoed
    owner_public = client.app[SERVICES].public_id("owner")
    assert not any(f.get("type") == "op" and f.get("author") == owner_public for f in owner.seen)
    assert sum(f.get("type") == "edit.ack" for f in owner.seen) == 6


async def test_a_wave_of_joins_is_served_together_each_with_its_own_snapshot(client: TestClient,
                                                                             connect: Connect) -> None:
    catalog_types(client)
    owner = await connect("owner")
    users = [f"u{i}" for i in range(8)]
    world_id = await make_world(client, owner, n=300, **dict.fromkeys(users, "viewer"))
    _, owner_view = await join(owner, world_id)
    await edit(owner, owner_view, [{"op": "move", "id": next(iter(owner_view.instances)), "pos": [1.0, 0.0, 1.0]}])
    await pump(owner, owner_view, 1)
    room = client.app[NODE].hub.rooms[world_id]
    peers = [await connect(u) for u in users]

    release = asyncio.Event()
    held = asyncio.ensure_future(room.call(release.wait))
    rids = {}
    for i, peer in enumerate(peers):  # all queue up behind the held room; one resumes from seq 0
        rids[peer] = rid()
        since = {"since_seq": 0} if i == 0 else {}
        await peer.send(type="join", rid=rids[peer], world_id=world_id, **since)
    async with asyncio.timeout(TIMEOUT):
        while room.backlog < len(peers):
            await asyncio.sleep(0.01)
    release.set()
    await held

    views = {}
    for i, peer in enumerate(peers):
        joined = await peer.until(lambda f, p=peer: f.get("rid") == rids[p])
        assert joined["type"] == "joined" and joined["seq"] == 1, joined
        assert joined["mode"] == ("replay" if i == 0 else "snapshot")
        listed = {member["user_id"] for member in joined["members"]}
        # every joiner of the wave is in everyone's list (by public id)
        assert {client.app[SERVICES].public_id(u) for u in ("owner", *users)} <= listed
        if i == 0:
            continue
        view = views[peer] = WorldView(world_id)
        view.feed(joined)
        while True:
            snap = await peer.until(lambda f, p=peer: f.get("type") == "snapshot" and f.get("rid") == rids[p])
            view.feed(snap)
            if snap["last"]:
                break
        assert len(view.instances) == len(owner_view.instances) > 200  # the whole world
    await edit(owner, owner_view, [{"op": "move", "id": next(iter(owner_view.instances)), "pos": [2.0, 0.0, 2.0]}])
    for peer, view in views.items():
        await pump(peer, view, 2)  # WorldView fails on a gap or a duplicate
        assert view.seqs == [2]
    _, stored = await stored_state(client, world_id)
    assert all(same_state(view, stored) for view in views.values())
    replayed = [(await peers[0].until_type("op"))["seq"] for _ in range(2)]
    assert replayed == [1, 2]  # the resumed member: the op it missed, then the live one


async def test_a_member_that_pauses_reading_gets_its_backlog_in_order_once_it_reads_again(
        make_client: AppFactory) -> None:
    # The transport backs up past its high-water mark, so frames wait in the member's queue
    # (bounded well above what is sent) and go out in batches once the transport drains.
    client = await make_client(send_queue_bytes=32 * 2**20, msgs_per_s=10_000.0, msgs_burst=10_000)
    owner = await open_peer(client, "owner")
    world_id = await public_world(client, owner)
    pauser, session = await stalled_member(client, "pauser", world_id, max_size=2**24)
    await owner.send(type="join", rid=rid(), world_id=world_id)
    await owner.until_type("joined")

    edits, peak = 40, 0  # 40 × ~190 KiB: past every kernel buffer (4 MiB), within the queue bound
    ids = [f"i{n:05d}" for n in range(1, 48)]
    for i in range(edits):
        ops = [{"op": "set", "id": inst, "props": {"note": "x" * 3800, "n": i}} for inst in ids]
        await owner.send(type="edit", rid=rid(), world_id=world_id, ops=ops)
        await owner.until_type("edit.ack")
        peak = max(peak, session.writer.queued_bytes)
    assert peak > 0  # frames did wait in the queue

    seqs = []
    async with asyncio.timeout(TIMEOUT):
        while len(seqs) < edits:
            frame = msgpack.unpackb(await pauser.recv(), raw=False)
            if frame["type"] == "op":
                assert frame["ops"][0]["props"]["n"] == len(seqs)
                seqs.append(frame["seq"])
    assert seqs == list(range(1, edits + 1)) and not session.writer.slow
    async with asyncio.timeout(TIMEOUT):
        while session.writer.queued_bytes:
            await asyncio.sleep(0.01)
    await pauser.close()



async def test_joins_that_reach_the_room_together_are_announced_in_one_presence_frame(client: TestClient,
                                                                                     connect: Connect) -> None:
    owner = await connect("alice")
    start, _, _ = await owner.generate("a small pond", max_instances=10)
    world_id = start["world_id"]
    await join(owner, world_id)
    peers = [await connect("alice") for _ in range(3)]
    joined = await join_in_one_tick(client, world_id, *peers)
    sids = [p.welcome["session_id"] for p in peers]
    frame = await owner.until(lambda f: f.get("type") == "presence" and f.get("event") == "join")
    assert [mm["session_id"] for mm in frame["members"]] == sids and frame["member"] == frame["members"][0]
    await owner.request("ping")  # anything else for the owner came before the pong
    assert [f for f in owner.seen if f.get("type") == "presence"] == [frame]  # one frame for the three
    for peer, answer in zip(peers, joined, strict=True):
        await peer.request("ping")
        told = {mm["session_id"] for mm in answer["members"]}
        for f in peer.seen:
            if f.get("type") == "presence":
                listed = [mm["session_id"] for mm in f.get("members", [f["member"]])]
                assert peer.welcome["session_id"] not in listed  # never its own join
                told.update(listed)
        assert set(sids) <= told  # and told of every other one, by `joined` or by presence
