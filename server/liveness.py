"""The deadlines that keep a connection alive or end it (docs/protocol.md §4.2).

Two clocks, both ending the session with `bye` + close 4000 `idle_timeout`:

* **idle**: no protocol message (a binary or text WebSocket message) for `idle_timeout_s`.
  WebSocket control frames do not count: a client library answers pings by itself, so a
  client whose application has gone quiet would otherwise never be idle.
* **liveness**: after `heartbeat_s` without any frame from the peer, the server sends a
  WebSocket ping; if neither its pong nor any other frame arrives within `pong_timeout_s`,
  the peer is taken for gone.

Pure clock arithmetic over `loop.time()` values, so the session loop only asks what is due.
"""

from __future__ import annotations

from enum import Enum


class Due(Enum):
    PING = "ping"  # send a WebSocket ping now
    IDLE = "idle"  # no message for idle_timeout_s
    NO_PONG = "no_pong"  # the ping went unanswered


class Liveness:
    __slots__ = ("idle_s", "ping_s", "pong_s", "_last_message", "_last_frame", "_pong_due")

    def __init__(self, now: float, *, idle_s: float, ping_s: float, pong_s: float) -> None:
        self.idle_s, self.ping_s, self.pong_s = idle_s, ping_s, pong_s
        self._last_message = self._last_frame = now
        self._pong_due: float | None = None  # set while a ping is outstanding

    def message(self, now: float) -> None:
        """A protocol message arrived."""
        self._last_message = now
        self.frame(now)

    def frame(self, now: float) -> None:
        """Any frame arrived (a message, a ping or a pong): the peer is there."""
        self._last_frame = now
        self._pong_due = None

    def pinged(self, now: float) -> None:
        self._pong_due = now + self.pong_s

    def deadline(self) -> float:
        """The next moment something may be due."""
        idle = self._last_message + self.idle_s
        other = self._pong_due if self._pong_due is not None else self._last_frame + self.ping_s
        return min(idle, other)

    def due(self, now: float) -> Due | None:
        if now >= self._last_message + self.idle_s:
            return Due.IDLE
        if self._pong_due is not None:
            return Due.NO_PONG if now >= self._pong_due else None
        return Due.PING if now >= self._last_frame + self.ping_s else None
