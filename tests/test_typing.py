"""The codebase stays ``mypy --strict`` and ``ruff`` clean (/work/shared/STYLE.md, "Size, names, types").

mypy runs in a subprocess with the project's pyproject.toml settings and its cache in
``.mypy_cache`` (gitignored): about 10 s cold, under 1 s warm.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from server.config import SETTINGS
from tests.conftest import TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "server", "persistence", "client", "generator", "records")


def test_every_package_is_mypy_strict_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", *PACKAGES], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=6 * TIMEOUT)
    assert proc.returncode == 0, f"mypy --strict reported errors:\n{proc.stdout}{proc.stderr}"


def test_static_settings_declaration_matches_the_table() -> None:
    # server/config.py declares each setting once, in the Settings class; the value parser
    # (_coerce) goes by the default's type, so each annotation must name that type.
    tree = ast.parse((ROOT / "server" / "config.py").read_text())
    declared = next(node for node in ast.walk(tree)
                    if isinstance(node, ast.ClassDef) and node.name == "Settings")
    fields = [(stmt.target.id, ast.unparse(stmt.annotation)) for stmt in declared.body
              if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)]
    assert fields == [(s.name, type(s.default).__name__) for s in SETTINGS]


def test_every_file_is_ruff_clean() -> None:
    # The lint rules the code follows (pyproject.toml [tool.ruff.lint]: pycodestyle, pyflakes,
    # bugbear, async pitfalls, pyupgrade, import order), with the pinned ruff from the lock.
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=TIMEOUT)
    assert proc.returncode == 0, f"ruff reported problems:\n{proc.stdout}{proc.stderr}"
