"""Client-side helpers of the multi-node tests: make a world, join or resume it into a View,
edit it, and read until a seq."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from tests.conftest import TIMEOUT
from tests.multinode.conftest import View
from tests.session.peer import Peer, rid


async def new_world(owner: Peer) -> tuple[str, dict[str, Any]]:
    """A small generated world; returns its id and one of its instances (a valid prefab and
    a position inside the world's bounds, for edits)."""
    start, chunks, done = await owner.generate("a forest with rocks", seed=secrets.randbelow(10_000),
                                               max_instances=40)
    assert done["type"] == "gen.done", done
    return start["world_id"], chunks[0]["instances"][0]


async def join(peer: Peer, world_id: str, resume: View | None = None) -> tuple[View, dict[str, Any]]:
    """join (with since_seq when resuming `resume`), then read the snapshot or the replayed
    ops into a View (a copy of `resume` carried forward)."""
    r = rid()
    fields: dict[str, Any] = {"world_id": world_id}
    view = View(world_id)
    if resume is not None:
        fields["since_seq"] = resume.seq
        view.seq, view.instances = resume.seq, {k: dict(v) for k, v in resume.instances.items()}
    await peer.send(type="join", rid=r, **fields)
    joined = await peer.until(lambda f: f.get("rid") == r)
    assert joined["type"] == "joined", joined
    view.feed(joined)
    if joined["mode"] == "snapshot":
        while True:
            frame = await peer.until(lambda f: f.get("type") == "snapshot" and f.get("rid") == r)
            view.feed(frame)
            if frame["last"]:
                break
    else:
        while view.seq < joined["seq"]:
            view.feed(await peer.until(lambda f: f.get("type") == "op"))
    assert view.seq == joined["seq"]
    return view, joined


def add_op(template: dict[str, Any], n: int, tag: str) -> dict[str, Any]:
    return {"op": "add", "prefab_id": template["prefab_id"], "pos": list(template["pos"]),
            "id": f"{tag}{n}", "props": {"n": n, "by": tag}}


async def edit(peer: Peer, view: View, world_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Send one edit and wait for its ack, applying ops of others that arrive first."""
    r = rid()
    await peer.send(type="edit", rid=r, world_id=world_id, ops=ops)
    while True:
        frame = await peer.recv()
        if frame.get("rid") == r:
            assert frame["type"] == "edit.ack", frame
            view.own(frame, ops)
            return frame
        view.feed(frame)


async def read_sent(peer: Peer, view: View) -> None:
    """Feed `view` every frame the server had sent `peer` before it answered a ping: one socket
    delivers in order, so the pong comes after them."""
    r = rid()
    await peer.send(type="ping", rid=r)
    async with asyncio.timeout(TIMEOUT):
        while (frame := await peer.recv()).get("rid") != r:
            view.feed(frame)


async def drain_until(peer: Peer, view: View, seq: int) -> None:
    async with asyncio.timeout(TIMEOUT):
        while view.seq < seq:
            view.feed(await peer.recv())
