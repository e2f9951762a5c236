"""The liveness clocks of a session (server/liveness.py, docs/protocol.md §4.2), as pure arithmetic."""

from __future__ import annotations

from server.liveness import Due, Liveness


def clocks() -> Liveness:
    return Liveness(0.0, idle_s=45.0, ping_s=15.0, pong_s=7.5)


def test_a_ping_is_due_after_heartbeat_without_frames_and_its_pong_clears_it() -> None:
    live = clocks()
    assert live.deadline() == 15.0 and live.due(14.9) is None and live.due(15.0) is Due.PING
    live.pinged(15.0)
    assert live.deadline() == 22.5 and live.due(20.0) is None
    live.frame(20.0)  # the pong
    assert live.deadline() == 35.0 and live.due(30.0) is None


def test_an_unanswered_ping_is_no_pong() -> None:
    live = clocks()
    live.pinged(15.0)
    assert live.due(22.5) is Due.NO_PONG


def test_pongs_keep_liveness_but_not_the_idle_clock() -> None:
    live = clocks()
    for t in (15.0, 30.0):
        live.pinged(t)
        live.frame(t + 1.0)
    assert live.deadline() == 45.0 and live.due(45.0) is Due.IDLE


def test_a_message_restarts_both_clocks() -> None:
    live = clocks()
    live.pinged(15.0)
    live.message(20.0)
    assert live.due(22.5) is None and live.deadline() == 35.0 and live.due(64.9) is not Due.IDLE
