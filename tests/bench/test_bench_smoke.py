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


def test_bench_all_smoke() -> None:
    results = ROOT / "bench" / "results"
    before = {f: (results / f"{f}.json").stat().st_mtime if (results / f"{f}.json").exists() else 0.0
              for f in [*FIGURES, "summary"]}
    proc = subprocess.run([sys.executable, "-m", "bench", "all", "--smoke"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in [*FIGURES, "summary"]:
        path = results / f"{name}.json"
        assert path.exists() and path.stat().st_mtime > before[name], f"{name}.json was not written"
    summary = json.loads((results / "summary.json").read_text())
    assert summary["smoke"] is True
    assert {f["figure"] for f in summary["figures"]} >= set(FIGURES)
    assert not [f for f in summary["figures"] if "error" in f]
    for name in FIGURES:
        out = json.loads((results / f"{name}.json").read_text())
        assert out["smoke"] is True and len(out["rows"]) >= 2  # ours and the baseline
        assert {r["server"] for r in out["rows"]} == {"ours", "baseline"}
