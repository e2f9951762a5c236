"""Token buckets: per-connection rate limits, and per-user quotas shared by all of a user's
connections and REST requests."""

from __future__ import annotations

import math
import time


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take` answers whether a token was available."""

    __slots__ = ("rate", "burst", "_tokens", "_at")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self, n: float = 1.0) -> bool:
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def wait_for(self, n: float) -> float:
        """Seconds until `n` tokens are available (0.0: now; inf: more than the bucket holds)."""
        if n > self.burst:
            return math.inf
        self._refill()
        return self.retry_after(n)

    @property
    def full(self) -> bool:
        """True when the bucket has refilled to its burst (nothing is owed)."""
        self._refill()
        return self._tokens >= self.burst

    def retry_after(self, n: float = 1.0) -> float:
        """Seconds until `n` tokens will be available."""
        missing = n - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate


class UserQuota:
    """Per-user budgets of events and bytes per minute, charged together (issue 15, finding 5).

    One per process, shared by every socket and REST request of a user, so reconnecting or
    opening more sockets buys nothing. Each budget is a bucket that holds one minute's worth
    and refills continuously; 0 turns a budget off. Users whose buckets are full again are
    forgotten, so the table holds only users active in the last minute.
    """

    def __init__(self, events_per_min: int, bytes_per_min: int) -> None:
        self._events_per_min = events_per_min
        self._bytes_per_min = bytes_per_min
        self._users: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = {}
        self._pruned_at = time.monotonic()

    def charge(self, user: str, events: int, nbytes: int) -> float:
        """0.0 when both were charged; otherwise nothing is charged and the answer is the
        seconds until they would fit (inf: more than one minute's budget, never)."""
        buckets = self._users.get(user)
        if buckets is None:
            self._prune()
            buckets = self._users[user] = (_bucket(self._events_per_min), _bucket(self._bytes_per_min))
        events_b, bytes_b = buckets
        wait = max(events_b.wait_for(events) if events_b else 0.0, bytes_b.wait_for(nbytes) if bytes_b else 0.0)
        if wait > 0.0:
            return wait
        if events_b:
            events_b.take(events)
        if bytes_b:
            bytes_b.take(nbytes)
        return 0.0

    def _prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at < 60.0:
            return
        self._pruned_at = now
        self._users = {u: b for u, b in self._users.items() if not all(x is None or x.full for x in b)}


def _bucket(per_min: int) -> TokenBucket | None:
    return TokenBucket(per_min / 60.0, per_min) if per_min > 0 else None
