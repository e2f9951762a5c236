"""python -m bench {all|idle|fanout|fanout_gen|ttfi|streaming|rest_catalog|prompt2world|telemetry|listing|noisy|
                   multiproc|generator}
    [--smoke]

Each figure starts its own servers (ours and the baseline, on 127.0.0.1), prints a table and
writes bench/results/<figure>.json; `all` runs them in turn and writes bench/results/summary.json.
The generator figure (bench/generator.py) runs in a subprocess of its own. With --smoke, `all`
runs the figures side by side (it only checks that they still work).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
import traceback
from typing import Any

from . import common as c

FIGURES = ["idle", "fanout", "fanout_gen", "ttfi", "streaming", "rest_catalog", "prompt2world", "telemetry", "listing",
           "noisy", "multiproc"]


def run_generator(smoke: bool) -> dict[str, Any]:
    if not (c.ROOT / "bench" / "generator.py").exists():
        return {"figure": "generator", "skipped": "bench/generator.py not present"}
    cmd = [sys.executable, "-m", "bench.generator"] + (["--smoke"] if smoke else [])
    proc = subprocess.run(cmd, cwd=c.ROOT, timeout=300)
    if proc.returncode:
        raise RuntimeError(f"bench.generator exited {proc.returncode}")
    out = json.loads((c.RESULTS / "generator.json").read_text())
    return {"figure": "generator", "pass": all(out.get("met", {}).values()), **out}


def run_figure(name: str, smoke: bool) -> dict[str, Any]:
    if name == "generator":
        return run_generator(smoke)
    return importlib.import_module(f"bench.{name}").run(smoke)


def smoke_all(names: list[str]) -> int:
    """Smoke mode checks that every figure still runs, not its numbers: run them side by side,
    each in a subprocess of its own (ports are picked free, result files are per figure)."""
    t = time.perf_counter()
    procs = {n: subprocess.Popen([sys.executable, "-m", "bench", n, "--smoke"], cwd=c.ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for n in names}
    summary, failed = [], []
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        print(out.decode(errors="replace"))
        path = c.RESULTS / f"{name}.json"
        if proc.returncode or not path.exists():
            failed.append(name)
            summary.append({"figure": name, "error": f"exit {proc.returncode}"})
            continue
        res = json.loads(path.read_text())
        summary.append({"figure": name, "pass": res.get("pass", all(res.get("met", {}).values())),
                        "target": res.get("target")})
    write_summary(True, summary, time.perf_counter() - t)
    return 1 if failed else 0


def write_summary(smoke: bool, summary: list[dict[str, Any]], seconds: float) -> None:
    c.RESULTS.mkdir(parents=True, exist_ok=True)
    (c.RESULTS / "summary.json").write_text(json.dumps(
        {"smoke": smoke, "seconds": round(seconds, 1), "machine": c.machine(), "figures": summary},
        indent=2) + "\n")
    print(f"\n== summary ({seconds:.0f} s{', smoke: numbers are meaningless' if smoke else ''})")
    for s in summary:
        state = "ERROR" if "error" in s else ("pass" if s["pass"] else "MISS")
        print(f"  {s['figure']:<14} {state:<6} {s.get('target') or ''}  ({s.get('seconds', '-')} s)")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("figure", choices=["all", *FIGURES, "generator"])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds in all (for CI)")
    args = ap.parse_args()
    c.raise_nofile()
    started = time.perf_counter()
    names = [*FIGURES, "generator"] if args.figure == "all" else [args.figure]
    if args.figure == "all" and args.smoke:
        return smoke_all(names)
    summary, failed = [], []
    for name in names:
        t = time.perf_counter()
        try:
            out = run_figure(name, args.smoke)
            summary.append({"figure": name, "pass": out.get("pass"), "target": out.get("target"),
                            "seconds": round(time.perf_counter() - t, 1)})
        except Exception:
            traceback.print_exc()
            failed.append(name)
            summary.append({"figure": name, "error": traceback.format_exc(limit=3)})
    if args.figure == "all":
        write_summary(args.smoke, summary, time.perf_counter() - started)
    # A missed target is a finding, not a harness failure: exit non-zero only if a figure broke.
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
