"""Fair scheduling of generation work: one queue per user, served round-robin, in front of the
generator's thread pool and of the store's writes.

Planning a world and packing its chunks is CPU work that runs off the event loop in a small
pool (the GIL caps what more threads would give); storing its chunks goes through one writer
(SQLite) or a small pool of connections. Served first come, first served, one user with many
generations queued puts every other user's first chunk behind all of them (issue 15, "noisy
neighbour"). Here a generation step waits for a *turn*: each user's waiting steps are in that
user's own queue, and a freed slot goes to the next waiting user in turn, so a user who just
arrived waits for at most one step per slot, whatever others have queued (bench/noisy.py
measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
# CPU-bound planning runs here, never on the loop. Two threads: the GIL caps the gain, but
# one huge world must not queue every other generation behind it.
GENERATOR_WORKERS = 2
GENERATOR_POOL = ThreadPoolExecutor(max_workers=GENERATOR_WORKERS, thread_name_prefix="generator")


class FairTurns:
    """At most `slots` holders at once, and at most `per_user` of them one user's; waiters are
    served one user at a time, round-robin. With `per_user` below `slots`, a slot is always
    free for a user who arrives while another keeps every slot it may have busy.

    A generation's *first* step (its first phase and first chunk: the time to first instance)
    waits in a lane of its own, served before every later step (the filler and chunks of
    worlds already on their way): a new prompt waits for a free slot, not behind the rest of
    every world being streamed. A user's first steps are bounded by the generations the user
    may run at once, so later steps always get their turn."""

    def __init__(self, slots: int, per_user: int | None = None) -> None:
        self._slots = slots
        self._per_user = per_user or slots
        self._busy = 0
        self._held: dict[str, int] = {}
        # per lane (first steps, then later steps), each user's waiters; insertion order = turn order
        self._lanes: tuple[dict[str, deque[asyncio.Future[None]]], ...] = ({}, {})

    @property
    def busy(self) -> int:
        """Slots held."""
        return self._busy

    @property
    def waiting(self) -> dict[str, int]:
        """Steps waiting per user (for tests and metrics)."""
        out: dict[str, int] = {}
        for lane in self._lanes:
            for user, q in lane.items():
                out[user] = out.get(user, 0) + len(q)
        return out

    @contextlib.asynccontextmanager
    async def turn(self, user: str, first: bool = False) -> AsyncIterator[None]:
        """Hold a slot for one step of `user`'s; `first`: the first step of a generation."""
        lane = self._lanes[0 if first else 1]
        # (a slot is free only while every waiting user holds all it may: no waiter is passed)
        if self._busy < self._slots and self._held.get(user, 0) < self._per_user and user not in lane:
            self._take(user)
        else:
            granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            lane.setdefault(user, deque()).append(granted)
            try:
                await granted  # _grant took the slot for us
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self._release(user)  # it was handed a slot just as it was cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release(user)

    def _take(self, user: str) -> None:
        self._busy += 1
        self._held[user] = self._held.get(user, 0) + 1

    def _release(self, user: str) -> None:
        held = self._held[user] - 1
        if held:
            self._held[user] = held
        else:
            del self._held[user]
        self._busy -= 1
        self._grant()

    def _grant(self) -> None:
        """Give free slots to the first waiter of each next user in turn that may hold one more,
        first steps before later ones."""
        for queues in self._lanes:
            for user in list(queues):
                if self._busy >= self._slots:
                    return
                if self._held.get(user, 0) >= self._per_user:
                    continue
                queue = queues.pop(user)
                while queue:
                    granted = queue.popleft()
                    if not granted.done():  # (a cancelled waiter is skipped)
                        self._take(user)
                        granted.set_result(None)
                        break
                if queue:  # to the back of the line: every other waiting user goes first
                    queues[user] = queue


class FairScheduler:
    """Turns for the generator pool (CPU) and for the store's generation writes."""

    def __init__(self, store_slots: int, pool: ThreadPoolExecutor = GENERATOR_POOL,
                 workers: int = GENERATOR_WORKERS) -> None:
        self._pool = pool
        # One user holds at most one worker less than all: a newcomer's plan starts at once.
        self.cpu = FairTurns(workers, per_user=max(1, workers - 1))
        self.store = FairTurns(store_slots)

    async def run(self, user: str, fn: Callable[..., T], *args: Any, first: bool = False) -> T:
        """Run `fn(*args)` in the generator pool when `user`'s turn comes (`first`: the first
        step of a generation, FairTurns); its result."""
        async with self.cpu.turn(user, first):
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
