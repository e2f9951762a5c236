"""`immersiverse serve` tunes the interpreter once started (server/runner.py tune_interpreter)."""

from __future__ import annotations

import gc
import sys
from typing import Any

from server.config import resolve
from server.runner import tune_interpreter


def _settings(**overrides: Any) -> Any:
    return resolve(None, environ={}, overrides=overrides)[0]


def test_the_gil_switch_interval_is_the_setting_and_zero_keeps_pythons() -> None:
    before, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        tune_interpreter(_settings(gil_switch_ms=0.5, gc_freeze=False, gc_gen0_threshold=0))
        assert abs(sys.getswitchinterval() - 0.0005) < 1e-9
        sys.setswitchinterval(0.005)
        tune_interpreter(_settings(gil_switch_ms=0, gc_freeze=False, gc_gen0_threshold=0))
        assert abs(sys.getswitchinterval() - 0.005) < 1e-9
        assert _settings().gil_switch_ms == 1.0  # the default: the loop waits at most 1 ms behind a plan
    finally:
        sys.setswitchinterval(before)
        gc.set_threshold(*thresholds)
