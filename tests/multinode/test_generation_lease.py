"""Generation ownership across nodes (docs/scaling.md "Failures", server/leases.py): a node
running a generation holds a lease on the world row. A node that starts leaves other nodes'
running generations alone; when the generating node is SIGKILLed, a surviving node marks the
world `partial` within 4/3 × generation_lease_s and its members get `gen.done` (partial).

The generation is held mid-stream deterministically: the test locks the schema's
world_chunks table, so node a's next chunk write waits (reads, and the lease renewals on the
worlds table, do not)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import asyncpg
import pytest

from tests.conftest import TIMEOUT
from tests.multinode.conftest import PG_ADMIN, connect, db_fetch
from tests.multinode.faults import Spawn, db_url, pg_role, spawn  # noqa: F401 (fixtures)
from tests.multinode.helpers import join
from tests.session.peer import rid

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE_S = 1.5


async def test_a_dead_nodes_generation_is_marked_partial_and_a_starting_node_leaves_live_ones_alone(
        http: aiohttp.ClientSession, pg_role: str, spawn: Spawn) -> None:  # noqa: F811
    url = db_url(pg_role)
    node_a = await spawn("a", url, generation_lease_s=LEASE_S)
    node_b = await spawn("b", url, generation_lease_s=LEASE_S)
    owner = await connect(http, node_a, "gina")
    lock = await asyncpg.connect(PG_ADMIN)
    try:
        r = rid()
        await owner.send(type="prompt", rid=r, prompt="a forest with rocks", seed=7, max_instances=20_000)
        start = await owner.until(lambda f: f.get("rid") == r)
        assert start["type"] == "gen.start", start
        world_id = start["world_id"]
        tx = lock.transaction()
        await tx.start()
        await lock.execute(f"LOCK TABLE {pg_role}.world_chunks IN EXCLUSIVE MODE")  # node a's next chunk waits

        # Item 3: a node that starts now (its start-up sweep runs before it is ready) sweeps
        # only expired leases, not a's running generation, whose lease a keeps renewing.
        taken = await _lease(url, world_id)
        await spawn("c", url, generation_lease_s=LEASE_S)
        assert await _status(url, world_id) == "generating"
        async with asyncio.timeout(TIMEOUT):
            while await _lease(url, world_id) == taken:
                await asyncio.sleep(0.05)
        assert await _status(url, world_id) == "generating"

        watcher = await connect(http, node_b, "gina")
        _, joined = await join(watcher, world_id)
        header = next(f for f in watcher.seen if f.get("type") == "snapshot" and "header" in f)["header"]
        assert header["status"] == "generating"
        edit = await watcher.request("edit", world_id=world_id, ops=[{"op": "remove", "id": "nope"}])
        assert edit["type"] == "error" and edit["name"] == "conflict", edit

        # Item 2: node a dies mid-generation; b marks the world partial and tells its member.
        killed = time.monotonic()
        await asyncio.to_thread(node_a.kill)
        done = await watcher.until(lambda f: f.get("type") == "gen.done", timeout=TIMEOUT)
        took = time.monotonic() - killed
        assert done["world_id"] == world_id and done["status"] == "partial", done
        assert await _status(url, world_id) == "partial"
        print(f"orphaned generation marked partial {took:.2f}s after SIGKILL (lease {LEASE_S}s)")
        await tx.rollback()
        added = await watcher.request("edit", world_id=world_id, ops=[{"op": "remove", "id": "nope"}])
        assert added["type"] == "edit.ack", added
    finally:
        await lock.close()


async def _status(url: str, world_id: str) -> str:
    rows = await db_fetch(url, "SELECT status FROM worlds WHERE id = $1", world_id)
    return str(rows[0]["status"])


async def _lease(url: str, world_id: str) -> object:
    rows = await db_fetch(url, "SELECT gen_lease_until FROM worlds WHERE id = $1", world_id)
    return rows[0]["gen_lease_until"]
