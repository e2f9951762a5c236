"""Fuzzed protocol over a real socket (issue #8, item 1; see tests/hardening/fuzz.py).

The default suite feeds FUZZ_FRAMES (default 300) hostile frames; `.ci/fuzz` runs ≥ 100,000.
Afterwards: the bystander still answers ping and saw nothing but its pongs, its world is
untouched, the server logged nothing at ERROR, and every session slot was given back.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings
from tests.hardening.fuzz import (
    Bystander,
    Context,
    Fuzzer,
    ThreadServer,
    generate_world,
    hostile_frame,
    http_login,
)

FRAMES = int(os.environ.get("FUZZ_FRAMES", "300"))
PER_EXAMPLE = 10
SERVER_SETTINGS = {
    "max_frame_bytes": 65_536, "max_instances": 64, "default_instances": 16, "msgs_per_s": 1e6,
    "msgs_burst": 1_000_000, "max_connections_per_user": 1000, "max_worlds_per_user": 1_000_000,
    "log_level": "WARNING", "idle_timeout_s": 120.0,
}


def _noisy(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR and record.name.startswith(("immersiverse", "aiohttp", "server"))


# the sync websockets client logs a reset connection at ERROR; that is the client's business
logging.getLogger("websockets.client").setLevel(logging.CRITICAL)


# websockets draws its frame masks from `random`, which hypothesis flags as "random inside strategies"
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("bad_frames_before_close", [1_000_000, 5], ids=["tolerant", "strict-4503"])
def test_hostile_frames_only_get_documented_answers(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                    bad_frames_before_close: int) -> None:
    frames = FRAMES if bad_frames_before_close > 5 else max(100, FRAMES // 10)
    caplog.set_level(logging.WARNING)
    srv = ThreadServer(make_settings(tmp_path, **SERVER_SETTINGS, bad_frames_before_close=bad_frames_before_close))
    try:
        victim_token, other_token = http_login(srv.port, "victim"), http_login(srv.port, "bystander")
        ctx = Context(own_world=generate_world(srv.port, victim_token, "a forest"),
                      other_world=generate_world(srv.port, other_token, "a rocky desert with cacti and boulders"),
                      token=victim_token, other_token=other_token)
        bystander = Bystander(srv.port, other_token, ctx.other_world)
        fuzzer = Fuzzer(srv.port, ctx, max_frame_bytes=SERVER_SETTINGS["max_frame_bytes"])
        started = time.monotonic()

        @settings(max_examples=math.ceil(frames / PER_EXAMPLE), deadline=None, database=None,
                  phases=[Phase.generate],  # the victim's connection is state: shrinking replays mislead
                  suppress_health_check=list(HealthCheck))
        @given(st.lists(hostile_frame(ctx), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
        def run(batch: list[tuple[str, Any]]) -> None:
            for kind, payload in batch:
                fuzzer.feed(kind, payload)
            if fuzzer.sent % 1000 < PER_EXAMPLE:
                bystander.ping()

        run()
        elapsed = time.monotonic() - started
        fuzzer.close()
        assert fuzzer.sent >= frames
        assert bystander.ping() < 5.0
        assert bystander.unexpected() == [], bystander.unexpected()[:5]
        world = srv.call(srv.services.store.worlds.get(ctx.other_world))
        assert world.seq == bystander.seq and world.instance_count == 10
        # every session slot was given back (the bystander's is the only one left)
        deadline = time.monotonic() + 10
        while len(srv.node.registry) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(srv.node.registry) == 1
        print(f"\nfuzz: {fuzzer.sent} frames in {elapsed:.1f}s ({fuzzer.sent / elapsed:.0f}/s), "
              f"{fuzzer.reconnects} reconnects; kinds {dict(fuzzer.kinds)}; closes {dict(fuzzer.closes)}; "
              f"replies {dict(fuzzer.replies.most_common(25))}")
    finally:
        srv.stop()
    bad = [r for r in caplog.records if _noisy(r)]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad[:5]]
