"""Generation ownership across nodes (docs/scaling.md "Failures", server/leases.py): a node
running a generation holds a lease on the world row. A node that starts leaves other nodes'
running generations alone; when the generating node is SIGKILLed, a surviving node marks the
world `partial` within 4/3 × generation_lease_s and its members get `gen.done` (partial); a
node that was only cut off meanwhile cannot complete that world afterwards.

The generation is held mid-stream deterministically: the test locks the schema's
world_chunks table, so node a's next chunk write waits (reads, and the lease renewals on the
worlds table, do not)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.conftest import TIMEOUT
from tests.multinode.conftest import PG_ADMIN, Node, connect, db_fetch
from tests.multinode.faults import Spawn, db_url, pg_role, spawn  # noqa: F401 (fixtures)
from tests.multinode.helpers import add_op, join
from tests.session.peer import Peer, rid

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE_S = 1.5


@dataclass
class Held:
    url: str
    node_a: Node
    node_b: Node
    owner: Peer  # on node a, generating
    rid: int  # of the owner's prompt
    world_id: str
    lock: Any  # the transaction holding world_chunks: roll it back to let node a write again


@pytest.fixture
async def held(http: aiohttp.ClientSession, pg_role: str, spawn: Spawn) -> AsyncIterator[Held]:  # noqa: F811
    """Nodes a and b on one schema, and a large generation on a whose next chunk write waits."""
    url = db_url(pg_role)
    node_a = await spawn("a", url, generation_lease_s=LEASE_S)
    node_b = await spawn("b", url, generation_lease_s=LEASE_S)
    owner = await connect(http, node_a, "gina")
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        r = rid()
        await owner.send(type="prompt", rid=r, prompt="a forest with rocks", seed=7, max_instances=20_000)
        start = await owner.until(lambda f: f.get("rid") == r)
        assert start["type"] == "gen.start", start
        lock = conn.transaction()
        await lock.start()
        await conn.execute(f"LOCK TABLE {pg_role}.world_chunks IN EXCLUSIVE MODE")
        yield Held(url, node_a, node_b, owner, r, start["world_id"], lock)
    finally:
        await conn.close()


async def test_a_dead_nodes_generation_is_marked_partial_and_a_starting_node_leaves_live_ones_alone(
        http: aiohttp.ClientSession, held: Held, spawn: Spawn) -> None:  # noqa: F811
    url, world_id = held.url, held.world_id
    # Item 3: a node that starts now (its start-up sweep runs before it is ready) sweeps only
    # expired leases, not a's running generation, whose lease a keeps renewing.
    taken = await _lease(url, world_id)
    await spawn("c", url, generation_lease_s=LEASE_S)
    assert await _status(url, world_id) == "generating"
    async with asyncio.timeout(TIMEOUT):
        while await _lease(url, world_id) == taken:
            await asyncio.sleep(0.05)
    assert await _status(url, world_id) == "generating"

    watcher = await connect(http, held.node_b, "gina")
    await join(watcher, world_id)
    header = next(f for f in watcher.seen if f.get("type") == "snapshot" and "header" in f)["header"]
    assert header["status"] == "generating"
    edit = await watcher.request("edit", world_id=world_id, ops=[{"op": "remove", "id": "nope"}])
    assert edit["type"] == "error" and edit["name"] == "conflict", edit

    # Item 2: node a dies mid-generation; b marks the world partial and tells its member.
    killed = time.monotonic()
    await asyncio.to_thread(held.node_a.kill)
    done = await watcher.until(lambda f: f.get("type") == "gen.done", timeout=TIMEOUT)
    took = time.monotonic() - killed
    assert done["world_id"] == world_id and done["status"] == "partial", done
    assert await _status(url, world_id) == "partial"
    print(f"orphaned generation marked partial {took:.2f}s after SIGKILL (lease {LEASE_S}s)")
    await held.lock.rollback()
    added = await watcher.request("edit", world_id=world_id, ops=[{"op": "remove", "id": "nope"}])
    assert added["type"] == "edit.ack", added


async def test_a_cut_off_node_cannot_complete_the_world_another_node_marked_partial(
        http: aiohttp.ClientSession, held: Held) -> None:
    """Node a is paused (SIGSTOP: no lease renewals, its chunk write pending) until node b has
    swept the world to partial and told its member; then a runs on. Its next write is refused
    (the world is no longer `generating`), so it stops: its requester also gets gen.done
    partial, and the store keeps the instances that b announced — never `complete`."""
    watcher = await connect(http, held.node_b, "gina")
    await join(watcher, held.world_id)
    proc = held.node_a.proc
    assert proc is not None
    proc.send_signal(signal.SIGSTOP)
    try:
        swept = await watcher.until(lambda f: f.get("type") == "gen.done", timeout=TIMEOUT)
        assert swept["status"] == "partial", swept
        await held.lock.rollback()  # a's pending chunk INSERT runs; its transaction waits for a
    finally:
        proc.send_signal(signal.SIGCONT)
    done = await held.owner.until(lambda f: f.get("rid") == held.rid and f.get("type") == "gen.done", timeout=TIMEOUT)
    assert done["status"] == "partial", done
    rows = await db_fetch(held.url, "SELECT status, instance_count FROM worlds WHERE id = $1", held.world_id)
    assert (rows[0]["status"], rows[0]["instance_count"]) == ("partial", swept["instances"])
    # One final frame for the requester: b's "orphaned" notice (published on the world's
    # channel before the edit below) is not for a room whose generation runs on a.
    template = next(f for f in held.owner.seen if f.get("type") == "gen.chunk")["instances"][0]
    edit = await watcher.request("edit", world_id=held.world_id, ops=[add_op(template, 1, "w")])
    assert edit["type"] == "edit.ack", edit
    await held.owner.until(lambda f: f.get("type") == "op" and f.get("seq") == edit["seq"], timeout=TIMEOUT)
    finals = [f for f in held.owner.seen if f.get("type") == "gen.done" and f.get("world_id") == held.world_id]
    assert finals == [done], finals


async def _status(url: str, world_id: str) -> str:
    rows = await db_fetch(url, "SELECT status FROM worlds WHERE id = $1", world_id)
    return str(rows[0]["status"])


async def _lease(url: str, world_id: str) -> object:
    rows = await db_fetch(url, "SELECT gen_lease_until FROM worlds WHERE id = $1", world_id)
    return rows[0]["gen_lease_until"]
