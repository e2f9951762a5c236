"""Generation on every core (issue 17 item 3): plans and chunk packing in worker processes.

In-process, a plan step runs in a thread that shares the event loop's interpreter (the GIL):
while prompts are planned, every socket, broadcast and REST call of the process waits its turn
for the interpreter. With `generation_processes = N` the plans live in N worker processes, one
interpreter each; the loop only sends a prompt and receives packed chunks (bytes, stored and
sent as they are: docs/protocol.md §6.1).

A plan is incremental and stateful (generator/stream.py `WorldPlan`: its filler is placed when
the first chunk beyond the first phase is asked for), so every step of one generation goes to
the process that holds its plan: each worker is a pool of one process, and a generation stays
on the worker it started on (the one free, or least busy, when it started). Steps wait for a
turn first, round-robin per user as in server/scheduler.py, a generation's first step before
the later steps of other generations: one step at a time on each worker, and one user's steps
on all workers but one at most, so that a worker is free for a newcomer while a user floods.

Each worker builds the generator's Catalog once per catalog version: a step names the version,
and a worker that does not have it answers `_NeedCatalog`; the records are then sent once.

The functions prefixed `_w_` run in the worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import multiprocessing
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .scheduler import FairTurns

log = logging.getLogger("immersiverse.genpool")

# A chunk as a worker returns it: (first_ord, records, packed). Records are [()] * n when the
# consumer only sends and stores packed chunks (their count is what it reads).
WireChunk = tuple[int, list[tuple[Any, ...]], bytes]


def worker_count(setting: int) -> int:
    """The worker processes `generation_processes` asks for: -1 is one per core this process may
    run on, when there are two or more (on one core, threads: a worker would only take turns
    with the loop for it)."""
    if setting >= 0:
        return setting
    try:
        cores = len(os.sched_getaffinity(0))  # a container's CPU set, not the host's
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return cores if cores >= 2 else 0


class GenerationWorkers:
    """N single-process pools, a turn per worker, generations pinned to the worker holding
    their plan."""

    def __init__(self, processes: int, gc_gen0_threshold: int = 0) -> None:
        self.processes = processes
        self._gc = gc_gen0_threshold
        self._pools = [_pool(self._gc) for _ in range(processes)]
        self._running = [0] * processes  # generations pinned to each worker
        # A worker takes one step at a time: turns are per worker, so a step waits only behind
        # steps on the worker that holds its plan (a generation's first step before the rest).
        self._turns = [FairTurns(1) for _ in range(processes)]
        # ... and one user's steps run on at most all workers but one at once, as in the thread
        # pool (server/scheduler.py): while a user floods, a worker is free for the others, and a
        # new generation starts on it (`open`).
        self._users = FairTurns(processes, per_user=max(1, processes - 1))
        self._keys = itertools.count(1)
        self._catalog: tuple[str, list[dict[str, Any]]] | None = None

    def set_catalog(self, version: str, records: list[dict[str, Any]]) -> None:
        """The catalog workers plan with (sent to a worker on its first step of this version)."""
        self._catalog = (version, records)

    async def warm_up(self) -> None:
        """Start every worker process, import the generator there and build the catalog set so
        far (seconds, once): the first prompts do not wait for it."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(pool, _w_ping) for pool in self._pools))
        if self._catalog is not None:
            await asyncio.gather(*(loop.run_in_executor(pool, _w_catalog, *self._catalog) for pool in self._pools))

    def open(self) -> RemotePlan:
        """A new generation's plan, on the worker that is free now, or has the fewest steps
        waiting, or the fewest generations."""
        slot = min(range(self.processes),
                   key=lambda s: (self._turns[s].busy, sum(self._turns[s].waiting.values()), self._running[s]))
        self._running[slot] += 1
        return RemotePlan(self, slot, f"g{next(self._keys)}")

    def _closed(self, slot: int) -> None:
        self._running[slot] -= 1

    async def _call(self, user: str, slot: int, fn: Callable[..., Any], *args: Any, first: bool = False) -> Any:
        loop = asyncio.get_running_loop()
        async with self._users.turn(user, first), self._turns[slot].turn(user, first):
            pool = self._pools[slot]
            try:
                try:
                    return await loop.run_in_executor(pool, fn, *args)
                except _NeedCatalog:
                    assert self._catalog is not None, "set_catalog before the first generation"
                    await loop.run_in_executor(pool, _w_catalog, *self._catalog)
                    return await loop.run_in_executor(pool, fn, *args)
            except BrokenProcessPool:
                # The worker died (killed, out of memory): the plans it held are gone, so their
                # generations fail (gen.done failed, world partial); later ones get a new worker.
                if self._pools[slot] is pool:
                    log.error("generation worker %d died; starting a new one", slot)
                    self._pools[slot] = _pool(self._gc)
                raise

    def shutdown(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=False, cancel_futures=True)


