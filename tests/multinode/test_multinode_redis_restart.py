"""Redis going away and coming back, end to end: two nodes in this process (two aiohttp
apps on one PostgreSQL schema), node b reaching Redis through a proxy the test stops and
starts. Node b reconnects and resubscribes by itself, and its members get every op made
meanwhile, in order, from the op log; ops made on b meanwhile reach a's members too."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.node import NODE
from tests.broker.conftest import eventually
from tests.broker.proxy import Proxy, proxy  # noqa: F401 (proxy: a fixture)
from tests.conftest import REDIS_URL, make_settings, require_service
from tests.multinode.conftest import _admin, db_state
from tests.multinode.helpers import add_op, drain_until, edit, join, new_world, read_sent
from tests.session.peer import open_peer

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def schema_url() -> AsyncIterator[str]:
    require_service("PostgreSQL", 5432)
    name = f"iv_mn_{secrets.token_hex(4)}"
    await _admin(f"CREATE ROLE {name} LOGIN", f"CREATE SCHEMA {name} AUTHORIZATION {name}",
                 f"ALTER ROLE {name} SET search_path = {name}")
    yield f"postgresql+asyncpg://{name}@127.0.0.1:5432/test"
    await _admin(f"DROP SCHEMA IF EXISTS {name} CASCADE", f"DROP OWNED BY {name}", f"DROP ROLE IF EXISTS {name}")


async def test_members_on_a_node_that_lost_redis_get_every_op_in_order_once_it_is_back(
        aiohttp_client: Any, tmp_path: Path, schema_url: str, proxy: Proxy) -> None:  # noqa: F811
    common = {"database_url": schema_url, "broker": "redis", "secret_key": secrets.token_hex(16)}
    node_a = await aiohttp_client(create_app(make_settings(tmp_path, redis_url=REDIS_URL, node_id="a", **common)))
    node_b = await aiohttp_client(create_app(make_settings(tmp_path, redis_url=proxy.url(), node_id="b", **common)))
    broker_b = node_b.app[NODE].broker

    owner = await open_peer(node_a, "dana")
    world_id, template = await new_world(owner)
    owner_view, _ = await join(owner, world_id)
    watcher = await open_peer(node_b, "dana")
    watcher_view, _ = await join(watcher, world_id)
    await edit(owner, owner_view, world_id, [add_op(template, 0, "d")])
    await drain_until(watcher, watcher_view, 1)

    await proxy.stop()
    await eventually(lambda: not broker_b.healthy)
    ready = await (await node_b.get("/ready")).json()
    assert ready["status"] == "ready" and ready["broker"] == "reconnecting"
    for n in range(1, 6):  # acknowledged on a; b cannot hear of them now
        await edit(owner, owner_view, world_id, [add_op(template, n, "d")])
    await read_sent(watcher, watcher_view)
    assert watcher_view.seq == 1
    await proxy.start()
    # b reconnects and resubscribes by itself; with no further edit, the resync fills 2..6
    # from the op log, in order (View asserts every step).
    await eventually(lambda: broker_b.healthy)
    await drain_until(watcher, watcher_view, 6)
    assert broker_b.connects == 2

    # The other way round: an edit on b while b is cut off reaches a's members afterwards.
    await proxy.stop()
    await eventually(lambda: not broker_b.healthy)
    await edit(watcher, watcher_view, world_id, [{"op": "set", "id": "d0", "props": {"from": "b"}}])
    assert watcher_view.seq == 7  # b's own members have it at once
    await read_sent(owner, owner_view)
    assert owner_view.seq == 6  # a's members cannot have it yet
    await proxy.start()
    await drain_until(owner, owner_view, 7)  # b publishes a resync for the world it could not reach

    # Live again both ways, and both copies are the stored world.
    await edit(owner, owner_view, world_id, [add_op(template, 9, "d")])
    await drain_until(watcher, watcher_view, 8)
    seq, stored = await db_state(schema_url, world_id)
    assert seq == 8 and owner_view.state() == watcher_view.state() == stored
    assert owner_view.seqs == watcher_view.seqs == list(range(1, 9))
