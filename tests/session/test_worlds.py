"""Shared live worlds with three or more real clients: live preview, ordered edits,
convergence, resume, permissions, presence (docs/protocol.md §7)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.codes import ErrorCode
from server.context import SERVICES
from server.node import NODE
from tests.conftest import TIMEOUT, AppFactory, bearer, login
from tests.session.peer import Connect, Peer, rid
from tests.session.worldview import WorldView, same_state, stored_state

PROMPT = "a village with a dozen houses around a lake, pine trees and rocks"


async def make_world(client: TestClient, owner: Peer, n: int = 200, **share: str) -> str:
    """A complete world owned by `owner`'s user, shared per `share` (user → role)."""
    start, _, done = await owner.generate(PROMPT, seed=1, max_instances=n)
    world_id = start["world_id"]
    token = await login(client, owner.welcome["user_id"])  # type: ignore[attr-defined]
    for user, role in share.items():
        await login(client, user)  # a world is shared with existing accounts only
        resp = await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(token),
                                 json={"user_id": user, "role": role})
        assert resp.status == 200, await resp.text()
    return world_id


async def join(peer: Peer, world_id: str, since_seq: int | None = None) -> tuple[dict[str, Any], WorldView]:
    view = WorldView(world_id)
    fields: dict[str, Any] = {"world_id": world_id}
    if since_seq is not None:
        fields["since_seq"] = since_seq
    r = rid()
    await peer.send(type="join", rid=r, **fields)
    joined = await peer.until(lambda f: f.get("rid") == r)
    assert joined["type"] == "joined", joined
    view.feed(joined)
    if joined["mode"] == "snapshot":
        while True:
            snap = await peer.until(lambda f: f.get("type") == "snapshot" and f.get("rid") == r)
            view.feed(snap)
            if snap["last"]:
                break
    return joined, view


