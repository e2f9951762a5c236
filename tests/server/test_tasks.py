"""server/tasks.py TaskSet: background tasks of the hub, the Redis broker and each writer are
held until they end, their failures logged, and cancelled when their owner closes."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from server.tasks import TaskSet

log = logging.getLogger("immersiverse.test-tasks")


async def test_a_failing_task_is_logged_with_its_exception_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet(log, "owner")

    async def fail() -> None:
        raise RuntimeError("boom")

    task = tasks.spawn(fail(), "failing")
    await asyncio.wait([task])
    await asyncio.sleep(0)  # the done callback runs on the next loop turn
    assert len(tasks) == 0
    failed = [r for r in caplog.records if r.name == log.name and r.levelno == logging.ERROR]
    assert len(failed) == 1 and "owner:failing" in failed[0].getMessage()
    assert failed[0].exc_info is not None and str(failed[0].exc_info[1]) == "boom"


async def test_a_task_nobody_else_references_survives_garbage_collection() -> None:
    tasks = TaskSet(log, "owner")
    release = asyncio.Event()
    finished = asyncio.Event()

    async def wait_then_finish() -> None:
        await release.wait()
        finished.set()

    tasks.spawn(wait_then_finish(), "held")  # the handle is dropped here
    await asyncio.sleep(0)
    gc.collect()
    release.set()
    async with asyncio.timeout(5):
        await finished.wait()


async def test_close_cancels_what_still_runs_and_waits_for_it() -> None:
    tasks = TaskSet(log, "owner")
    task = tasks.spawn(asyncio.sleep(3600), "sleeper")
    await tasks.close()
    assert task.cancelled() and len(tasks) == 0
