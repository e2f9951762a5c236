"""The backup commands of docs/operations.md §5 work as written, from a fresh checkout."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## 5. Backups"):DOC.index("## 6.")]


def _store(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "immersiverse.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE worlds (id TEXT PRIMARY KEY)")
        db.execute("INSERT INTO worlds VALUES ('w1')")


def _backups(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "backups").glob("immersiverse-*.db"))


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed")
def test_the_backup_commands_run_where_no_backups_directory_exists(tmp_path: Path) -> None:
    script = re.search(r"```sh\n(.*?)```", SECTION, re.S)
    assert script
    _store(tmp_path)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script.group(1)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    [backup] = _backups(tmp_path)
    with sqlite3.connect(backup) as db:
        assert db.execute("SELECT id FROM worlds").fetchall() == [("w1",)]


def test_the_python_backup_line_runs(tmp_path: Path) -> None:
    line = re.search(r"`(python3 -c .*?)`\.", SECTION)
    assert line
    _store(tmp_path)
    (tmp_path / "backups").mkdir()
    script = f'backup="backups/immersiverse-copy.db"\n{line.group(1)}'
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(_backups(tmp_path)[0]) as db:
        assert db.execute("SELECT id FROM worlds").fetchall() == [("w1",)]