async def join_in_one_tick(client: TestClient, world_id: str, *peers: Peer) -> list[dict[str, Any]]:
    """`peers` join `world_id` so that their presence joins reach its room in one round of its
    delivery task (a wave of members entering at once, docs/protocol.md §7.4): the room is held
    while the joins queue, and again while their announcements arrive. Returns their `joined`."""
    room = client.app[NODE].hub.rooms[world_id]
    gates, holding = [asyncio.Event(), asyncio.Event()], [asyncio.Event(), asyncio.Event()]

    def hold(k: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            holding[k].set()
            await gates[k].wait()
        return run

    async def until(check: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not check():
                await asyncio.sleep(0.005)

    calls = [asyncio.ensure_future(room.call(hold(0)))]
    await holding[0].wait()
    rids = {peer: rid() for peer in peers}
    for peer, r in rids.items():
        await peer.send(type="join", rid=r, world_id=world_id)
    await until(lambda: room.backlog == len(peers))  # the joins wait behind the first hold
    calls.append(asyncio.ensure_future(room.call(hold(1))))
    gates[0].set()
    await holding[1].wait()
    await until(lambda: room.backlog == len(peers))  # their presence joins wait behind the second
    gates[1].set()
    await asyncio.gather(*calls)
    return [await peer.until(lambda f, r=r: f.get("rid") == r and f.get("type") == "joined")
            for peer, r in rids.items()]


async def edit(peer: Peer, view: WorldView, ops: list[dict[str, Any]]) -> int:
    r = rid()
    view.pending[r] = ops
    await peer.send(type="edit", rid=r, world_id=view.world_id, ops=ops)
    return r


async def pump(peer: Peer, view: WorldView, until_seq: int) -> None:
    """Feed frames to the view until it reaches `until_seq`."""
    async with asyncio.timeout(TIMEOUT):
        while view.seq < until_seq:
            view.feed(await peer.recv())


def catalog_types(client: TestClient) -> None:
    WorldView.prefab_types = {p["id"]: p["type"] for p in client.app[SERVICES].catalog.prefabs}


async def test_members_joining_mid_generation_see_the_generator_stream(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks, one store transaction each: the generation lasts long enough for two
    # members to join while it runs.
    monkeypatch.setattr("server.generation._PERSIST_GROUP_INSTANCES", 16)
    client = await make_client(chunk_size=16)
    owner, b, c = [Peer(await client.ws_connect("/ws", headers=bearer(await login(client, u))))
                   for u in ("owner", "bob", "carol")]
    for p in (owner, b, c):
        await p.recv()
    r = rid()
    await owner.send(type="prompt", rid=r, prompt=PROMPT, seed=2, max_instances=6000)
    start = await owner.until_type("gen.start", rid=r)
    world_id = start["world_id"]
    token = await login(client, "owner")
    resp = await client.put(f"/api/v1/worlds/{world_id}/visibility", headers=bearer(token),
                            json={"visibility": "public"})
    assert resp.status == 200
    views = {}
    for peer in (b, c):
        joined, views[peer] = await join(peer, world_id)
        assert joined["role"] == "viewer"
    owner_view = WorldView(world_id)
    owner_view.feed(start)
    while True:
        f = await owner.recv()
        owner_view.feed(f)
        if f.get("type") == "gen.done" and f["rid"] == r:
            break
    for peer in (b, c):
        while True:
            f = await peer.recv()
            views[peer].feed(f)
            if f.get("type") == "gen.done":
                break
        assert any(f.get("type") == "gen.chunk" for f in peer.seen)  # it joined mid-generation
        first = next(f for f in peer.seen if f.get("type") == "snapshot" and f["index"] == 0)
        assert first["header"]["status"] == "generating"  # docs/protocol.md §6.5
    _, stored = await stored_state(client, world_id)
    db_order = [i.id for i in await client.app[SERVICES].store.worlds.instances(world_id)]
    assert owner_view.order == db_order
    for peer in (b, c):
        assert views[peer].order == db_order  # snapshot prefix + live chunks, no gap, no repeat
        assert same_state(views[peer], stored)


async def test_edits_are_ordered_acked_and_fanned_out(client: TestClient, connect: Connect) -> None:
    catalog_types(client)
    owner, ed, viewer = await connect("owner"), await connect("ed"), await connect("vi")
    world_id = await make_world(client, owner, ed="editor", vi="viewer")
    views = {p: (await join(p, world_id))[1] for p in (owner, ed, viewer)}
    target = next(iter(views[owner].instances))
    await edit(owner, views[owner], [{"op": "move", "id": target, "pos": [1.0, 2.0, 3.0]}])
    await edit(ed, views[ed], [{"op": "add", "prefab_id": "oak_tree", "pos": [0.0, 0.0, 0.0], "id": "new-oak"},
                               {"op": "set", "id": target, "props": {"tint": "red"}}])
    for p in (owner, ed, viewer):
        await pump(p, views[p], 2)
    seq, stored = await stored_state(client, world_id)
    assert seq == 2
    for p in (owner, ed, viewer):
        assert views[p].seqs == [1, 2] and same_state(views[p], stored)
    assert stored[target]["pos"] == [1.0, 2.0, 3.0] and stored[target]["props"] == {"tint": "red"}
    assert "new-oak" in stored


async def test_remove_wins_over_a_later_move(client: TestClient, connect: Connect) -> None:
    catalog_types(client)
    owner, ed = await connect("owner"), await connect("ed")
    world_id = await make_world(client, owner, ed="editor")
    vo, ve = (await join(owner, world_id))[1], (await join(ed, world_id))[1]
    target = next(iter(vo.instances))
    r1 = await edit(owner, vo, [{"op": "remove", "id": target}])
    ack1 = await owner.until(lambda f: f.get("rid") == r1)
    vo.feed(ack1)
    r2 = await edit(ed, ve, [{"op": "move", "id": target, "pos": [5.0, 0.0, 5.0]}])
    ack2 = await ed.until(lambda f: f.get("rid") == r2)
    assert ack2["results"] == [{"i": 0, "outcome": "superseded", "id": target}]
    assert ack2["seq"] == 1  # nothing applied: the seq did not advance
    _, stored = await stored_state(client, world_id)
    assert target not in stored


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**16), n_ops=st.integers(5, 25))
async def test_concurrent_random_edits_converge_everywhere(make_client: AppFactory, seed: int, n_ops: int) -> None:
    client = await make_client()
    catalog_types(client)
    rng = random.Random(seed)
    peers = []
    for user in ("owner", "ed", "watcher"):
        ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, user)}"})
        peers.append(Peer(ws))
        await peers[-1].recv()
    owner, ed, watcher = peers
    try:
        world_id = await make_world(client, owner, n=60, ed="editor", watcher="viewer")
        views = {p: (await join(p, world_id))[1] for p in peers}
        ids = list(views[owner].instances)
        sent = 0
        for _ in range(n_ops):  # interleaved, unawaited: the server orders them
            author = rng.choice((owner, ed))
            kind = rng.choice(("move", "move", "set", "remove", "add"))
            target = rng.choice(ids)
            op: dict[str, Any]
            if kind == "add":
                new_id = f"n{sent}"
                ids.append(new_id)
                op = {"op": "add", "prefab_id": "boulder", "id": new_id,
                      "pos": [rng.uniform(-20, 20), 0.0, rng.uniform(-20, 20)]}
            elif kind == "move":
                op = {"op": "move", "id": target, "pos": [rng.uniform(-20, 20), 1.0, rng.uniform(-20, 20)]}
            elif kind == "set":
                op = {"op": "set", "id": target, "props": {"k": rng.randint(0, 9)}}
            else:
                op = {"op": "remove", "id": target}
            await edit(author, views[author], [op])
            sent += 1
        # Everyone reads until the store's seq, then all views equal the store.
        async with asyncio.timeout(TIMEOUT):
            while True:
                seq, stored = await stored_state(client, world_id)
                pending = any(views[p].pending for p in (owner, ed))
                if not pending and all(views[p].seq == seq for p in peers):
                    break
                for p in peers:
                    try:
                        views[p].feed(await p.recv(timeout=0.05))
                    except TimeoutError:
                        pass
        for p in peers:
            assert same_state(views[p], stored)
            assert views[p].seqs == sorted(set(views[p].seqs))  # increasing, no duplicates
    finally:
        for p in peers:
            await p.ws.close()


