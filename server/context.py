"""The per-application services object, reachable from any handler via SERVICES: what every
request needs whatever this node runs. The node's live parts (hub, registry, broker, metrics)
are server/node.py's `Node`."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from persistence.db import is_sqlite
from persistence.store import Store
from persistence.telemetry import TelemetryWriter

from .auth import AccountNames, AuthCode, AuthError, AuthRate, Identity, LoginThrottle, Revocations, TokenService
from .catalog import CatalogCache
from .config import Settings
from .genpool import GenerationWorkers
from .quotas import UserQuotas
from .ratelimit import UserQuota
from .scheduler import FairScheduler


@dataclass
class Services:
    settings: Settings
    store: Store
    tokens: TokenService
    revocations: Revocations
    throttle: LoginThrottle
    catalog: CatalogCache
    telemetry: TelemetryWriter
    auth_rate: AuthRate
    # Per-user generation budgets and the fair generator queue (server/quotas.py, scheduler.py).
    quotas: UserQuotas = field(init=False)
    scheduler: FairScheduler = field(init=False)
    # Per-user telemetry quota, shared by the user's sockets and REST (server/ratelimit.py).
    telemetry_quota: UserQuota = field(init=False)
    # Display names asked on every connect; those asked together are read together (server/auth.py).
    names: AccountNames = field(init=False)
    # Plans in worker processes when `generation_processes` > 0 (server/genpool.py).
    gen_workers: GenerationWorkers | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.quotas = UserQuotas(s)
        self.names = AccountNames(self.store)
        self.telemetry_quota = UserQuota(s.telemetry_events_per_user_min, s.telemetry_bytes_per_user_min)
        # SQLite has one writer: one generation write at a time keeps the writer's queue short
        # (a newcomer's first chunk waits behind one write, not behind every flooder's).
        self.scheduler = FairScheduler(store_slots=1 if is_sqlite(self.settings.database_url) else 4)

    def authenticate(self, token: str) -> Identity:
        """The token's verified, unrevoked identity, or AuthError (REST and sockets map it)."""
        ident = self.tokens.decode(token)
        if self.revocations.is_revoked(ident.session_id):
            raise AuthError(AuthCode.TOKEN_REVOKED, "token has been revoked")
        return ident

    def public_id(self, user_id: str) -> str:
        """What public surfaces show for an account (server/auth.py TokenService.public_id)."""
        return self.tokens.public_id(user_id)


SERVICES = web.AppKey("services", Services)