class RemotePlan:
    """One generation's plan, held by one worker process: what server/generation.py reads of a
    `WorldPlan` (`complete`, `planned`) after each step, and the steps."""

    def __init__(self, workers: GenerationWorkers, slot: int, key: str) -> None:
        self._workers, self._slot, self.key = workers, slot, key
        self.complete = False
        self.planned = 0
        # closed explicitly when the generation ends, or when this object is dropped on a way out
        # that did not (an exception before the stream's own clean-up)
        self.close = weakref.finalize(self, _forget, workers, slot, key)
        self.close.atexit = False  # at exit the workers go anyway

    async def start(self, user: str, prompt: str, seed: int, budget: int, world_type: str | None, size: int,
                    records: bool) -> tuple[dict[str, Any], list[WireChunk]]:
        """Plan the first phase; the first header and the first chunk."""
        assert self._workers._catalog is not None, "set_catalog before the first generation"
        header, chunks, self.complete, self.planned = await self._workers._call(
            user, self._slot, _w_start, self.key, self._workers._catalog[0], prompt, seed, budget, world_type, size,
            records, first=True)
        return header, chunks

    async def take(self, user: str, pos: int, n: int) -> list[WireChunk]:
        """At most `n` chunks from stream position `pos`."""
        chunks: list[WireChunk]
        chunks, self.complete, self.planned = await self._workers._call(user, self._slot, _w_take, self.key, pos, n)
        return chunks



def _pool(gc_gen0_threshold: int) -> ProcessPoolExecutor:
    # spawn: the server has threads (SQLite, executors); forking them is unsafe
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_w_init,
                               initargs=(gc_gen0_threshold,))


def _forget(workers: GenerationWorkers, slot: int, key: str) -> None:
    """Forget a plan in its worker (fire and forget: the worker runs it after any step queued)."""
    workers._closed(slot)
    try:
        workers._pools[slot].submit(_w_drop, key)
    except RuntimeError:  # the pool is shut down: the plan went with it
        pass


# -- in the worker processes ---------------------------------------------------------------------
class _NeedCatalog(Exception):
    """This worker has not built the step's catalog version yet."""


_catalogs: dict[str, Any] = {}
_plans: dict[str, tuple[Any, int, bool]] = {}  # key -> (WorldPlan, chunk size, records wanted)


WORKER_NICE = 10  # below the event loop's process: a core that both want goes to the loop first


ORPHAN_CHECK_S = 1.0


def _w_init(gc_gen0_threshold: int) -> None:
    """Plans are throughput work, sockets are latency work: on a machine whose cores the loop
    and the workers share, the kernel runs the loop first. The cyclic GC as the server tunes it
    (server/runner.py `tune_gc`): a plan allocates a few containers per instance. A worker
    whose server is gone (killed: no shutdown told it) exits within `ORPHAN_CHECK_S`."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    if gc_gen0_threshold:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gc_gen0_threshold, gen1, gen2)
    threading.Thread(target=_w_watch_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()


def _w_watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)  # the server is gone: so are the plans it asked for


def _w_ping() -> bool:
    import generator  # noqa: F401  (the import is the warm-up)

    gc.collect()
    gc.freeze()  # the generator's modules and tables never become garbage: out of the GC's scans
    return True


def _w_catalog(version: str, records: list[dict[str, Any]]) -> None:
    from generator import Catalog

    _catalogs.clear()  # one version at a time
    _catalogs[version] = Catalog.from_records(records, version=version)


def _w_start(key: str, version: str, prompt: str, seed: int, budget: int, world_type: str | None, size: int,
             records: bool) -> tuple[dict[str, Any], list[WireChunk], bool, int]:
    from generator import plan

    catalog = _catalogs.get(version)
    if catalog is None:
        raise _NeedCatalog(version)
    wp = plan(prompt, seed=seed, catalog=catalog, budget=budget, world_type=world_type)
    _plans[key] = (wp, size, records)
    return wp.first_header.to_dict(), plan_chunks(wp, 0, 1, size, records), wp.complete, wp.planned


def _w_take(key: str, pos: int, n: int) -> tuple[list[WireChunk], bool, int]:
    wp, size, records = _plans[key]
    return plan_chunks(wp, pos, n, size, records), wp.complete, wp.planned


def _w_drop(key: str) -> None:
    _plans.pop(key, None)


def plan_chunks(wp: Any, pos: int, n: int, size: int, records: bool = True) -> list[WireChunk]:
    """At most n chunks of a plan (generator WorldPlan) from stream position `pos`: each
    `(first_ord, records, packed)`, the packed wire array made once. The plan is incremental
    (docs/generator.md): its first phase's chunks are ready before the filler is placed, which
    the first chunk after them places (`WorldPlan.span`). In a thread (server/generation.py)
    and in a worker process alike; without `records` only their count comes back."""
    from records import pack_generated

    out: list[WireChunk] = []
    while len(out) < n and (span := wp.span(pos, size)) is not None:
        recs = wp.records(*span)
        out.append((pos, recs if records else [()] * len(recs), pack_generated(recs)))
        pos = span[1]
    return out