async def test_resume_after_100_missed_edits_replays_to_the_stored_state(client: TestClient,
                                                                         connect: Connect) -> None:
    catalog_types(client)
    owner, c = await connect("owner"), await connect("carol")
    world_id = await make_world(client, owner, carol="viewer")
    vo = (await join(owner, world_id))[1]
    _, vc = await join(c, world_id)
    await c.ws.close()
    ids = list(vo.instances)
    for i in range(100):
        r = await edit(owner, vo, [{"op": "move", "id": ids[i % len(ids)], "pos": [float(i % 40), 0.0, 1.0]}])
        vo.feed(await owner.until(lambda f, r=r: f.get("rid") == r))
    c2 = await connect("carol")
    joined, _ = await join(c2, world_id, since_seq=vc.seq)
    assert joined["mode"] == "replay"
    await pump(c2, vc, 100)
    seq, stored = await stored_state(client, world_id)
    assert seq == 100 and vc.seqs == list(range(1, 101))
    assert same_state(vc, stored)


async def test_a_too_old_seq_gets_a_snapshot(make_client: AppFactory) -> None:
    client = await make_client(oplog_retention_ops=10)
    catalog_types(client)
    owner = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, 'owner')}"}))
    await owner.recv()
    world_id = await make_world(client, owner, n=30)
    vo = (await join(owner, world_id))[1]
    target = next(iter(vo.instances))
    for i in range(100):  # seq 100 triggers compaction down to the newest 10
        r = await edit(owner, vo, [{"op": "move", "id": target, "pos": [float(i % 30), 0.0, 0.0]}])
        vo.feed(await owner.until(lambda f, r=r: f.get("rid") == r))
    store = client.app[SERVICES].store
    async with asyncio.timeout(TIMEOUT):
        while (await store.edits.oldest_seq(world_id) or 0) <= 5:
            await asyncio.sleep(0.02)
    other = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, 'owner')}"}))
    await other.recv()
    joined, view = await join(other, world_id, since_seq=5)
    assert joined["mode"] == "snapshot" and joined["seq"] == 100
    _, stored = await stored_state(client, world_id)
    assert same_state(view, stored)
    joined, _ = await join(other, world_id, since_seq=10_000)  # ahead of the world: snapshot too
    assert joined["mode"] == "snapshot"


