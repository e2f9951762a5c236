"""stream_world, the generation pipeline shared by sockets and REST, driven directly against a
real app's store: what is stored at each point a consumer can stop."""

from __future__ import annotations

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
