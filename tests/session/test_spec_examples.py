"""Every server→client JSON example of docs/protocol.md has the shape of frames a real server
sends: the same keys at every level and the same msgpack type for every value (an int is
not a float, a Vector3 is an array). The scenario below makes the server send each kind of
frame the examples show; tests/protocol/test_protocol_docs.py checks them against the codec.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgpack
from aiohttp.test_utils import TestClient

from tests.conftest import AppFactory, bearer, login
from tests.session.peer import Connect, Peer, rid
from tests.session.test_worlds import join, join_in_one_tick

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
JSON_BLOCK = re.compile(r"^```json (c2s|s2c|s2c-value)( [a-z_]+)?\n(.*?)\n```", re.MULTILINE | re.DOTALL)
EXAMPLES = [json.loads(body) for d, _, body in JSON_BLOCK.findall(DOC) if d == "s2c"]
CLIENT_EXAMPLES = {json.loads(body)["type"]: json.loads(body) for d, _, body in JSON_BLOCK.findall(DOC)
                   if d == "c2s"}


def mismatch(example: Any, real: Any, path: str = "$") -> str | None:
    """Why `example` does not have the shape of `real`, or None when it does."""
    if isinstance(example, dict) and isinstance(real, dict):
        if set(example) != set(real):
            return f"{path}: keys {sorted(set(example) ^ set(real))} differ"
        for key in example:
            if (why := mismatch(example[key], real[key], f"{path}.{key}")) is not None:
                return why
        return None
    if isinstance(example, list) and isinstance(real, list):
        if not real:
            return None  # nothing to compare with
        for i, item in enumerate(example):  # each item like some item of the real list
            whys = [mismatch(item, other, f"{path}[{i}]") for other in real]
            if all(whys):
                return whys[0]
        return None
    if type(example) is not type(real):
        return f"{path}: {type(example).__name__} in the doc, {type(real).__name__} from the server"
    return None


async def scenario(client: TestClient, connect: Connect, make_client: AppFactory) -> list[dict[str, Any]]:
    """Frames a real server sends for the requests the doc's examples show."""
    ada = await connect("u_42")
    gen = dict(CLIENT_EXAMPLES["prompt"])
    start, _, done = await ada.generate(gen.pop("prompt"), **{k: v for k, v in gen.items() if k not in ("type", "rid")})
    world_id = start["world_id"]
    token = await login(client, "u_42")
    await login(client, "u_7")  # a world is shared with an account that exists
    await client.post(f"/api/v1/worlds/{world_id}/share", headers=bearer(token),
                      json={"user_id": "u_7", "role": "editor"})
    await ada.request("ping")
    await ada.request("auth.refresh", token=await login(client, "u_42"))
    await ada.request("prompt", prompt="")
    await ada.request("telemetry", events=CLIENT_EXAMPLES["telemetry"]["events"])
    _, view = await join(ada, world_id)
    lin = await connect("u_7")
    joined, _ = await join(lin, world_id, since_seq=0)
    await ada.until_type("presence")
    await join_in_one_tick(client, world_id, await connect("u_42"), await connect("u_42"))
    await ada.until(lambda f: f.get("type") == "presence" and len(f.get("members", ())) == 2)  # one tick's joins
    await lin.send(**{**CLIENT_EXAMPLES["presence"], "world_id": world_id})
    await ada.until(lambda f: f.get("type") == "presence" and f.get("event") == "update")
    ops = CLIENT_EXAMPLES["edit"]["ops"]
    ids = list(view.instances)
    ops = [ops[0], {**ops[1], "id": ids[0]}, {**ops[2], "id": "gone"}, {**ops[3], "id": "gone"}]
    await ada.request("edit", world_id=world_id, ops=ops)
    await lin.until_type("op")
    await lin.request("leave", world_id=world_id)
    await ada.request("cancel", target=999)
    r = rid()
    await ada.send(type="prompt", rid=r, prompt="a large city with towers", max_instances=5000)
    await ada.until(lambda f: f.get("rid") == r and f.get("type") == "gen.chunk")
    await ada.request("cancel", target=r)
    await client.delete(f"/api/v1/worlds/{world_id}", headers=bearer(token))
    await ada.until(lambda f: f.get("type") == "error" and f.get("world_id") == world_id)
    # bye for an unsupported version, and for an idle session
    ws = await client.ws_connect("/ws")
    await ws.send_bytes(msgpack.packb({"type": "hello", "v": 9, "token": token}))
    frames = ada.seen + lin.seen + [msgpack.unpackb((await ws.receive()).data)]
    idle = await make_client(idle_timeout_s=0.2)
    quiet = Peer(await idle.ws_connect("/ws", headers=bearer(await login(idle, "u_42"))))
    await quiet.closed()
    return frames + quiet.seen


async def test_every_server_example_has_the_shape_of_a_real_frame(client: TestClient, connect: Connect,
                                                                  make_client: AppFactory) -> None:
    frames = await scenario(client, connect, make_client)
    problems = []
    for example in EXAMPLES:
        real = [f for f in frames if f["type"] == example["type"]]
        whys = [mismatch(example, f) for f in real] or ["the scenario produced no such frame"]
        if all(whys):
            problems.append(f"{example['type']}: {min(whys, key=len)}")
    assert problems == []


async def test_the_limits_table_has_the_default_server_values(connect: Connect) -> None:
    peer = await connect()
    section = DOC.split("### 4.6 Limits", 1)[1].split("## 5.", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([0-9.]+) \|", section, re.MULTILINE)
    assert {k: json.loads(v) for k, v in rows} == peer.welcome["limits"]  # type: ignore[attr-defined]
