"""The requests a session hands to the modules of their role (docs/protocol.md §7): generation
(server/session_gen.py), telemetry (session_telemetry.py) and shared worlds (session_rooms.py).
Connection-level requests (hello, auth.refresh, ping, cancel) are the session's own."""

from __future__ import annotations

from protocol import messages as m

from .session import Handlers
from .session_gen import start_generation
from .session_rooms import leave_all, on_edit, on_join, on_leave, on_presence
from .session_telemetry import receive_telemetry

SESSION_HANDLERS = Handlers(
    requests={m.Prompt: start_generation, m.Telemetry: receive_telemetry, m.Join: on_join, m.Leave: on_leave,
              m.Edit: on_edit, m.Presence: on_presence},
    closed=leave_all,
)
