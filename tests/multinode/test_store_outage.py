"""A store outage is reported as an outage (docs/protocol.md §8.3, docs/scaling.md "Failures"):
a real node reaches PostgreSQL through a proxy the test cuts. While it is cut, a request on an
open socket gets `unavailable` (1201) with `retry_after_s`, REST answers 503 with Retry-After,
a new socket gets `bye` + close 4005, and the node logs one WARNING for the whole outage, no
traceback. Once the proxy is back, the same edit is acknowledged."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.broker.proxy import Proxy
from tests.conftest import TIMEOUT
from tests.multinode.conftest import connect, login
from tests.multinode.faults import Spawn, db_url, pg_proxy, pg_role, spawn  # noqa: F401 (fixtures)
from tests.multinode.helpers import add_op, join, new_world
from tests.session.peer import Peer

pytestmark = [pytest.mark.postgres]


async def test_a_store_outage_is_unavailable_everywhere_and_logged_once(
        http: aiohttp.ClientSession, pg_role: str, pg_proxy: Proxy, spawn: Spawn) -> None:  # noqa: F811
    node = await spawn("a", db_url(pg_role, pg_proxy.port), redis=False, store_retry_after_s=3)
    owner = await connect(http, node, "olga")
    world_id, template = await new_world(owner)
    await join(owner, world_id)
    token = await login(http, node, "olga")

    await pg_proxy.stop()
    replies = [await owner.request("edit", world_id=world_id, ops=[add_op(template, n, "o")]) for n in range(3)]
    for reply in replies:
        assert reply["type"] == "error" and reply["code"] == 1201, reply
        assert reply["name"] == "unavailable" and reply["retry_after_s"] == 3, reply
    async with http.get(f"{node.http}/api/v1/worlds/{world_id}", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 503, await r.text()
        assert r.headers["Retry-After"] == "3"
        assert (await r.json())["error"] == "unavailable"
    ws = await http.ws_connect(f"{node.http}/ws", headers={"Authorization": f"Bearer {token}"})
    late = Peer(ws)  # type: ignore[arg-type]
    farewell = await late.recv()
    assert farewell["type"] == "bye" and farewell["code"] == 4005 and farewell["retry_after_s"] == 3, farewell
    assert await late.closed() == 4005

    await pg_proxy.start()
    reply = await _edit_until_stored(owner, world_id, add_op(template, 9, "o"))
    assert reply["type"] == "edit.ack", reply
    text = node.log_path.read_text(errors="replace")
    outage_lines = [line for line in text.splitlines() if "WARNING" in line and "store unavailable" in line]
    assert len(outage_lines) == 1, text[-4000:]
    assert "Traceback" not in text and " ERROR " not in text, text[-4000:]


async def _edit_until_stored(peer: Peer, world_id: str, op: dict[str, object]) -> dict[str, object]:
    """Send the edit again, after its retry_after_s, while the answer is `unavailable` (the pool
    reconnects on its own once PostgreSQL is reachable)."""
    async with asyncio.timeout(TIMEOUT * 3):
        while True:
            reply = await peer.request("edit", world_id=world_id, ops=[op])
            if reply.get("code") != 1201:
                return reply
            await asyncio.sleep(float(reply["retry_after_s"]))  # type: ignore[arg-type]
