"""Streamed generation on a session: prompt → gen.start → gen.chunk… → gen.done.

Each generation is a task of its own, scoped by the prompt's rid (docs/protocol.md §7.2).
The chunk loop waits for this session's send queue to drain below half its bound, so a
client that reads slowly slows its own generation instead of being cut off; other room
members get the same encoded frames through the room, where a slow one is closed (4001).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from protocol import messages as m
from protocol.codec import encode, encode_gen_chunk_packed
from protocol.codes import ErrorCode

from .blueprint import header_wire
from .failures import RequestRefused, refusal
from .generation import (
    Admission,
    Chunk,
    Done,
    GenRequest,
    Started,
    admit,
    stream_world,
)
from .session_rooms import open_generation

if TYPE_CHECKING:
    from .room import Room
    from .session import Session

log = logging.getLogger("immersiverse.generation")


async def start_generation(session: Session, msg: m.Prompt) -> None:
    settings = session.settings
    if session.node.draining:
        raise RequestRefused(ErrorCode.UNAVAILABLE, "the server is draining; reconnect to another node")
    if msg.rid in session.generations:
        raise RequestRefused(ErrorCode.CONFLICT, f"a generation with rid {msg.rid} is already running")
    if len(session.generations) >= settings.max_generations:
        raise RequestRefused(ErrorCode.TOO_MANY_GENERATIONS,
                             f"at most {settings.max_generations} generations may run at once")
    if not msg.prompt.strip():
        raise RequestRefused(ErrorCode.INVALID_VALUE, fields={"prompt": "must not be blank"})
    # Per user, over all of the user's sockets and REST (server/quotas.py); GenerationRefused
    # is answered with the limit's code (server/failures.py).
    admission = admit(session.services, session.user_id, msg.max_instances)
    cancel = asyncio.Event()
    task = session.spawn(_run(session, msg, cancel, admission), "gen")
    session.generations[msg.rid] = (task, cancel)


async def _run(session: Session, msg: m.Prompt, cancel: asyncio.Event, admission: Admission) -> None:
    req = GenRequest(owner_id=session.user_id, prompt=msg.prompt, world_type=msg.world_type, seed=msg.seed,
                     max_instances=msg.max_instances, chunk_size=session.settings.chunk_size, records=False)
    high_water = session.settings.send_queue_bytes // 2
    metrics = session.hub.metrics
    room = None
    world_id = ""
    sent = [0, 0]  # instances, chunks
    stalled = False
    timer = metrics.generation_started()
    try:
        generation = stream_world(session.services, req, cancel, leases=session.node.leases)
        async with contextlib.aclosing(generation) as events:
            async for ev in events:
                if isinstance(ev, Started):
                    world_id = ev.world_id
                    frame = encode(m.GenStart(rid=msg.rid, world_id=ev.world_id, session_id=session.id,
                                                header=header_wire(ev.header)))
                    if msg.room:
                        room = await open_generation(session, ev.world_id, ev.header)
                    await _deliver(session, room, frame)
                elif isinstance(ev, Chunk):
                    frame = encode_gen_chunk_packed(msg.rid, world_id, ev.index, ev.packed)
                    await _deliver(session, room, frame, ev.first_ord)
                    metrics.instances_streamed(len(ev.records))
                    sent[0] += len(ev.records)
                    sent[1] += 1
                    if not await _drained(session, high_water):
                        stalled = True
                        break  # leaving the stream marks the world partial (generation.py)
                    if session.writer.closed:
                        return  # the client is gone: closing the stream marks the world partial
                elif isinstance(ev, Done):
                    frame = encode(m.GenDone(rid=msg.rid, world_id=ev.world_id, status=ev.status,  # type: ignore[arg-type]
                                             instances=ev.instances, chunks=ev.chunks,
                                             timings={"plan_ms": ev.plan_ms, "total_ms": ev.total_ms},
                                             warnings=ev.warnings))
                    await _deliver(session, room, frame)
                    timer(ev.status)
        if stalled:
            await _end_stalled(session, room, msg.rid, world_id, sent)
            timer("failed")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await _end_failed(session, room, msg.rid, world_id, exc, sent)
        timer("failed")
    finally:
        timer("abandoned")  # no-op when gen.done already recorded the status
        admission.release()
        session.generations.pop(msg.rid, None)
        if room is not None:
            room.generation_finished()


async def _end_failed(session: Session, room: Room | None, rid: int, world_id: str, exc: Exception,
                      sent: list[int]) -> None:
    """The one final frame of a generation that failed (docs/protocol.md §4.1): `gen.done
    {status: failed}` once gen.start went out, else an `error` — the refusal's code (e.g. the
    generator refused the prompt's arguments: invalid_value; the store is down: unavailable
    with retry_after_s, §8.3), or `internal` for a bug, whose text is logged, never sent."""
    refused = refusal(exc, session.settings.store_retry_after_s)  # the one table: server/failures.py
    if refused is None:
        log.exception("session %s: generation rid %s failed", session.id, rid)
    else:  # one line, no traceback: the client's request or the store's state, not a bug
        log.info("session %s: generation rid %s ended: %s (%s)", session.id, rid, refused.code.wire_name,
                    refused.message, extra={"session_id": session.id})
    if world_id:
        why = "generation failed" if refused is None else f"generation stopped: {refused.message}"
        await _deliver(session, room, encode(m.GenDone(
            rid=rid, world_id=world_id, status="failed", instances=sent[0], chunks=sent[1], timings={},
            warnings=[f"{why}; the world is stored as partial"])))
    elif refused is None:
        session.send_error(ErrorCode.INTERNAL, rid)
    else:
        session.send_error(refused.code, rid, refused.message, refused.fields, refused.retry_after_s)


async def _drained(session: Session, high_water: int) -> bool:
    """Wait for the requester to read its queue below `high_water`; False when it read too
    little for `generation_stall_timeout_s` (its generation must not pin memory forever)."""
    writer = session.writer
    if writer.queued_bytes <= high_water:
        return True  # the common case: no timer, no suspension
    try:
        async with asyncio.timeout(session.settings.generation_stall_timeout_s):
            await writer.wait_below(high_water)
    except TimeoutError:
        return False
    return True


async def _end_stalled(session: Session, room: Room | None, rid: int, world_id: str, sent: list[int]) -> None:
    """docs/protocol.md §7.2: the one final frame of a generation whose requester stalled."""
    timeout = session.settings.generation_stall_timeout_s
    log.warning("session %s: generation rid %s stopped: the client read nothing for %.0f s", session.id, rid,
                timeout, extra={"session_id": session.id})
    await _deliver(session, room, encode(m.GenDone(
        rid=rid, world_id=world_id, status="failed", instances=sent[0], chunks=sent[1], timings={},
        warnings=[f"generation stopped: the client read nothing for {timeout:g} s; "
                  "the world is stored as partial"])))


async def _deliver(session: Session, room: Room | None, frame: bytes, first_ord: int | None = None) -> None:
    """To the requester alone, or through the room to every member on every node."""
    if room is None:
        session.send_bytes(frame)
    else:
        await room.publish_frame(frame, first_ord=first_ord)
