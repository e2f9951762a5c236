"""The security suite (issue 15) reuses the hardening suite's servers: `server` (in-process,
with settings overrides) and `spawn_server` (a real `immersiverse serve` subprocess)."""

from __future__ import annotations

from tests.hardening.conftest import server, spawn_server

__all__ = ["server", "spawn_server"]
