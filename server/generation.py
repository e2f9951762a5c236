"""Generation as the server runs it: plan and chunks off the event loop, persisted in order.

`stream_world` is an async generator shared by the WebSocket session and the REST
fallback. It writes the world row (status `generating`) before the first chunk, appends
instances in stream order, and marks the world `complete` — or `partial` when cancelled
or abandoned — before it yields the final `Done`. A consumer that stops iterating (client
gone) leaves a consistent prefix: see docs/protocol.md, "Partial worlds".
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from persistence.errors import LeaseLost
from protocol.codes import ErrorCode

from .context import Services
from .genpool import RemotePlan, plan_chunks
from .leases import GenerationLeases, lease_until
from .quotas import Admission, GenerationRefused

__all__ = ["Admission", "Chunk", "Done", "GenerationRefused", "GenRequest", "Started", "admit", "stream_world"]
_PERSIST_GROUP_INSTANCES = 4096  # instances per store transaction after the first chunk


@dataclass(frozen=True, slots=True)
class GenRequest:
    owner_id: str
    prompt: str
    world_type: str | None = None
    seed: int | None = None
    max_instances: int | None = None
    chunk_size: int = 128
    # False: chunks carry [()] per instance instead of its record (a consumer that only sends and
    # stores `packed` and counts): worker processes then send no records back (server/genpool.py)
    records: bool = True


@dataclass(slots=True)
class Started:
    world_id: str
    header: dict[str, Any]
    seed: int


@dataclass(slots=True)
class Chunk:
    index: int
    records: list[tuple[Any, ...]]  # generator WorldPlan.records: (id, prefab_id, type, x, y, z, rot, scale, props)
    first_ord: int  # stream position of records[0]
    packed: bytes  # msgpack array of the wire instances (docs/protocol.md §6.1): stored and sent as is


@dataclass(slots=True)
class Done:
    world_id: str
    status: str  # complete | cancelled | partial (another node swept the world: its lease expired)
    instances: int
    chunks: int
    plan_ms: float
    total_ms: float
    warnings: list[str] = field(default_factory=list)
    world: dict[str, Any] = field(default_factory=dict)  # the world row's values as stored at the end


def _cancelled(cancel: asyncio.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def budget_for(services: Services, requested: int | None) -> int:
    budget = requested or services.settings.default_instances
    return max(10, min(budget, services.settings.max_instances))


def admit(services: Services, owner_id: str, requested: int | None) -> Admission:
    """Reserve the user's budget for one generation (server/quotas.py) or raise
    GenerationRefused. What the user has stored is checked by `stream_world`, beside the plan.
    The caller releases the Admission when the generation ends, however it ends."""
    return services.quotas.admit(owner_id, budget_for(services, requested))


async def check_stored(services: Services, owner_id: str) -> None:
    """The user's worlds and stored bytes against their limits; GenerationRefused names the limit."""
    s = services.settings
    owned, stored = await services.store.worlds.usage(owner_id)
    if owned >= s.max_worlds_per_user:
        raise GenerationRefused(ErrorCode.LIMIT_EXCEEDED,
                                f"you own {owned} worlds; the limit is {s.max_worlds_per_user}")
    if stored >= s.max_stored_bytes_per_user:
        raise GenerationRefused(ErrorCode.LIMIT_EXCEEDED,
                                f"your worlds store {stored} bytes; the limit is {s.max_stored_bytes_per_user} "
                                "(delete worlds to make room)")


