"""Real server processes sharing PostgreSQL and Redis: `cluster` starts node "a" and node
"b" (`immersiverse serve` on two free ports of 127.0.0.1) for the module.

Isolation: the nodes log in to the `test` database as a role created for this run, whose
search_path is a schema of the same name, so their tables never meet other tests' (the
store suite resets `public`). Role and schema are dropped afterwards. Their Redis is db 15;
world ids are random, and presence keys expire by themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import msgpack
import pytest

from tests.conftest import REDIS_URL, TIMEOUT, require_service
from tests.session.peer import Peer
from tests.support.serve import SERVE, free_port, get_json, stop, wait_started

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PRESENCE_TTL_S = 1.5
START_TIMEOUT_S = 30.0


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def run_admin(*statements: str) -> None:
    import asyncio

    asyncio.run(_admin(*statements))


@contextlib.contextmanager
def private_schema() -> Iterator[str]:
    """A role + schema of the same fresh name in database `test`; yields its async URL."""
    name = f"iv_mn_{secrets.token_hex(4)}"
    run_admin(f"CREATE ROLE {name} LOGIN", f"CREATE SCHEMA {name} AUTHORIZATION {name}",
              f"ALTER ROLE {name} SET search_path = {name}")
    try:
        yield f"postgresql+asyncpg://{name}@127.0.0.1:5432/test"
    finally:
        run_admin(f"DROP SCHEMA IF EXISTS {name} CASCADE", f"DROP OWNED BY {name}", f"DROP ROLE IF EXISTS {name}")


@dataclass
class Node:
    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 — the child owns it
        self.proc = subprocess.Popen([*SERVE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                     env=self.env, cwd=self.log_path.parent, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def ready(self) -> dict[str, Any] | None:
        answer = get_json(f"{self.http}/ready")
        return answer[1] if answer is not None and isinstance(answer[1], dict) else None

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until /ready says ready with its broker connected."""
        def up() -> bool:
            body = self.ready()
            return bool(body and body.get("status") == "ready" and body.get("broker") == "ok")
        assert self.proc is not None
        wait_started(self.proc, up, self.log_tail, timeout)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye, nothing flushed that was not already durable."""
        if self.proc is not None:
            stop(self.proc, grace=0)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, grace=TIMEOUT)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    db_url: str
    nodes: dict[str, Node]

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_service("PostgreSQL", 5432)
    require_service("Redis", 6379)
    workdir = tmp_path_factory.mktemp("cluster")
    with private_schema() as db_url:
        base = {k: v for k, v in os.environ.items() if not k.startswith("IMMERSIVERSE_")}
        base.update({"DATABASE_URL": db_url, "SECRET_KEY": secrets.token_hex(32),
                     "IMMERSIVERSE_BROKER": "redis", "IMMERSIVERSE_REDIS_URL": REDIS_URL,
                     "IMMERSIVERSE_PRESENCE_TTL_S": str(PRESENCE_TTL_S),
                     "IMMERSIVERSE_LOG_LEVEL": "INFO", "IMMERSIVERSE_DRAIN_TIMEOUT_S": "2",
                     "IMMERSIVERSE_GENERATION_PROCESSES": "0"})
        nodes = {n: Node(n, {**base, "IMMERSIVERSE_NODE_ID": n}, workdir / f"node-{n}.log") for n in ("a", "b")}
        try:
            for node in nodes.values():  # at once: the migration lock (env.py) serialises them
                node.start()
            for node in nodes.values():
                node.wait_ready()
            yield Cluster(db_url, nodes)
        finally:
            for node in nodes.values():
                node.stop()


# -- clients ------------------------------------------------------------------------------------
@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        yield session


async def login(http: aiohttp.ClientSession, node: Node, user: str) -> str:
    async with http.post(f"{node.http}/api/v1/auth/login", json={"user_id": user}) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["token"])


async def public_id(http: aiohttp.ClientSession, node: Node, user: str) -> str:
    """How other members see `user` (members and op authors carry public ids, not account ids)."""
    async with http.post(f"{node.http}/api/v1/auth/login", json={"user_id": user}) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["public_id"])


async def connect(http: aiohttp.ClientSession, node: Node, user: str) -> Peer:
    token = await login(http, node, user)
    ws = await http.ws_connect(f"{node.http}/ws", headers={"Authorization": f"Bearer {token}"})
    peer = Peer(ws)  # type: ignore[arg-type]
    welcome = await peer.recv()
    assert welcome["type"] == "welcome", welcome
    return peer


class View:
    """A client's copy of one world, built from joined/snapshot/op/edit.ack frames."""

    def __init__(self, world_id: str) -> None:
        self.world_id = world_id
        self.seq = 0
        self.seqs: list[int] = []  # every seq applied, in order
        self.instances: dict[str, dict[str, Any]] = {}

    def feed(self, frame: dict[str, Any]) -> None:
        if frame.get("world_id") != self.world_id:
            return
        kind = frame.get("type")
        if kind == "joined" and frame["mode"] == "snapshot":
            self.seq = frame["seq"]  # (replay: the ops since our seq follow, up to joined.seq)
            self.instances.clear()
        elif kind == "snapshot":
            for inst in frame["instances"]:
                self.instances[inst["id"]] = dict(inst)
        elif kind == "op":
            self._applied(frame["seq"])
            for op in frame["ops"]:
                self.apply(op)

    def own(self, ack: dict[str, Any], ops: list[dict[str, Any]]) -> None:
        """An edit.ack of our own batch: apply what the server says it applied."""
        if ack["seq"] <= self.seq:
            return  # nothing applied (seq did not advance)
        self._applied(ack["seq"])
        for op, result in zip(ops, ack["results"], strict=True):
            if result["outcome"] == "applied":
                self.apply({**op, "id": result["id"]})

    def _applied(self, seq: int) -> None:
        assert seq == self.seq + 1, f"seq {seq} after {self.seq}: a gap or a duplicate"
        self.seq = seq
        self.seqs.append(seq)

    def apply(self, op: dict[str, Any]) -> None:
        kind = op["op"]
        if kind == "add":
            self.instances[op["id"]] = {"id": op["id"], "prefab_id": op["prefab_id"], "pos": list(op["pos"]),
                                        "props": dict(op.get("props") or {})}
        elif kind == "remove":
            self.instances.pop(op["id"], None)
        elif kind == "move" and op["id"] in self.instances:
            if "pos" in op:
                self.instances[op["id"]]["pos"] = list(op["pos"])
        elif kind == "set" and op["id"] in self.instances:
            props = self.instances[op["id"]].setdefault("props", {})
            for key, value in op["props"].items():
                if value is None:
                    props.pop(key, None)
                else:
                    props[key] = value

    def state(self) -> dict[str, tuple[str, list[float], dict[str, Any]]]:
        return {i: (v["prefab_id"], [round(x, 4) for x in v["pos"]], v.get("props") or {})
                for i, v in self.instances.items()}


async def db_state(db_url: str, world_id: str) -> tuple[int, dict[str, tuple[str, list[float], dict[str, Any]]]]:
    """The world's seq and instances as stored, in `View.state()` form."""
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        seq = await conn.fetchval("SELECT seq FROM worlds WHERE id = $1", world_id)
        rows = await conn.fetch("SELECT id, prefab_id, px, py, pz, props FROM world_instances WHERE world_id = $1",
                                world_id)
        chunks = await conn.fetch("SELECT data FROM world_chunks WHERE world_id = $1", world_id)
    finally:
        await conn.close()
    state = {}
    for c in chunks:  # generated instances not yet expanded by an edit (persistence/worlds.py)
        for w in msgpack.unpackb(c["data"]):
            state[w["id"]] = (w["prefab_id"], [round(x, 4) for x in w["pos"]], w["props"])
    for r in rows:
        props = r["props"] if isinstance(r["props"], dict) else json.loads(r["props"] or "{}")
        state[r["id"]] = (r["prefab_id"], [round(r["px"], 4), round(r["py"], 4), round(r["pz"], 4)], props)
    return int(seq), state


async def db_fetch(db_url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
