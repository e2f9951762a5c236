"""This process's live parts: the node (centrifuge `node.go`) next to the shared Services.

`Services` (server/context.py) is what every request needs whatever the node does: settings,
the store, tokens, the catalog. `Node` is what this process runs: its metrics, the broker,
the hub of rooms, the registry of sessions, the leases of its generations and whether it is
draining. Handlers reach it as `request.app[NODE]`; sessions hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from .broker import Broker
from .context import Services
from .hub import Hub
from .leases import GenerationLeases
from .metrics import Metrics
from .registry import Registry


class ConnectionCount(Protocol):
    """The open HTTP connections, under `immersiverse serve` (server/connections.py)."""

    @property
    def open(self) -> int: ...


@dataclass(eq=False)
class Node:
    services: Services
    metrics: Metrics
    broker: Broker
    hub: Hub
    registry: Registry
    leases: GenerationLeases
    connections: ConnectionCount | None = None  # set by server/connections.py once it serves
    draining: bool = False  # set once by `app.drain`: new sockets and prompts are refused
    flushes_seen: int = 0  # telemetry flushes already sampled into the histogram (app._sample)


NODE = web.AppKey("node", Node)
