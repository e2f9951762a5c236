"""The benchmarks keep working: `python -m bench all --smoke` runs every figure with tiny sizes
(real servers on 127.0.0.1, ours and the baseline) and writes its JSON results. Numbers are not
checked here: benchmarks are not tests (bench/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ["idle", "fanout", "ttfi", "streaming", "rest_catalog", "prompt2world", "telemetry", "listing"]
SAME_RUN = ["noisy", "fanout_gen", "multiproc"]  # figures measured against ours in the same run, not the baseline


def test_bench_all_smoke() -> None:
    results = ROOT / "bench" / "results"
    before = {f: (results / f"{f}.json").stat().st_mtime if (results / f"{f}.json").exists() else 0.0
              for f in [*FIGURES, *SAME_RUN, "summary"]}
    proc = subprocess.run([sys.executable, "-m", "bench", "all", "--smoke"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in [*FIGURES, *SAME_RUN, "summary"]:
        path = results / f"{name}.json"
        assert path.exists() and path.stat().st_mtime > before[name], f"{name}.json was not written"
    summary = json.loads((results / "summary.json").read_text())
    assert summary["smoke"] is True
    assert {f["figure"] for f in summary["figures"]} >= {*FIGURES, *SAME_RUN}
    assert not [f for f in summary["figures"] if "error" in f]
    for name in FIGURES:
        out = json.loads((results / f"{name}.json").read_text())
        assert out["smoke"] is True and len(out["rows"]) >= 2  # ours and the baseline
        assert {r["server"] for r in out["rows"]} == {"ours", "baseline"}
    noisy = json.loads((results / "noisy.json").read_text())
    assert noisy["smoke"] is True
    assert {(r["budgets"], r["load"]) for r in noisy["rows"]} == {
        (b, load) for b in ("defaults", "lifted") for load in ("unloaded", "loaded")}
    assert all(r["victim_prompts"] > 0 for r in noisy["rows"])
    assert all(r["flood_worlds"] > 0 for r in noisy["rows"] if r["load"] == "loaded")
    assert set(noisy["ratio_loaded_to_unloaded"]) == {"defaults", "lifted"}
