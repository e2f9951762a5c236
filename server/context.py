"""The per-application services object, reachable from any handler via SERVICES."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from persistence.store import Store
from persistence.telemetry import TelemetryWriter

from .auth import LoginThrottle, Revocations, TokenService
from .catalog import CatalogCache


@dataclass
class Services:
    settings: Any
    store: Store
    tokens: TokenService
    revocations: Revocations
    throttle: LoginThrottle
    catalog: CatalogCache
    telemetry: TelemetryWriter
    extras: dict[str, Any] = field(default_factory=dict)


SERVICES = web.AppKey("services", Services)
