"""Live sessions of this process: connection limits, revocation sweeps, drain."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from protocol.codes import CloseCode

from .config import Settings
from .writer import Writer


class Session(Protocol):
    """What the registry needs of a live session (server/session.py)."""

    writer: Writer  # its queued bytes are sampled (server/app.py)

    @property
    def user_id(self) -> str: ...

    @property
    def generations(self) -> dict[int, tuple[asyncio.Task[None], asyncio.Event]]: ...

    def token_problem(self, is_revoked: Callable[[str], bool]) -> CloseCode | None: ...

    def close_soon(self, code: CloseCode, *, retry_after_s: float | None = None, message: str | None = None) -> None:
        ...


class Registry:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.sessions: set[Session] = set()
        self._per_user: Counter[str] = Counter()
        self._per_ip: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.sessions)

    def ip_full(self, ip: str) -> bool:
        return self._per_ip[ip] >= self._settings.max_connections_per_ip

    def user_full(self, user_id: str) -> bool:
        return self._per_user[user_id] >= self._settings.max_connections_per_user

    def add_ip(self, ip: str) -> None:
        self._per_ip[ip] += 1

    def remove_ip(self, ip: str) -> None:
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]

    def add(self, session: Session) -> None:
        self.sessions.add(session)
        self._per_user[session.user_id] += 1

    def remove(self, session: Session) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            self._per_user[session.user_id] -= 1
            if self._per_user[session.user_id] <= 0:
                del self._per_user[session.user_id]

    def sweep(self, is_revoked: Any) -> int:
        """Close sessions whose token was revoked or has expired; returns how many."""
        closed = 0
        for session in list(self.sessions):
            reason = session.token_problem(is_revoked)
            if reason is not None:
                session.close_soon(reason)
                closed += 1
        return closed

    async def drain(self, timeout: float) -> None:
        """Let running generations finish for half the timeout, then cancel the rest (gen.done
        cancelled, world partial); then tell every session the server is going away (1001)
        and wait for them to end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        running = [task for s in self.sessions for task, _ in s.generations.values()]
        if running:
            await asyncio.wait(running, timeout=timeout / 2)
            for _, cancel in [g for s in self.sessions for g in s.generations.values()]:
                cancel.set()
            await asyncio.wait(running, timeout=timeout / 4)
        for session in list(self.sessions):
            session.close_soon(CloseCode.GOING_AWAY, retry_after_s=1.0)
        while self.sessions and loop.time() < deadline:  # noqa: ASYNC110 (bounded poll of a set many tasks shrink)
            await asyncio.sleep(0.05)
