"""Fault fixtures of the multi-node tests: a private PostgreSQL schema, a TCP proxy in front
of PostgreSQL that a test cuts and restores (an outage as one node sees it, without touching
the PostgreSQL other tests share), and real `immersiverse serve` nodes started on them."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.broker.proxy import Passes, Proxy
from tests.conftest import REDIS_URL, require_service
from tests.multinode.conftest import PRESENCE_TTL_S, Node, _admin

PG_PORT = 5432


@pytest.fixture
async def pg_role() -> AsyncIterator[str]:
    """A role + schema of one fresh name in database `test`; yields the name."""
    require_service("PostgreSQL", PG_PORT)
    name = f"iv_mn_{secrets.token_hex(4)}"
    await _admin(f"CREATE ROLE {name} LOGIN", f"CREATE SCHEMA {name} AUTHORIZATION {name}",
                 f"ALTER ROLE {name} SET search_path = {name}")
    yield name
    await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'",
                 f"DROP SCHEMA IF EXISTS {name} CASCADE", f"DROP OWNED BY {name}", f"DROP ROLE IF EXISTS {name}")


@pytest.fixture
async def pg_proxy() -> AsyncIterator[Proxy]:
    """A proxy to PostgreSQL that the test stops (connections cut, new ones refused) and starts."""
    p = Proxy(PG_PORT)
    await p.start()
    yield p
    await p.stop()


def db_url(role: str, port: int = PG_PORT) -> str:
    return f"postgresql+asyncpg://{role}@127.0.0.1:{port}/test"


Spawn = Callable[..., Awaitable[Node]]
# The transaction statements asyncpg sends as simple queries ("BEGIN ISOLATION LEVEL READ
# COMMITTED;" begins one: whole words only).
_TX_WORD = re.compile(rb"\b(BEGIN|COMMIT|ROLLBACK)\b")


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    """`await spawn(name, database_url, **settings)`: a started, ready node; all are stopped
    (SIGTERM, then SIGKILL) at the end."""
    nodes: list[Node] = []
    secret = secrets.token_hex(32)

    async def start(name: str, database_url: str, *, redis: bool = True, **settings: object) -> Node:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMMERSIVERSE_")}
        env.update({"DATABASE_URL": database_url, "SECRET_KEY": secret, "IMMERSIVERSE_NODE_ID": name,
                    "IMMERSIVERSE_LOG_LEVEL": "INFO", "IMMERSIVERSE_DRAIN_TIMEOUT_S": "2",
                    "IMMERSIVERSE_PRESENCE_TTL_S": str(PRESENCE_TTL_S)})
        if redis:
            env.update({"IMMERSIVERSE_BROKER": "redis", "IMMERSIVERSE_REDIS_URL": REDIS_URL})
        env.update({f"IMMERSIVERSE_{k.upper()}": str(v) for k, v in settings.items()})
        node = Node(name, env, tmp_path / f"node-{name}.log")
        nodes.append(node)
        node.start()
        # wait_ready blocks (urllib, sleep): in a thread, so a proxy on this loop keeps serving
        await asyncio.to_thread(node.wait_ready)
        return node

    yield start
    for node in nodes:
        await asyncio.to_thread(node.stop)


class CommitCutter(Proxy):
    """A PostgreSQL proxy that cuts one transaction. Armed with a marker (bytes that only the
    transaction under test sends, e.g. a token in an edit's props), the next COMMIT of a
    transaction that sent the marker reaches PostgreSQL and is committed, but its reply is
    dropped and the client's connection cut: "the connection died during COMMIT". Armed with
    `before=True`, the statement carrying the marker is never sent and the connection dies
    inside the open transaction, before it could commit. A marker seen outside a transaction
    (BEGIN … COMMIT/ROLLBACK) is ignored: only a transaction is cut."""

    def __init__(self, target_port: int = PG_PORT) -> None:
        super().__init__(target_port)
        self.marker: bytes | None = None
        self.before = False
        self.cuts = 0

    def arm(self, marker: bytes, *, before: bool = False) -> None:
        self.marker, self.before = marker, before

    def _fire(self) -> None:
        self.marker = None
        self.cuts += 1

    def pipes(self) -> tuple[Passes, Passes]:
        tx = {"open": False, "marked": False, "cut": False}  # this connection's transaction

        def upward(data: bytes) -> bool:
            words = _TX_WORD.findall(data)  # in order: "BEGIN …; SELECT …" can share a chunk
            if b"BEGIN" in words:
                tx["open"] = True
            if tx["open"] and self.marker is not None and self.marker in data:
                if self.before:
                    self._fire()
                    return False
                tx["marked"] = True
            if b"COMMIT" in words and tx["marked"] and self.marker is not None:
                tx["cut"] = True
                self._fire()
            if words and words[-1] != b"BEGIN":
                tx["open"] = tx["marked"] = False
            return True

        def downward(data: bytes) -> bool:
            return not tx["cut"]  # PostgreSQL has answered the COMMIT: it is durable; drop the answer

        return upward, downward


@pytest.fixture
async def commit_cutter() -> AsyncIterator[CommitCutter]:
    p = CommitCutter()
    await p.start()
    yield p
    await p.stop()
