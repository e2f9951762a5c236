"""One streamed generation: ``async for msg in session.generate(prompt)``.

The iterator sends the ``prompt`` when it is first advanced, then yields the protocol messages
of this generation in order: one :class:`~protocol.messages.GenStart`, the
:class:`~protocol.messages.GenChunk` messages (``msg.instances`` is a list of instance maps,
docs/protocol.md §6.1), and finally the :class:`~protocol.messages.GenDone`, after which it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from protocol import messages as m

from .errors import GenerationInterrupted, SessionClosed

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Generation"]


class Generation:
    """Iterate it once. Attributes fill in as frames arrive: ``world_id`` and ``header`` (from
    ``gen.start``; ``header["instance_count"]`` is null until the plan is complete, see
    ``expected``), ``instances`` (every
    instance received, in stream order), ``chunks`` (count), ``done`` (the ``gen.done``).

    Errors: a refused prompt raises :class:`ServerError` from the first ``__anext__``. When the
    connection drops mid-stream the iterator raises :class:`GenerationInterrupted` (the server
    keeps the streamed prefix as a ``partial`` world); generations are *not* resumed after a
    reconnect — start a new one or ``join`` the partial world.
    """

    def __init__(self, session: Session, msg: m.Prompt) -> None:
        self.session = session
        self.msg = msg
        self.rid = msg.rid
        self.world_id: str | None = None
        self.header: Mapping[str, Any] = {}
        self.start: m.GenStart | None = None
        self.done: m.GenDone | None = None
        self.instances: list[Mapping[str, Any]] = []
        self.chunks = 0
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._sent = False
        self._finished = False

    def __repr__(self) -> str:
        return f"<Generation rid={self.rid} world={self.world_id} instances={len(self.instances)}>"

    @property
    def expected(self) -> int | None:
        """The world's instance count once known: the header's when the plan was complete at
        ``gen.start`` (it is null while the filler is still being placed), else ``gen.done``'s."""
        if self.done is not None:
            return self.done.instances
        count = self.header.get("instance_count")
        return count if isinstance(count, int) else None

    def __aiter__(self) -> Generation:
        return self

    async def __anext__(self) -> m.GenStart | m.GenChunk | m.GenDone:
        if self._finished:
            raise StopAsyncIteration
        if not self._sent:
            self._sent = True
            await self.session._start_generation(self)
        item = await self._queue.get()
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        if isinstance(item, m.GenStart):
            self.start, self.world_id, self.header = item, item.world_id, item.header
        elif isinstance(item, m.GenChunk):
            self.instances.extend(item.instances)
            self.chunks += 1
        elif isinstance(item, m.GenDone):
            self.done = item
            self._finished = True
        return item  # type: ignore[no-any-return]

    async def collect(self) -> m.GenDone:
        """Consume the whole stream; returns ``gen.done``."""
        async for _ in self:
            pass
        assert self.done is not None
        return self.done

    async def cancel(self) -> m.Cancelled:
        """Ask the server to stop; ``gen.done {status: cancelled}`` still arrives on the iterator."""
        return await self.session.cancel(self.rid)

    # -- reader side ----------------------------------------------------------------------------
    def _push(self, msg: Any) -> None:
        self._queue.put_nowait(msg)

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, SessionClosed):
            interrupted = GenerationInterrupted(self.rid, self.world_id, exc)
            interrupted.__cause__ = exc
            exc = interrupted
        self._queue.put_nowait(exc)
