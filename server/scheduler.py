"""Fair scheduling of generation work: one queue per user, served round-robin, in front of
the generator's thread pool.

Planning a world and packing its chunks is CPU work that runs off the event loop in a small
pool (the GIL caps what more threads would give). A plain pool serves jobs first come, first
served, so one user with many generations queued puts every other user's first chunk behind all
of them (issue: "noisy neighbour"). Here each user's jobs wait in that user's own queue and a
free worker takes the next job of the next user in turn: a user who just arrived waits for at
most one job per worker, whatever others have queued (bench/noisy.py measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
# CPU-bound planning runs here, never on the loop. Two threads: the GIL caps the gain, but
# one huge world must not queue every other generation behind it.
GENERATOR_WORKERS = 2
GENERATOR_POOL = ThreadPoolExecutor(max_workers=GENERATOR_WORKERS, thread_name_prefix="generator")
_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class FairScheduler:
    def __init__(self, pool: ThreadPoolExecutor = GENERATOR_POOL, workers: int = GENERATOR_WORKERS) -> None:
        self._pool = pool
        self._workers = workers
        self._running = 0
        self._queues: dict[str, deque[_Job]] = {}  # insertion order is the round-robin order

    @property
    def waiting(self) -> dict[str, int]:
        """Jobs waiting per user (for tests and metrics)."""
        return {user: len(q) for user, q in self._queues.items()}

    async def run(self, user: str, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in the pool when `user`'s turn comes; its result."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(user, deque()).append((fn, args, fut))
        self._pump()
        return await fut

    def _pump(self) -> None:
        while self._running < self._workers and self._queues:
            user, queue = next(iter(self._queues.items()))
            fn, args, fut = queue.popleft()
            del self._queues[user]
            if queue:  # to the back of the line: every other waiting user goes first
                self._queues[user] = queue
            if fut.done():  # its awaiter was cancelled while it waited
                continue
            self._running += 1
            done = self._pool.submit(fn, *args)
            done.add_done_callback(functools.partial(self._from_pool, fut))

    def _from_pool(self, fut: asyncio.Future[Any], done: Future[Any]) -> None:
        """In a pool thread: hand the result to `fut`'s loop, unless that loop has closed."""
        with contextlib.suppress(RuntimeError):
            fut.get_loop().call_soon_threadsafe(self._finished, done, fut)

    def _finished(self, done: Future[Any], fut: asyncio.Future[Any]) -> None:
        self._running -= 1
        if not fut.done():
            exc = done.exception()
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(done.result())
        self._pump()