async def stream_world(services: Services, req: GenRequest, cancel: asyncio.Event | None = None, *,
                       leases: GenerationLeases | None = None) -> AsyncGenerator[Started | Chunk | Done, None]:
    """Started, then Chunk after Chunk, then Done (after everything is durable). The world is
    leased to this node while it generates when `leases` is given (server/leases.py)."""
    from generator import plan

    run = services.scheduler.run  # every CPU step and store write waits for this user's turn
    store_turn = services.scheduler.store.turn  # (server/scheduler.py)
    user = req.owner_id
    started = time.perf_counter()
    seed = req.seed if req.seed is not None else secrets.randbits(31)
    catalog = services.catalog.generator_catalog()
    size = max(1, req.chunk_size)

    def take(wp: Any, first: int, pos: int, n: int) -> list[Chunk]:
        """Chunks `first`… (at most n), from stream position `pos` (genpool.plan_chunks)."""
        chunks = plan_chunks(wp, pos, n, size)
        return [Chunk(first + i, recs, at, packed) for i, (at, recs, packed) in enumerate(chunks)]

    def prepare() -> tuple[Any, dict[str, Any], list[Chunk]]:
        wp = plan(req.prompt, seed=seed, catalog=catalog, budget=budget_for(services, req.max_instances),
                  world_type=req.world_type)
        # the header goes out before the filler is placed: its instance_count is None until
        # the plan is complete (gen.done carries the count; docs/protocol.md §6.2)
        return wp, wp.first_header.to_dict(), take(wp, 0, 0, 1)

    # What the user has stored is read beside the first plan step: one store read less before
    # the first instance. A refusal still comes before anything is stored or sent.
    checked = asyncio.ensure_future(check_stored(services, user))
    workers = services.gen_workers
    try:
        if workers is None:
            # One hop to the executor for the plan and the first chunk (time to first instance).
            wp, header, group = await run(user, prepare, first=True)

            async def step(first: int, pos: int, n: int) -> list[Chunk]:
                return await run(user, take, wp, first, pos, n)
        else:
            # The plan lives in a worker process, off this interpreter; the same hops, answered
            # with packed chunks (server/genpool.py).
            workers.set_catalog(services.catalog.version, services.catalog.records)
            wp = workers.open()  # forgotten in its worker when closed below, or when dropped on any other way out
            header, wire = await wp.start(user, req.prompt, seed, budget_for(services, req.max_instances),
                                          req.world_type, size, req.records)
            group = [Chunk(i, recs, at, packed) for i, (at, recs, packed) in enumerate(wire)]

            async def step(first: int, pos: int, n: int) -> list[Chunk]:
                wire = await wp.take(user, pos, n)
                return [Chunk(first + i, recs, at, packed) for i, (at, recs, packed) in enumerate(wire)]
    except BaseException:
        if checked.done() and not checked.cancelled():
            checked.exception()  # (retrieved: the plan's exception is the one raised)
        checked.cancel()
        raise
    try:
        await checked
    except BaseException:
        if isinstance(wp, RemotePlan):
            wp.close()
        raise
    plan_ms = (time.perf_counter() - started) * 1000
    world_id = secrets.token_hex(12)

    def rows(chunks: list[Chunk]) -> list[tuple[int, int, bytes]]:
        return [(c.first_ord, len(c.records), c.packed) for c in chunks]

    def end_of(chunks: list[Chunk], pos: int) -> int:
        return chunks[-1].first_ord + len(chunks[-1].records) if chunks else pos

    def complete_with(chunks: list[Chunk], pos: int) -> tuple[str, float] | None:
        """The world's final status when `chunks` end it (stored in the same transaction)."""
        done = wp.complete and end_of(chunks, pos) >= wp.planned
        return ("complete", (time.perf_counter() - started) * 1000) if done else None

    # The world row and its first chunk in one transaction: each chunk is durable before it
    # is sent, so a member joining mid-generation gets the stored prefix as its snapshot and
    # every later chunk live (docs/protocol.md, joining a generating world).
    finished = complete_with(group, 0)
    async with store_turn(user, first=True):
        world = await asyncio.shield(services.store.worlds.start_generated(
            rows(group), finish=finished, id=world_id, owner_id=req.owner_id, prompt=req.prompt,
            world_type=header["world_type"], title=header["title"][:200], description=header["description"],
            header=header, seed=seed, gen_lease_until=lease_until(services.settings.generation_lease_s)))
    if leases is not None:
        leases.hold(world_id)

    count = index = pos = 0
    status = "complete"
    # Later chunks go in groups, one store transaction per group, each computed while the
    # previous one is written and sent; the last group's transaction also marks the world
    # complete.
    group_size = max(1, _PERSIST_GROUP_INSTANCES // size)
    upcoming: asyncio.Task[list[Chunk]] | None = None
    try:
        yield Started(world_id, header, seed)
        while True:
            for chunk in group:  # a stored group is sent whole: the world keeps what was sent
                yield chunk
                count += len(chunk.records)
                index += 1
            pos = end_of(group, pos)
            if finished is not None:
                break
            if upcoming is None:
                upcoming = asyncio.ensure_future(step(index, pos, group_size))
            # a cancel is answered at the end of a group, also while the next group is still
            # being planned (the filler of a 20,000-instance world: tens of ms)
            if not _cancelled(cancel) and cancel is not None:
                waiter = asyncio.ensure_future(cancel.wait())
                await asyncio.wait((upcoming, waiter), return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            if _cancelled(cancel):
                status = "cancelled"
                break
            group = await upcoming
            ahead = end_of(group, pos)
            upcoming = asyncio.ensure_future(step(index + len(group), ahead, group_size))
            finished = complete_with(group, pos)
            # Shielded: a write cancelled half-way would leave its connection holding the
            # SQLite write lock; it commits, then the loop stops.
            try:
                async with store_turn(user):
                    world["updated_at"] = await asyncio.shield(
                        services.store.worlds.append_chunks(world_id, rows(group), finish=finished))
            except LeaseLost:
                # This node was cut off longer than the lease and another node marked the
                # world partial (server/leases.py): it is no longer ours; its stored prefix
                # stands, and so does the status its members were told.
                finished, status = ("partial", (time.perf_counter() - started) * 1000), "partial"
                break
            world["instance_count"] += sum(len(c.records) for c in group)
    finally:
        if upcoming is not None and not upcoming.done():
            upcoming.cancel()  # a prefetched group nobody will send: give its turn back
        # Runs on normal end, on cancel, and when the consumer abandons us (GeneratorExit):
        # the persisted prefix is always followed by a status that names it.
        try:
            if finished is None:
                finished = ("partial", (time.perf_counter() - started) * 1000)
                stamp = await asyncio.shield(services.store.worlds.finish(world_id, *finished))
                world["updated_at"] = stamp or world["updated_at"]
        finally:
            if leases is not None:
                leases.release(world_id)
            if isinstance(wp, RemotePlan):
                wp.close()
    world["status"], world["processing_time_ms"] = finished
    yield Done(world_id, status, count, index, round(plan_ms, 3),
               round((time.perf_counter() - started) * 1000, 3), list(header.get("warnings", [])), world)
