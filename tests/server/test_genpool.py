"""Generation in worker processes (server/genpool.py, `generation_processes`): the same worlds,
chunk for chunk and byte for byte, as generation in this process's threads."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
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
