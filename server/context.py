"""The per-application services object, reachable from any handler via SERVICES."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from persistence.db import is_sqlite
from persistence.store import Store
from persistence.telemetry import TelemetryWriter

from .auth import AuthError, AuthRate, Identity, LoginThrottle, Revocations, TokenService
from .catalog import CatalogCache
from .config import Settings
from .quotas import UserQuotas
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
    extras: dict[str, Any] = field(default_factory=dict)
    # Per-user generation budgets and the fair generator queue (server/quotas.py, scheduler.py).
    quotas: UserQuotas = field(init=False)
    scheduler: FairScheduler = field(init=False)

    def __post_init__(self) -> None:
        self.quotas = UserQuotas(self.settings)
        # SQLite has one writer: one generation write at a time keeps the writer's queue short
        # (a newcomer's first chunk waits behind one write, not behind every flooder's).
        self.scheduler = FairScheduler(store_slots=1 if is_sqlite(self.settings.database_url) else 4)

    def authenticate(self, token: str) -> Identity:
        """The token's verified, unrevoked identity, or AuthError (REST and sockets map it)."""
        ident = self.tokens.decode(token)
        if self.revocations.is_revoked(ident.session_id):
            raise AuthError("token_revoked", "token has been revoked")
        return ident

    def public_id(self, user_id: str) -> str:
        """What public surfaces show for an account (server/auth.py TokenService.public_id)."""
        return self.tokens.public_id(user_id)


SERVICES = web.AppKey("services", Services)
