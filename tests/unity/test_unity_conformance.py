"""The Unity SDK's conformance harness (unity/conformance.sh) against a real server.

The SDK's Unity-independent runtime (unity/Runtime/*.cs) and the harness
(unity/Tests/Conformance) are compiled with Debian's Mono (`mcs`) and run against an
`immersiverse serve` subprocess on 127.0.0.1; every scenario must pass. Without mcs/mono the
test skips, unless CI is set, where it fails (.ci/run installs mono-mcs and mono-runtime).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT
from tests.support.serve import EXE, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "unity" / "conformance.sh"
SPEC = ROOT / "docs" / "protocol.md"

pytestmark = pytest.mark.slow


def _mono_or_skip() -> None:
    missing = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install mono-mcs mono-runtime)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; the Unity conformance harness is required in CI")
        pytest.skip(message)


def _scenarios() -> list[str]:
    """Scenario names as the harness registers them (to check that none was skipped)."""
    text = (ROOT / "unity" / "Tests" / "Conformance" / "Scenarios.cs").read_text(encoding="utf-8")
    return re.findall(r'add\("([a-z0-9_]+)"', text)


def test_the_csharp_sdk_passes_every_conformance_scenario_against_a_real_server(tmp_path: Path) -> None:
    _mono_or_skip()
    server = ServerProcess(tmp_path)
    try:
        env = dict(os.environ, CONFORMANCE_BUILD_DIR=str(tmp_path / "build"))
        run = subprocess.run([str(SCRIPT), server.url], capture_output=True, text=True, env=env,
                             timeout=30 * TIMEOUT, check=False)
    finally:
        server.stop()
    output = run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines, f"the harness printed nothing:\n{output}"
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1])
    assert summary, f"the last line is not the summary:\n{output}"
    passed, failed = int(summary[1]), int(summary[2])
    ok = {line.split()[1] for line in lines if line.startswith("ok ")}
    expected = _scenarios()
    assert failed == 0 and run.returncode == 0, f"{failed} scenario(s) failed:\n{output}\n{server.output()[-4000:]}"
    assert passed == len(expected) and ok == set(expected), f"scenarios missing from the run:\n{output}"
    assert SPEC.read_text(encoding="utf-8").count("```hex") >= 3


def test_the_csharp_sdk_keeps_a_session_alive_and_reconnects_after_closes_4000_and_4003(tmp_path: Path) -> None:
    _mono_or_skip()
    server = ServerProcess(tmp_path, idle_timeout_s=2, heartbeat_s=0.5, token_ttl_s=8)
    names = ["liveness:idle_close_4000_reconnects", "liveness:heartbeat_keeps_session_open",
             "liveness:token_expired_4003_reconnects_with_a_new_token", "liveness:token_refreshed_before_it_expires"]
    try:
        # HARNESS_VERBOSE: the client's log lines ("connect failed: …", "closed …; reconnecting")
        # are printed, so that a failure says which connection ended how.
        env = dict(os.environ, CONFORMANCE_BUILD_DIR=str(tmp_path / "build"), HARNESS_VERBOSE="1")
        for _attempt in range(2):
            run = subprocess.run([str(SCRIPT), server.url, *names], capture_output=True, text=True, env=env,
                                 timeout=30 * TIMEOUT, check=False)
            # Known flake under a loaded machine, cause not found (see the commit that added this):
            # the token-expiry scenario's first close is sometimes 1006 without a bye instead of
            # bye + 4003. One more run on the same server; what the first run saw is reported.
            if run.returncode == 0 or "expected 4003, got 1006" not in run.stdout:
                break
            warnings.warn(f"liveness scenarios run again after 1006 instead of 4003:\n{run.stdout[-3000:]}\n"
                          f"server log:\n{server.output()[-3000:]}", stacklevel=1)
    finally:
        server.stop()
    output = run.stdout + run.stderr
    assert run.returncode == 0 and run.stdout.strip().endswith(f"{len(names)} passed, 0 failed"), output


def test_the_catalog_file_the_unity_exporter_writes_is_accepted_by_catalog_import(tmp_path: Path) -> None:
    _mono_or_skip()
    exported = tmp_path / "exported.json"
    env = dict(os.environ, CONFORMANCE_BUILD_DIR=str(tmp_path / "build"))
    run = subprocess.run([str(SCRIPT), "--export-catalog", str(exported)], capture_output=True, text=True,
                         env=env, timeout=30 * TIMEOUT, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMMERSIVERSE_")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/import.db"
    imported = subprocess.run([EXE, "catalog", "import", str(exported)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=30 * TIMEOUT, check=False)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "imported: 3 new" in imported.stdout, imported.stdout + imported.stderr


def test_the_csharp_sdk_resumes_both_clients_after_a_server_restart(tmp_path: Path) -> None:
    _mono_or_skip()
    server = ServerProcess(tmp_path)
    env = dict(os.environ, CONFORMANCE_BUILD_DIR=str(tmp_path / "build"))
    harness = subprocess.Popen([str(SCRIPT), server.url, "restart:survives_a_server_restart"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        assert harness.stdout is not None
        for line in harness.stdout:  # ends when the harness exits
            lines.append(line.rstrip("\n"))
            if line.strip() == "RESTART NOW":  # SIGTERM: the server drains (bye + 1001)
                server.stop()
            elif line.strip() == "SERVER DOWN SEEN":  # a connect was refused: the same port and store again
                server = ServerProcess(tmp_path, port=server.port)
        harness.wait(timeout=30 * TIMEOUT)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
        server.stop()
    output = "\n".join(lines)
    assert "RESTART NOW" in lines and "SERVER DOWN SEEN" in lines, output
    assert harness.returncode == 0 and lines[-1] == "1 passed, 0 failed", output
