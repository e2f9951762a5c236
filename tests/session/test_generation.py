"""Streamed generation over a real socket: order, persistence, concurrency, cancel, disconnects."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from protocol.codes import ErrorCode
from server.context import SERVICES
from tests.conftest import TIMEOUT, AppFactory, bearer, login
from tests.session.peer import Connect, Peer, rid

PROMPT = "A mystical forest with ancient trees and glowing mushrooms around a lake"


async def _stored(client: TestClient, world_id: str) -> tuple[str, list[str]]:
    store = client.app[SERVICES].store
    world = await store.worlds.require(world_id)
    return world.status, [r.id for r in await store.worlds.instances(world_id)]


async def test_prompt_streams_start_chunks_done_and_persists_the_same_world(client: TestClient,
                                                                              connect: Connect) -> None:
    peer = await connect()
    start, chunks, done = await peer.generate(PROMPT, seed=7, max_instances=300)
    world_id = start["world_id"]
    assert start["header"]["world_type"] == "nature" and start["header"]["spawn_points"]
    streamed = [i["id"] for c in chunks for i in c["instances"]]
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert done["status"] == "complete" and done["instances"] == len(streamed) == len(set(streamed))
    assert done["chunks"] == len(chunks) and done["timings"]["total_ms"] >= done["timings"]["plan_ms"]
    status, stored = await _stored(client, world_id)
    assert status == "complete" and stored == streamed
    first = chunks[0]["instances"][0]
    assert len(first["pos"]) == 3 and len(first["rot"]) == 4 and len(first["scale"]) == 3


async def test_same_prompt_and_seed_streams_the_same_instances(connect: Connect) -> None:
    peer = await connect()
    _, a, _ = await peer.generate(PROMPT, seed=3, max_instances=200)
    _, b, _ = await peer.generate(PROMPT, seed=3, max_instances=200)
    assert [c["instances"] for c in a] == [c["instances"] for c in b]


async def test_two_clients_generate_at_once_without_mixing(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    (sa, ca, da), (sb, cb, db) = await asyncio.gather(
        alice.generate("a snowy village with a dozen houses", seed=1, max_instances=400),
        bob.generate("futuristic space station with alien technology", seed=2, max_instances=400))
    assert sa["world_id"] != sb["world_id"]
    assert all(c["world_id"] == sa["world_id"] for c in ca) and all(c["world_id"] == sb["world_id"] for c in cb)
    assert da["status"] == db["status"] == "complete"
    assert sb["header"]["world_type"] == "sci_fi"


async def test_several_generations_on_one_connection_are_scoped_by_rid(connect: Connect) -> None:
    peer = await connect()
    rids = [rid(), rid()]
    for r, n in zip(rids, ("two", "three"), strict=True):
        await peer.send(type="prompt", rid=r, prompt=f"{n} towers in a desert", seed=1, max_instances=300)
    done: dict[int, dict] = {}
    while len(done) < 2:
        f = await peer.until(lambda f: f.get("type") == "gen.done")
        done[f["rid"]] = f
    by_rid = {r: [f for f in peer.seen if f.get("rid") == r] for r in rids}
    for r in rids:
        frames = by_rid[r]
        assert frames[0]["type"] == "gen.start" and frames[-1]["type"] == "gen.done"
        world = frames[0]["world_id"]
        chunks = [f for f in frames if f["type"] == "gen.chunk"]
        assert all(c["world_id"] == world for c in chunks)
        assert sum(len(c["instances"]) for c in chunks) == done[r]["instances"]
    assert by_rid[rids[0]][0]["world_id"] != by_rid[rids[1]][0]["world_id"]


async def test_generations_beyond_the_cap_are_refused(make_client: AppFactory, connect: Connect) -> None:
    peer = await connect()
    # max_generations is 3: start four without reading, the fourth is refused.
    rids = [rid() for _ in range(4)]
    for r in rids:
        await peer.send(type="prompt", rid=r, prompt=PROMPT, max_instances=20000)
    refused = await peer.until(lambda f: f.get("rid") == rids[3] and f["type"] == "error")
    assert refused["code"] == ErrorCode.TOO_MANY_GENERATIONS


async def test_cancel_stops_a_generation_and_leaves_a_partial_prefix(client: TestClient, connect: Connect) -> None:
    peer = await connect()
    r = rid()
    await peer.send(type="prompt", rid=r, prompt=PROMPT, max_instances=20000, seed=1)
    start = await peer.until_type("gen.start", rid=r)
    await peer.until_type("gen.chunk", rid=r)
    c = rid()
    await peer.send(type="cancel", rid=c, target=r)
    done = await peer.until_type("gen.done", rid=r)
    assert done["status"] == "cancelled" and done["instances"] < 20000
    confirmed = await peer.until_type("cancelled", rid=c)  # after gen.done (docs/protocol.md §7.2)
    assert confirmed["target"] == r
    status, stored = await _stored(client, start["world_id"])
    streamed = [i["id"] for f in peer.seen if f.get("type") == "gen.chunk" and f["rid"] == r for i in f["instances"]]
    assert status == "partial" and stored == streamed


async def test_cancel_of_unknown_generation_is_an_error(connect: Connect) -> None:
    peer = await connect()
    err = await peer.request("cancel", target=999_999)
    assert err["type"] == "error" and err["code"] == ErrorCode.UNKNOWN_REQUEST


async def test_disconnect_mid_generation_leaves_a_consistent_partial_world(client: TestClient,
                                                                           connect: Connect) -> None:
    peer = await connect()
    r = rid()
    await peer.send(type="prompt", rid=r, prompt=PROMPT, max_instances=20000, seed=5)
    start = await peer.until_type("gen.start", rid=r)
    await peer.until_type("gen.chunk", rid=r)
    await peer.ws.close()
    store = client.app[SERVICES].store
    async with asyncio.timeout(TIMEOUT):
        while (await store.worlds.require(start["world_id"])).status == "generating":
            await asyncio.sleep(0.02)
    world = await store.worlds.require(start["world_id"])
    rows = await store.worlds.instances(start["world_id"])
    assert world.status == "partial" and 0 < len(rows) < 20000
    assert world.instance_count == len(rows)
    assert [r.ord for r in rows] == list(range(len(rows)))  # a prefix of the stream, no holes


async def test_invalid_prompt_fields_are_field_errors(connect: Connect) -> None:
    peer = await connect()
    err = await peer.request("prompt", prompt="x" * 1001)
    assert err["type"] == "error" and "prompt" in err["fields"]
    err = await peer.request("prompt", prompt="ok", world_type="steampunk")
    assert err["type"] == "error" and "world_type" in err["fields"]


async def test_rest_fallback_and_socket_share_the_generator(client: TestClient, connect: Connect) -> None:
    token = await login(client, "alice")
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token),
                             json={"prompt": PROMPT, "seed": 11, "max_instances": 150})
    body = await resp.json()
    assert resp.status == 200 and body["success"] is True
    rest_ids = [i["id"] for i in body["world_blueprint"]["prefab_instances"]]
    peer: Peer = await connect("alice")
    _, chunks, _ = await peer.generate(PROMPT, seed=11, max_instances=150)
    assert rest_ids == [i["id"] for c in chunks for i in c["instances"]]
