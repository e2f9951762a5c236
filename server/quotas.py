"""Per-user budgets for generation, shared by every socket of a user and REST prompt2world.

A user's budget lives as long as it matters, not as long as a connection: closing a socket and
opening another keeps the prompt bucket half-empty and the running generations counted
(docs/operations.md §1, "Per user"). The state is per process: behind several nodes each node
applies the same limits to the work it runs.

Three budgets, checked together when a generation is admitted and released together at its end:
- prompts: a token bucket of `prompts_per_min` tokens refilled at `prompts_per_min` per minute
  (what `welcome.limits.prompts_per_min` advertises; docs/protocol.md §4.3);
- concurrent generations: at most `max_generations_per_user`;
- planned instances held by running generations (their plans and encoded chunks are what a
  generation keeps in memory): at most `max_pending_instances_per_user`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from protocol.codes import ErrorCode

from .config import Settings
from .ratelimit import TokenBucket

SWEEP_EVERY_S = 60.0  # idle users (full bucket, nothing running) are forgotten this often


class GenerationRefused(Exception):
    """The request is valid but may not run now (a limit); `code` is the limit's error code
    (rate_limited, too_many_generations, limit_exceeded), answered by server/failures.py."""

    def __init__(self, code: ErrorCode, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _User:
    prompts: TokenBucket
    generations: int = 0
    instances: int = 0


@dataclass(slots=True)
class Admission:
    """One admitted generation's share of its user's budget; `release` is idempotent."""

    quotas: UserQuotas
    user_id: str
    instances: int
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.quotas._release(self)


class UserQuotas:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._users: dict[str, _User] = {}
        self._swept = time.monotonic()

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None:
            per_min = self._settings.prompts_per_min
            user = self._users[user_id] = _User(TokenBucket(per_min / 60.0, max(1, per_min)))
        return user

    def running(self, user_id: str) -> int:
        user = self._users.get(user_id)
        return user.generations if user is not None else 0

    def admit(self, user_id: str, instances: int) -> Admission:
        """Reserve one generation of at most `instances` for `user_id`, or raise GenerationRefused.

        A refused prompt costs no prompt token (only an admitted one does)."""
        s = self._settings
        self._sweep()
        user = self._user(user_id)
        if user.generations >= s.max_generations_per_user:
            raise GenerationRefused(ErrorCode.TOO_MANY_GENERATIONS,
                                    f"at most {s.max_generations_per_user} generations may run at once per user "
                                    "(over all connections and REST)")
        if user.generations and user.instances + instances > s.max_pending_instances_per_user:
            raise GenerationRefused(ErrorCode.TOO_MANY_GENERATIONS,
                                    f"your running generations already hold {user.instances} instances; "
                                    f"the limit is {s.max_pending_instances_per_user} per user")
        if not user.prompts.take():
            raise GenerationRefused(ErrorCode.RATE_LIMITED,
                                    f"prompt budget exhausted ({s.prompts_per_min} per minute per user)",
                                    retry_after_s=round(user.prompts.retry_after(), 3))
        user.generations += 1
        user.instances += instances
        return Admission(self, user_id, instances)

    def _release(self, admission: Admission) -> None:
        user = self._users.get(admission.user_id)
        if user is not None:
            user.generations -= 1
            user.instances -= admission.instances

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        for user_id, user in list(self._users.items()):
            if not user.generations and user.prompts.full:
                del self._users[user_id]
