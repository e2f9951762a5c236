"""A member that never reads is closed as slow (4001); the room keeps flowing for the rest."""

from __future__ import annotations

import asyncio

import websockets

from protocol.codes import CloseCode
from server.node import NODE
from tests.conftest import TIMEOUT, AppFactory
from tests.session.peer import open_peer, public_world, rid, stalled_member
from tests.session.worldview import WorldView

QUEUE_BOUND = 128 * 1024


async def test_a_member_that_never_reads_is_closed_slow_and_others_keep_receiving(make_client: AppFactory) -> None:
    client = await make_client(send_queue_bytes=QUEUE_BOUND, msgs_per_s=10_000.0, msgs_burst=10_000)
    node = client.app[NODE]
    owner = await open_peer(client, "owner")
    world_id = await public_world(client, owner)
    fast = await open_peer(client, "fast")
    await fast.send(type="join", rid=rid(), world_id=world_id)
    joined = await fast.until_type("joined")
    view = WorldView(world_id)
    view.feed(joined)

    # The slow member: a tiny receive buffer, a client that stops reading after joining.
    slow, slow_session = await stalled_member(client, "slow", world_id)
    await owner.send(type="join", rid=rid(), world_id=world_id)
    await owner.until_type("joined")

    peak = 0
    edits = 40  # 40 × ~190 KiB of op frames: past the bound plus every kernel buffer (4 MiB)
    ids = [f"i{n:05d}" for n in range(1, 48)]
    for i in range(edits):
        ops = [{"op": "set", "id": inst, "props": {"note": "x" * 3800, "n": i}} for inst in ids]
        await owner.send(type="edit", rid=rid(), world_id=world_id, ops=ops)
        peak = max(peak, slow_session.writer.queued_bytes)
        await asyncio.sleep(0)  # let the room run
    async with asyncio.timeout(TIMEOUT):
        while view.seq < edits:
            view.feed(await fast.recv())
    assert view.seqs == list(range(1, edits + 1))  # the fast member got everything, in order
    async with asyncio.timeout(TIMEOUT):
        while slow_session in node.registry.sessions:
            await asyncio.sleep(0.01)
    assert slow_session.writer.slow and peak <= QUEUE_BOUND
    assert node.metrics.slow._value.get() >= 1
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                await slow.recv()
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is None or closed.rcvd.code == CloseCode.SLOW_CONSUMER
    finally:
        await slow.close()
    assert (await owner.request("ping"))["type"] == "pong"
