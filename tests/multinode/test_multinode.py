"""Two real server processes on one PostgreSQL and one Redis (docs/scaling.md): what a client
on one node does, a client on the other sees, in the same order; seqs stay unique and gapless
under concurrent edits on both; a SIGKILLed node loses nothing it acknowledged.

The tests share one cluster (module scope) and run in file order; the last one kills node a.
"""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import pytest

from tests.multinode.conftest import PRESENCE_TTL_S, Cluster, connect, db_fetch, db_state, public_id
from tests.multinode.helpers import add_op, drain_until, edit, join, new_world
from tests.session.peer import rid

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def test_a_client_on_node_b_sees_every_op_made_on_node_a_in_order(
        cluster: Cluster, http: aiohttp.ClientSession) -> None:
    alice_a = await connect(http, cluster["a"], "alice")
    world_id, template = await new_world(alice_a)
    alice_b = await connect(http, cluster["b"], "alice")  # the same user's second device, on node b
    view_b, joined_b = await join(alice_b, world_id)
    view_a, _ = await join(alice_a, world_id)
    # Presence crosses nodes: b's member list has the generating session on a, and b hears
    # a's (re-)join.
    alice = await public_id(http, cluster["a"], "alice")
    assert len(joined_b["members"]) == 2 and {m["user_id"] for m in joined_b["members"]} == {alice}
    event = await alice_b.until(lambda f: f.get("type") == "presence" and f.get("event") == "join")
    assert event["member"]["user_id"] == alice

    for n in range(30):
        op = add_op(template, n, "x") if n % 3 == 0 else {"op": "set", "id": f"x{n - n % 3}", "props": {"k": n}}
        await edit(alice_a, view_a, world_id, [op])
    await drain_until(alice_b, view_b, 30)
    assert view_b.seqs == list(range(1, 31))
    assert view_b.state() == view_a.state() == (await db_state(cluster.db_url, world_id))[1]


async def test_concurrent_edits_on_both_nodes_take_each_seq_once_and_all_see_one_order(
        cluster: Cluster, http: aiohttp.ClientSession) -> None:
    owner = await connect(http, cluster["a"], "bob")
    world_id, template = await new_world(owner)
    editors = [await connect(http, cluster[n], "bob") for n in ("a", "b", "a", "b")]
    watchers = [await connect(http, cluster[n], "bob") for n in ("a", "b")]
    views = [(await join(p, world_id))[0] for p in editors + watchers]
    per_editor = 15

    async def run(index: int) -> list[int]:
        peer, view = editors[index], views[index]
        seqs = []
        for n in range(per_editor):
            ack = await edit(peer, view, world_id, [add_op(template, n, f"e{index}-")])
            seqs.append(ack["seq"])
        return seqs

    acked = await asyncio.gather(*(run(i) for i in range(len(editors))))
    total = per_editor * len(editors)
    assert sorted(s for seqs in acked for s in seqs) == list(range(1, total + 1))  # no duplicate, no gap
    for peer, view in zip(editors + watchers, views, strict=True):
        await drain_until(peer, view, total)
        assert view.seqs == list(range(1, total + 1))  # View.feed asserts each step too
    seq, stored = await db_state(cluster.db_url, world_id)
    assert seq == total
    assert all(view.state() == stored for view in views)
    logged = await db_fetch(cluster.db_url, "SELECT seq FROM world_ops WHERE world_id = $1 ORDER BY seq", world_id)
    assert [r["seq"] for r in logged] == list(range(1, total + 1))


async def test_after_node_a_is_killed_its_client_resumes_on_node_b_with_nothing_acknowledged_lost(
        cluster: Cluster, http: aiohttp.ClientSession) -> None:
    carol_a = await connect(http, cluster["a"], "carol")
    world_id, template = await new_world(carol_a)
    view, _ = await join(carol_a, world_id)
    watcher_b = await connect(http, cluster["b"], "carol")
    w_view, joined_w = await join(watcher_b, world_id)
    assert len(joined_w["members"]) == 2
    for n in range(10):
        await edit(carol_a, view, world_id, [add_op(template, n, "c")])
    await drain_until(watcher_b, w_view, 10)
    events = [{"id": f"t-{secrets.token_hex(4)}-{n}", "type": "teleport", "world_id": world_id,
               "data": {"n": n}} for n in range(25)]
    r = rid()
    await carol_a.send(type="telemetry", rid=r, events=events)
    ack = await carol_a.until(lambda f: f.get("rid") == r)
    assert ack["type"] == "telemetry.ack" and sorted(ack["ids"]) == sorted(e["id"] for e in events)

    cluster["a"].kill()
    assert (await carol_a.closed()) is not None or carol_a.ws.closed

    # Its member disappears for the others within the presence ttl (plus one refresh period).
    leave = await watcher_b.until(lambda f: f.get("type") == "presence" and f.get("event") == "leave",
                                  timeout=PRESENCE_TTL_S * 2 + 2)
    assert leave["member"]["user_id"] == await public_id(http, cluster["b"], "carol")
    # Meanwhile the world moves on without carol.
    for n in range(5):
        await edit(watcher_b, w_view, world_id, [{"op": "set", "id": f"c{n}", "props": {"after": n}}])
    assert w_view.seq == 15

    # carol resumes on node b from her last applied seq: the missed ops are replayed, and her
    # copy is the stored world, with every op node a acknowledged.
    carol_b = await connect(http, cluster["b"], "carol")
    resumed, joined = await join(carol_b, world_id, resume=view)
    assert joined["mode"] == "replay" and resumed.seqs == [11, 12, 13, 14, 15]
    seq, stored = await db_state(cluster.db_url, world_id)
    assert (seq, resumed.state()) == (15, stored)
    assert all(f"c{n}" in stored for n in range(10))
    # ... and editing goes on from there, seen by the other member.
    await edit(carol_b, resumed, world_id, [add_op(template, 99, "c")])
    await drain_until(watcher_b, w_view, 16)

    # Telemetry that the dead node acknowledged is in the database.
    rows = await db_fetch(cluster.db_url, "SELECT client_event_id FROM telemetry_events WHERE user_id = $1",
                          "carol")
    assert {e["id"] for e in events} <= {r["client_event_id"] for r in rows}
