"""stream_world, the generation pipeline shared by sockets and REST, driven directly against a
real app's store: what is stored at each point a consumer can stop."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiohttp.test_utils import TestClient

from server.context import SERVICES
from server.generation import Chunk, Done, GenRequest, Started, stream_world
from tests.conftest import login

PROMPT = "a mystical forest with ancient trees and glowing mushrooms"  # fills any budget: sizes are exact


async def _stream(client: TestClient, stop_after: int | None = None, **req: Any) -> tuple[list[Any], str]:
    services = client.app[SERVICES]
    await login(client, "gen")
    events: list[Any] = []
    gen = stream_world(services, GenRequest(owner_id="gen", prompt=PROMPT, seed=3, **req))
    try:
        async for ev in gen:
            events.append(ev)
            if stop_after is not None and len(events) >= stop_after:
                break
    finally:
        await gen.aclose()
    world_id = events[0].world_id
    return events, world_id


async def test_a_consumer_gone_right_after_started_leaves_a_partial_world(client: TestClient) -> None:
    events, world_id = await _stream(client, stop_after=1, max_instances=2000)
    assert isinstance(events[0], Started)
    world = await client.app[SERVICES].store.worlds.require(world_id)
    # The first chunk was stored with the world row; nothing after it.
    assert world.status == "partial" and world.instance_count == 128
    assert len(await client.app[SERVICES].store.worlds.instances(world_id)) == 128


async def test_a_whole_stream_stores_every_chunk_it_sent_and_ends_complete(client: TestClient) -> None:
    events, world_id = await _stream(client, max_instances=2000, chunk_size=100)
    chunks = [e for e in events if isinstance(e, Chunk)]
    done = events[-1]
    assert isinstance(done, Done) and done.status == "complete"
    assert [c.index for c in chunks] == list(range(len(chunks))) and done.chunks == len(chunks)
    sent = [r[0] for c in chunks for r in c.records]
    stored = [r.id for r in await client.app[SERVICES].store.worlds.instances(world_id)]
    assert stored == sent and done.instances == len(sent) > 1000
    world = await client.app[SERVICES].store.worlds.require(world_id)
    assert (world.status, world.instance_count) == ("complete", len(sent))
    assert done.world["instance_count"] == len(sent) and done.world["status"] == "complete"
    assert done.world["processing_time_ms"] == world.processing_time_ms


async def test_stopping_mid_stream_keeps_the_stored_prefix_marked_partial(client: TestClient) -> None:
    events, world_id = await _stream(client, stop_after=3, max_instances=5000)  # Started, chunk 0, chunk 1
    world = await client.app[SERVICES].store.worlds.require(world_id)
    stored = [r.id for r in await client.app[SERVICES].store.worlds.instances(world_id)]
    assert world.status == "partial" and world.instance_count == len(stored)
    # Stored before sent: at least the two chunks the consumer saw, in stream order.
    seen = [r[0] for e in events if isinstance(e, Chunk) for r in e.records]
    assert stored[:len(seen)] == seen and len(stored) >= 256


async def test_the_first_chunk_is_what_the_prompt_asked_for_sent_before_the_filler_is_placed(
        client: TestClient) -> None:
    services = client.app[SERVICES]
    await login(client, "gen")
    events = [ev async for ev in stream_world(services, GenRequest(
        owner_id="gen", prompt="a harbour with five fishing boats and a lighthouse", seed=2,
        max_instances=600, chunk_size=128))]
    started, chunks, done = events[0], [e for e in events if isinstance(e, Chunk)], events[-1]
    assert isinstance(started, Started) and isinstance(done, Done) and done.status == "complete"
    # the header went out before the filler was placed: everything but the count is final
    assert started.header["instance_count"] is None and started.header["trace"]
    asked = {p for t in started.header["trace"] for p in t["prefab_ids"]}
    first = [r[1] for r in chunks[0].records]
    # every requested instance (5 boats, the lighthouse) and the harbour's quay, then the rest
    assert len(first) < 128 and sum(p in asked for p in first) == 6 == sum(t["placed"] for t in started.header["trace"])
    assert not asked & {r[1] for c in chunks[1:] for r in c.records}
    assert done.instances == sum(len(c.records) for c in chunks) > 100
    assert [c.first_ord for c in chunks] == [0, *itertools.accumulate(len(c.records) for c in chunks[:-1])]


async def test_a_world_whose_first_phase_fills_its_budget_ends_complete_after_an_empty_second(
        client: TestClient) -> None:
    """The first phase ends on a chunk boundary and the second places nothing: the stream
    still ends complete, with the chunks the first phase made."""
    services = client.app[SERVICES]
    await login(client, "gen")
    events = [ev async for ev in stream_world(services, GenRequest(
        owner_id="gen", prompt="ten knights", seed=1, max_instances=10, chunk_size=5))]
    done = events[-1]
    assert isinstance(done, Done) and (done.status, done.instances, done.chunks) == ("complete", 10, 2)
    world = await services.store.worlds.require(done.world_id)
    assert (world.status, world.instance_count) == ("complete", 10)


async def test_a_cancel_ends_the_stream_after_the_group_it_came_in_and_the_world_is_what_was_sent(
        client: TestClient) -> None:
    """Chunks after the first are stored a group at a time (4096 instances) and each stored
    group is sent whole; a cancel set while a group is sent ends the stream after it, without
    waiting for the next group's plan, and the stored world is exactly what was sent."""
    services = client.app[SERVICES]
    await login(client, "gen")
    cancel = asyncio.Event()
    events: list[Any] = []
    async for ev in stream_world(services, GenRequest(owner_id="gen", prompt=PROMPT, seed=3, max_instances=20_000,
                                                      chunk_size=8), cancel):
        events.append(ev)
        if sum(isinstance(e, Chunk) for e in events) == 3:  # the first chunk, then two of the next group
            cancel.set()
    chunks, done = [e for e in events if isinstance(e, Chunk)], events[-1]
    assert isinstance(done, Done) and done.status == "cancelled"
    sent = [r[0] for c in chunks for r in c.records]
    assert (done.instances, done.chunks) == (len(sent), len(chunks)) and 3 < len(chunks) <= 1 + 4096 // 8
    stored = [r.id for r in await services.store.worlds.instances(done.world_id)]
    assert stored == sent
    world = await services.store.worlds.require(done.world_id)
    assert (world.status, world.instance_count) == ("partial", len(sent))
