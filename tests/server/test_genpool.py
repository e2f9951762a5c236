"""Generation in worker processes (server/genpool.py, `generation_processes`): the same worlds,
chunk for chunk and byte for byte, as generation in this process's threads."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.context import SERVICES
from server.generation import Chunk, Done, GenRequest, Started, stream_world
from tests.conftest import AppFactory, login

PROMPTS = ["a mystical forest with ancient trees and glowing mushrooms", "a busy downtown with skyscrapers and taxis"]


async def _generate(client: TestClient, prompt: str, budget: int, records: bool = True) -> list[Any]:
    services = client.app[SERVICES]
    await login(client, "gen")
    req = GenRequest(owner_id="gen", prompt=prompt, seed=11, max_instances=budget, records=records)
    return [ev async for ev in stream_world(services, req)]


def _shape(events: list[Any]) -> list[Any]:
    out: list[Any] = []
    for ev in events:
        if isinstance(ev, Started):
            out.append(("started", ev.header, ev.seed))
        elif isinstance(ev, Chunk):
            out.append(("chunk", ev.index, ev.first_ord, len(ev.records), ev.packed))
        else:
            assert isinstance(ev, Done)
            out.append(("done", ev.status, ev.instances, ev.chunks, ev.world["instance_count"], ev.world["status"]))
    return out


async def test_worker_processes_stream_the_same_worlds_as_threads(make_client: AppFactory) -> None:
    local = await make_client()
    pooled = await make_client(generation_processes=2)
    assert local.app[SERVICES].gen_workers is None and pooled.app[SERVICES].gen_workers is not None
    for prompt in PROMPTS:
        for budget in (300, 5000):
            a = _shape(await _generate(local, prompt, budget))
            b = _shape(await _generate(pooled, prompt, budget))
            assert a == b and a[-1][1] == "complete", (prompt, budget)
            assert sum(1 for item in a if item[0] == "chunk") > 1


async def test_records_are_sent_back_only_when_asked_for(make_client: AppFactory) -> None:
    pooled = await make_client(generation_processes=1)
    full = await _generate(pooled, PROMPTS[0], 600)
    lean = await _generate(pooled, PROMPTS[0], 600, records=False)
    full_chunks = [ev for ev in full if isinstance(ev, Chunk)]
    lean_chunks = [ev for ev in lean if isinstance(ev, Chunk)]
    assert [c.packed for c in full_chunks] == [c.packed for c in lean_chunks]
    assert all(len(c.records[0]) == 9 for c in full_chunks)
    assert all(c.records == [()] * len(c.records) for c in lean_chunks)
    assert [len(c.records) for c in full_chunks] == [len(c.records) for c in lean_chunks]


async def test_a_worker_that_dies_fails_its_generation_and_the_next_one_gets_a_new_worker(
        make_client: AppFactory) -> None:
    pooled = await make_client(generation_processes=1)
    workers = pooled.app[SERVICES].gen_workers
    assert workers is not None
    assert _shape(await _generate(pooled, PROMPTS[0], 300))[-1][1] == "complete"
    (process,) = workers._pools[0]._processes.values()  # type: ignore[union-attr]
    process.kill()
    process.join(10)
    with pytest.raises(BrokenProcessPool):
        await _generate(pooled, PROMPTS[0], 300)
    assert _shape(await _generate(pooled, PROMPTS[1], 300))[-1][1] == "complete"


def test_by_default_every_core_this_process_may_use_plans_and_one_core_plans_in_threads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from server.config import ConfigError, resolve
    from server.genpool import worker_count

    assert resolve(None, environ={})[0].generation_processes == -1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert worker_count(-1) == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert worker_count(-1) == 0  # one core: a worker would only take turns with the loop
    assert worker_count(0) == 0 and worker_count(2) == 2
    with pytest.raises(ConfigError, match="generation_processes"):
        resolve(None, environ={}, overrides={"generation_processes": -2})


def test_workers_of_a_killed_server_exit(tmp_path: Path) -> None:
    # SIGKILL (an out-of-memory kill) tells the workers nothing: each notices its server is gone.
    import os
    import time

    from tests.support.serve import ServerProcess, stop

    server = ServerProcess(tmp_path, generation_processes=2)
    try:
        workers = [p for p in _children(server.proc.pid) if "spawn_main" in _cmdline(p)]
        assert len(workers) == 2, server.output()
        server.proc.kill()
        server.proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)], "orphaned generation workers"
    finally:
        stop(server.proc, grace=0)
        for p in workers:
            if _alive(p):
                os.kill(p, 9)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"  # (a zombie has exited)
    except OSError:
        return False
