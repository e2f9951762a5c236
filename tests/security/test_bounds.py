"""Bounds (issue 15, findings 7, 8, 9): merged props per instance, op-log bytes per world,
snapshots paced by the joiner's reading, generations whose reader stalls, and the instances a
user's running generations may hold. Real server, real sockets, a real SQLite file."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.codes import ErrorCode
from server.context import SERVICES
from tests.conftest import TIMEOUT, AppFactory
from tests.security.fair_util import (
    abort,
    eventually,
    open_peer,
    oplog_bytes,
    send_prompt,
    stalled_socket,
    world_rows,
)
from tests.session.peer import Peer
from tests.session.test_worlds import catalog_types, join

PROMPT = "a village with a dozen houses around a lake, pine trees and rocks"


async def _world(peer: Peer, n: int) -> tuple[str, list[str]]:
    """A complete world of `n` instances owned by `peer`'s user, joined by `peer`; its instance ids."""
    start, _, done = await peer.generate(PROMPT, seed=3, max_instances=n, room=False)
    assert done["status"] == "complete", done
    joined, view = await join(peer, start["world_id"])
    assert joined["mode"] == "snapshot"
    return start["world_id"], list(view.instances)


async def _edit(peer: Peer, world_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    reply = await peer.request("edit", world_id=world_id, ops=ops)
    return reply


async def test_a_set_that_grows_an_instances_props_past_the_cap_is_refused(make_client: AppFactory) -> None:
    client = await make_client(max_props_bytes=1024)
    catalog_types(client)
    owner = await open_peer(client, "owner")
    world_id, ids = await _world(owner, 10)
    target = ids[0]
    ack = await _edit(owner, world_id, [{"op": "set", "id": target, "props": {"a": "x" * 600}}])
    assert ack["type"] == "edit.ack" and ack["results"][0]["outcome"] == "applied", ack
    # Each op is within the per-op limit; the merge of both is not.
    refused = await _edit(owner, world_id, [{"op": "set", "id": target, "props": {"b": "y" * 600}}])
    assert refused["type"] == "error" and refused["code"] == ErrorCode.LIMIT_EXCEEDED, refused
    assert "ops[0].props" in refused["fields"]
    # Nothing was stored: the seq did not move and the props are the first set's.
    other = await open_peer(client, "owner")
    joined, view = await join(other, world_id)
    assert joined["seq"] == ack["seq"]
    assert view.instances[target]["props"] == {"a": "x" * 600}
    # Shrinking (null deletes a key) and a within-cap add still work.
    ok = await _edit(owner, world_id, [{"op": "set", "id": target, "props": {"a": None, "b": "y" * 600}}])
    assert ok["type"] == "edit.ack", ok
    too_big_add = await _edit(owner, world_id, [{"op": "add", "prefab_id": view.instances[target]["prefab_id"],
                                                "pos": [0.0, 0.0, 0.0], "props": {"c": "z" * 2000}}])
    assert too_big_add["type"] == "error" and too_big_add["code"] == ErrorCode.LIMIT_EXCEEDED, too_big_add


async def test_the_op_log_of_a_world_is_compacted_by_bytes(make_client: AppFactory) -> None:
    cap = 8192
    client = await make_client(oplog_max_bytes=cap)
    catalog_types(client)
    owner = await open_peer(client, "owner")
    world_id, ids = await _world(owner, 10)
    for i in range(30):  # ~1 KB per logged batch: about 30 KB without the cap
        ack = await _edit(owner, world_id, [{"op": "set", "id": ids[i % len(ids)], "props": {"a": f"{i}" * 900}}])
        assert ack["type"] == "edit.ack", ack
    assert (await owner.request("ping"))["type"] == "pong"  # the last edit's handling is over
    kept, size = await oplog_bytes(client, world_id)
    assert 0 < kept < 30
    assert size <= cap + cap // 4 + 1024, size
    # Resuming from before the kept ops is served a snapshot, not a replay with a hole.
    resumer = await open_peer(client, "owner")
    joined, view = await join(resumer, world_id, since_seq=1)
    assert joined["mode"] == "snapshot" and joined["seq"] == 30
    assert view.instances[ids[29 % len(ids)]]["props"] == {"a": "29" * 900}


async def test_a_reader_that_reads_joins_a_world_bigger_than_its_send_queue(make_client: AppFactory) -> None:
    # ~270 instances with 3 KB props each: a ~0.8 MB snapshot against a 256 KiB send queue. Queued
    # at once it closed even a fast reader with 4001; paced, the reader gets all of it.
    client = await make_client(send_queue_bytes=262_144)
    catalog_types(client)
    owner = await open_peer(client, "owner")
    world_id, ids = await _world(owner, 300)  # the budget is a maximum: ~270 of this prompt
    assert len(ids) > 200
    for first in range(0, len(ids), 100):
        ops = [{"op": "set", "id": i, "props": {"note": i[-4:] * 750}} for i in ids[first:first + 100]]
        ack = await _edit(owner, world_id, ops)
        assert ack["type"] == "edit.ack", ack
    joiners = [await open_peer(client, "owner", server_sndbuf=16_384) for _ in range(3)]
    for joiner in joiners:
        joined, view = await join(joiner, world_id)
        assert joined["mode"] == "snapshot"
        assert len(view.instances) == len(ids)
        assert all(len(view.instances[i]["props"]["note"]) == 3000 for i in ids)
    # Live ops after the snapshot still arrive, in order.
    ack = await _edit(owner, world_id, [{"op": "move", "id": ids[0], "pos": [1.0, 0.0, 1.0]}])
    for joiner in joiners:
        op = await joiner.until_type("op", world_id=world_id)
        assert op["seq"] == ack["seq"]


async def test_a_generation_whose_reader_stalls_ends_and_its_world_is_partial(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small store groups: what is stored stays close to what was sent, so the stall comes
    # long before the last instance is stored (docs/operations.md: a world whose instances were
    # all stored before the stall stays complete).
    monkeypatch.setattr("server.generation._PERSIST_GROUP_INSTANCES", 256)
    client = await make_client(send_queue_bytes=65_536, generation_stall_timeout_s=0.3)
    ws, session = await stalled_socket(client, "alice")
    await send_prompt(ws, PROMPT, max_instances=20_000, room=False)

    async def partial() -> bool:
        rows = await world_rows(client)
        return bool(rows) and rows[0][2] == "partial"
    await eventually(partial, "the stalled generation's world is partial")
    quotas = client.app[SERVICES].quotas
    await eventually(lambda: quotas.running("alice") == 0 and not session.generations, "its budget is free")
    assert not session.writer.closed  # the connection itself stays: only the generation ended
    abort(ws)


async def test_the_instances_a_users_running_generations_hold_are_capped(make_client: AppFactory) -> None:
    client = await make_client(max_pending_instances_per_user=25_000, send_queue_bytes=65_536,
                               generation_stall_timeout_s=TIMEOUT * 6)
    ws, session = await stalled_socket(client, "alice")
    await send_prompt(ws, PROMPT, max_instances=20_000, room=False)
    await eventually(lambda: session.generations, "the big generation runs")
    other = await open_peer(client, "alice")
    refused = await other.request("prompt", prompt=PROMPT, max_instances=10_000, room=False)
    assert refused["type"] == "error" and refused["code"] == ErrorCode.TOO_MANY_GENERATIONS, refused
    _, _, done = await other.generate(PROMPT, max_instances=5_000, room=False)
    assert done["status"] == "complete"
    abort(ws)
