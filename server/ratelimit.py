"""Token buckets for per-connection rate limits."""

from __future__ import annotations

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
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def retry_after(self, n: float = 1.0) -> float:
        """Seconds until `n` tokens will be available."""
        missing = n - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def full(self) -> bool:
        """True when the bucket has refilled to its burst (nothing is owed)."""
        return self._tokens + (time.monotonic() - self._at) * self.rate >= self.burst
