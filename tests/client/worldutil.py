"""Shared-world helpers for SDK tests."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from client import Resumed, Session, WorldView
from protocol.codes import CloseCode
from records import InstanceRecord
from server.context import SERVICES
from tests.client.sdkutil import SdkFactory, server_session
from tests.conftest import TIMEOUT, bearer, login


async def make_world(client: TestClient, owner: Session, share_with: str = "bob") -> str:
    gen = owner.generate("a small farm with a barn and a pond", seed=3, max_instances=150)
    done = await gen.collect()
    assert done.status == "complete" and gen.world_id
    await login(client, share_with)  # a world is shared with existing accounts only
    resp = await client.post(f"/api/v1/worlds/{gen.world_id}/share", json={"user_id": share_with, "role": "editor"},
                             headers=bearer(await login(client, owner.user_id)))
    assert resp.status == 200, await resp.text()
    return gen.world_id


async def stored(client: TestClient, world_id: str) -> dict[str, dict[str, Any]]:
    rows = await client.app[SERVICES].store.worlds.instances(world_id)
    return {r.id: InstanceRecord.from_row(r).wire() for r in rows}


def edits(view: WorldView, n: int) -> list[dict[str, Any]]:
    """A batch touching every op kind, inside the world's bounds."""
    a, b, c = sorted(view.instances)[:3]
    prefab = view.instances[a]["prefab_id"]
    pos = list(view.instances[a]["pos"])
    return [{"op": "add", "prefab_id": prefab, "pos": pos, "id": f"added_{n}", "props": {"tint": "red"}},
            {"op": "move", "id": b, "pos": [pos[0], pos[1], pos[2]], "rot": [0.0, 0.7071, 0.0, 0.7071]},
            {"op": "set", "id": c, "props": {"variant": n}},
            {"op": "remove", "id": a}]


async def next_event(events: Any, kind: type) -> Any:
    async with asyncio.timeout(TIMEOUT):
        async for ev in events:
            if isinstance(ev, kind):
                return ev
    raise AssertionError(f"events ended before a {kind.__name__}")


async def resume_case(client: TestClient, sdk: SdkFactory, missed: int) -> tuple[WorldView, WorldView, Resumed]:
    """bob is cut off (GOING_AWAY), stays away while alice makes `missed` edits, then resumes."""
    gate, asked = asyncio.Event(), asyncio.Event()
    bob_token = await login(client, "bob")

    async def token_provider() -> str:  # holds bob's reconnect until the test lets it go
        asked.set()
        await gate.wait()
        return bob_token

    alice, bob = await sdk("alice"), await sdk("bob", token_provider=token_provider)
    world_id = await make_world(client, alice)
    a_view, b_view = await alice.join(world_id), await bob.join(world_id)
    await a_view.edit(edits(a_view, 1))
    await b_view.wait_seq(1, TIMEOUT)
    b_events = b_view.events()
    server_session(client, bob.session_id).close_soon(CloseCode.GOING_AWAY)
    async with asyncio.timeout(TIMEOUT):
        await asked.wait()
    assert not bob.connected and not b_view.joined
    for n in range(missed):
        await a_view.edit(edits(a_view, n + 2))
    gate.set()
    resumed = await next_event(b_events, Resumed)
    return a_view, b_view, resumed