async def test_permissions_viewers_strangers_and_validation(client: TestClient, connect: Connect) -> None:
    owner, vi, stranger = await connect("owner"), await connect("vi"), await connect("stranger")
    world_id = await make_world(client, owner, vi="viewer")
    err = await stranger.request("join", world_id=world_id)
    assert err["code"] == ErrorCode.FORBIDDEN
    assert (await stranger.request("join", world_id="nope"))["code"] == ErrorCode.NOT_FOUND
    assert (await stranger.request("edit", world_id=world_id, ops=[{"op": "remove", "id": "x"}]))["code"] \
        == ErrorCode.NOT_JOINED
    await join(vi, world_id)
    err = await vi.request("edit", world_id=world_id, ops=[{"op": "remove", "id": "i00001"}])
    assert err["code"] == ErrorCode.FORBIDDEN
    await join(owner, world_id)
    err = await owner.request("edit", world_id=world_id, ops=[{"op": "add", "prefab_id": "no_such", "pos": [0, 0, 0]}])
    assert err["code"] == ErrorCode.UNKNOWN_PREFAB and "ops[0].prefab_id" in err["fields"]
    err = await owner.request("edit", world_id=world_id,
                              ops=[{"op": "add", "prefab_id": "boulder", "pos": [1e6, 0, 0]}])
    assert err["code"] == ErrorCode.OUT_OF_BOUNDS
    err = await owner.request("edit", world_id=world_id,
                              ops=[{"op": "add", "prefab_id": "boulder", "pos": [0, 0, 0], "id": "i00001"}])
    assert err["code"] == ErrorCode.CONFLICT
    assert (await owner.request("leave", world_id=world_id))["type"] == "left"
    assert (await owner.request("leave", world_id=world_id))["code"] == ErrorCode.NOT_JOINED
    # nothing above changed the world
    seq, _ = await stored_state(client, world_id)
    assert seq == 0


async def test_edits_while_generating_are_conflicts(client: TestClient, connect: Connect) -> None:
    owner = await connect("owner")
    r = rid()
    await owner.send(type="prompt", rid=r, prompt=PROMPT, max_instances=20000)
    start = await owner.until_type("gen.start", rid=r)
    err = await owner.request("edit", world_id=start["world_id"], ops=[{"op": "remove", "id": "i00001"}])
    assert err["code"] == ErrorCode.CONFLICT
    await owner.send(type="cancel", rid=rid(), target=r)


async def test_presence_members_join_leave_and_cursor(client: TestClient, connect: Connect) -> None:
    owner, b, c = await connect("owner"), await connect("bob"), await connect("carol")
    world_id = await make_world(client, owner, bob="editor", carol="viewer")
    await join(owner, world_id)
    joined, _ = await join(b, world_id)
    public = client.app[SERVICES].public_id  # members show public ids, never account ids
    assert {m["user_id"] for m in joined["members"]} == {public("owner"), public("bob")}
    ev = await owner.until(lambda f: f.get("type") == "presence" and f["event"] == "join")
    assert ev["member"]["user_id"] == public("bob") and ev["member"]["role"] == "editor"
    await join(c, world_id)
    await b.send(type="presence", world_id=world_id, cursor=[1.0, 2.0, 3.0], selection=["i00001"])
    for peer in (owner, c):
        upd = await peer.until(lambda f: f.get("type") == "presence" and f["event"] == "update")
        assert upd["cursor"] == [1.0, 2.0, 3.0] and upd["member"]["user_id"] == public("bob")
    await b.ws.close()
    left = await owner.until(lambda f: f.get("type") == "presence" and f["event"] == "leave")
    assert left["member"]["user_id"] == public("bob")
    seq, _ = await stored_state(client, world_id)
    assert seq == 0  # presence is never persisted as an op


async def test_room_is_dropped_when_the_last_member_leaves(client: TestClient, connect: Connect) -> None:
    owner = await connect("owner")
    world_id = await make_world(client, owner)
    hub = client.app[NODE].hub
    await join(owner, world_id)
    assert world_id in hub.rooms
    await owner.request("leave", world_id=world_id)
    assert world_id not in hub.rooms
