"""Rotations are unit quaternions: others are refused, never stored (issue 15, finding 12)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from server.context import SERVICES
from tests.session.peer import open_peer


@pytest.mark.parametrize("rot", [[1e308, 1e308, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0], [0.1, 0.0, 0.0, 0.1]])
async def test_a_non_unit_rotation_is_invalid_and_not_stored(client: TestClient, rot: list[float]) -> None:
    peer = await open_peer(client, "alice")
    start, chunks, _ = await peer.generate("a small rocky clearing", seed=5, max_instances=10)
    world_id = start["world_id"]
    assert (await peer.request("join", world_id=world_id))["type"] == "joined"
    target = chunks[0]["instances"][0]["id"]
    prefab = chunks[0]["instances"][0]["prefab_id"]
    for ops in ([{"op": "move", "id": target, "rot": rot}], [{"op": "add", "prefab_id": prefab,
                                                              "pos": [0.0, 0.0, 0.0], "rot": rot}]):
        reply = await peer.request("edit", world_id=world_id, ops=ops)
        assert reply["type"] == "error" and reply["name"] == "invalid_value", reply
        assert "ops[0].rot" in reply["fields"]
    stored = await client.app[SERVICES].store.worlds.instances(world_id)
    assert all(abs(r.rx * r.rx + r.ry * r.ry + r.rz * r.rz + r.rw * r.rw - 1) < 1e-3 for r in stored)
    # a unit rotation, even one rounded as clients send it, is applied
    reply = await peer.request("edit", world_id=world_id, ops=[{"op": "move", "id": target,
                                                                "rot": [0.0, 0.7071, 0.0, 0.7071]}])
    assert reply["type"] == "edit.ack", reply
    await peer.ws.close()
