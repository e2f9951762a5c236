"""SIGTERM drain on a real node (docs/operations.md §2): while running generations are given
their time, open sockets are still read and every request gets its final frame (a ping its
pong, an edit its ack, a new prompt `unavailable`) before `bye` 1001; a keep-alive `/ready`
answers 503; the log records the close code the clients got (1001).

A generation is kept running through the drain: the test holds a SHARE lock on the schema's
world_chunks table, so the generation's first write waits (reads and later edits, which only
read world_chunks, do not)."""

from __future__ import annotations

import asyncio
import signal
import socket

import aiohttp
import asyncpg
import pytest

from tests.conftest import TIMEOUT
from tests.multinode.conftest import PG_ADMIN, Node, connect
from tests.multinode.faults import Spawn, db_url, pg_role, spawn  # noqa: F401 (fixtures)
from tests.multinode.helpers import add_op, edit, join, new_world
from tests.session.peer import rid

pytestmark = [pytest.mark.postgres]


async def test_a_draining_node_answers_every_request_before_bye(
        http: aiohttp.ClientSession, pg_role: str, spawn: Spawn) -> None:  # noqa: F811
    node = await spawn("a", db_url(pg_role), redis=False, drain_timeout_s=4)
    owner = await connect(http, node, "dora")
    world_id, template = await new_world(owner)
    view, _ = await join(owner, world_id)
    await edit(owner, view, world_id, [add_op(template, 0, "d")])  # expands the world's chunks
    generator = await connect(http, node, "dora")
    async with http.get(f"{node.http}/ready") as resp:  # opens the keep-alive connection
        assert resp.status == 200
    lock = await asyncpg.connect(PG_ADMIN)
    tx = lock.transaction()
    try:
        await tx.start()
        await lock.execute(f"LOCK TABLE {pg_role}.world_chunks IN SHARE MODE")
        await generator.send(type="prompt", rid=rid(), prompt="a forest", max_instances=20_000)
        assert (await generator.request("ping"))["type"] == "pong"  # the generation is registered

        assert node.proc is not None
        node.proc.send_signal(signal.SIGTERM)
        await _until_refused(node)  # draining: the listener is closed
        async with http.get(f"{node.http}/ready") as resp:  # the same keep-alive connection
            assert resp.status == 503, await resp.text()
            assert (await resp.json())["status"] == "draining"
        ping, change, prompt = rid(), rid(), rid()
        await owner.send(type="ping", rid=ping)
        await owner.send(type="edit", rid=change, world_id=world_id, ops=[add_op(template, 1, "d")])
        await owner.send(type="prompt", rid=prompt, prompt="a desert")
        bye = await owner.until(lambda f: f.get("type") == "bye")
        assert bye["code"] == 1001, bye
        replies = {f["rid"]: f for f in owner.seen if f.get("rid") in (ping, change, prompt)}
        assert replies[ping]["type"] == "pong"
        assert replies[change]["type"] == "edit.ack", replies[change]
        assert replies[prompt]["type"] == "error" and replies[prompt]["name"] == "unavailable", replies[prompt]
        assert await owner.closed() == 1001
    finally:
        await tx.rollback()
        await lock.close()
    await asyncio.to_thread(node.proc.wait, TIMEOUT)
    closes = [line for line in node.log_path.read_text().splitlines() if "session closed" in line]
    assert closes and all(line.endswith("close 1001") for line in closes), closes


async def _until_refused(node: Node) -> None:
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", node.port), timeout=1):
                    pass
            except OSError:
                return
            await asyncio.sleep(0.01)
