"""WorldView over the SDK: join, edit, live ops between two sessions, resume after reconnect."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from client import ServerError
from protocol import messages as m
from protocol.codes import ErrorCode
from server.context import SERVICES
from tests.client.sdkutil import SdkFactory
from tests.client.worldutil import edits, make_world, next_event, resume_case, stored


async def test_join_edit_and_live_ops_keep_two_views_equal_to_the_store(client: TestClient,
                                                                         sdk: SdkFactory) -> None:
    alice, bob = await sdk("alice"), await sdk("bob")
    world_id = await make_world(client, alice)
    initial = await stored(client, world_id)
    a_view = await alice.join(world_id)
    b_view = await bob.join(world_id)
    assert a_view.instances == b_view.instances == initial and a_view.seq == b_view.seq == 0
    assert b_view.role == "editor" and b_view.header["title"] and b_view.mode == "snapshot"
    public = client.app[SERVICES].public_id  # members show public ids, never account ids
    assert {mb["user_id"] for mb in b_view.members.values()} == {public("alice"), public("bob")}
    b_events = b_view.events()
    ack = await a_view.edit(edits(a_view, 1))
    assert ack.seq == 1 and [r["outcome"] for r in ack.results] == ["applied"] * 4
    assert a_view.seq == 1 and "added_1" in a_view.instances  # applied locally on the ack
    op = await next_event(b_events, m.WorldOp)
    assert op.seq == 1 and op.author == public("alice") and b_view.seq == 1
    assert a_view.instances == b_view.instances == await stored(client, world_id)
    assert b_view.instances["added_1"]["prefab_type"] and b_view.instances["added_1"]["props"] == {"tint": "red"}
    # bob's edit reaches alice
    a_events = a_view.events()
    await b_view.edit([{"op": "remove", "id": "added_1"}])
    assert (await next_event(a_events, m.WorldOp)).seq == 2 and "added_1" not in a_view.instances
    assert a_view.instances == b_view.instances == await stored(client, world_id)
    await b_view.leave()
    assert b_view.left and (await next_event(a_events, m.PresenceEvent)).event == "leave"
    with pytest.raises(ServerError) as info:
        await b_view.edit([{"op": "remove", "id": min(a_view.instances)}])
    assert info.value.code is ErrorCode.NOT_JOINED


async def test_edit_errors_are_typed_and_change_nothing(client: TestClient, sdk: SdkFactory) -> None:
    alice = await sdk("alice")
    view = await alice.join(await make_world(client, alice))
    before = dict(view.instances)
    with pytest.raises(ServerError) as info:
        await view.edit([{"op": "add", "prefab_id": "no_such_prefab", "pos": [0.0, 0.0, 0.0]}])
    assert info.value.code is ErrorCode.UNKNOWN_PREFAB and "ops[0].prefab_id" in info.value.fields
    with pytest.raises(ServerError) as info:
        await view.edit([{"op": "move", "id": min(before), "pos": [1e6, 0.0, 0.0]}])
    assert info.value.code is ErrorCode.OUT_OF_BOUNDS
    assert view.instances == before and view.seq == 0


async def test_resume_replays_missed_ops_after_a_reconnect(client: TestClient, sdk: SdkFactory) -> None:
    a_view, b_view, resumed = await resume_case(client, sdk, missed=2)
    assert resumed.mode == "replay" and resumed.seq == 3 == a_view.seq == b_view.seq
    assert b_view.instances == a_view.instances == await stored(client, a_view.world_id)
    assert b_view.gaps == 0 and b_view.joined
    # live again: a later edit arrives as an op
    events = b_view.events()
    await a_view.edit(edits(a_view, 9))
    assert (await next_event(events, m.WorldOp)).seq == 4 and b_view.instances == a_view.instances
