"""The `immersiverse` console script, run as a real process against a store in tmp_path."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from aiohttp.test_utils import TestClient
from alembic.script import ScriptDirectory

from persistence.catalog import SHIPPED_CATALOG, read_catalog_file
from persistence.db import alembic_config
from server.config import SETTINGS
from tests.conftest import TIMEOUT, bearer
from tests.support.serve import ServerProcess, get_json

EXE = shutil.which("immersiverse", path=str(Path(sys.executable).parent)) or shutil.which("immersiverse")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("IMMERSIVERSE_") and k not in ("DATABASE_URL", "SECRET_KEY")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/test.db"  # the file make_client uses
    env.update(extra)
    return env


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    assert EXE, "the immersiverse console script is not installed (pip install -e .)"
    return subprocess.run([EXE, *args], cwd=tmp_path, env=_env(tmp_path, **env), capture_output=True,
                          text=True, timeout=60)


def _rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "test.db") as db:
        return db.execute(sql).fetchall()


def _catalog_file(tmp_path: Path, rows: list[Any], version: str = "cli-test-1") -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"catalog_version": version, "prefabs": rows}))
    return path


def _good(pid: str, **changes: Any) -> dict[str, Any]:
    _, rows, _ = read_catalog_file(SHIPPED_CATALOG)
    return {**rows[0], "id": pid, "name": f"Imported {pid}", **changes}


def test_migrate_brings_an_empty_store_to_head(tmp_path: Path) -> None:
    done = run(tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    assert "latest schema" in done.stdout
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert _rows(tmp_path, "SELECT version_num FROM alembic_version") == [(head,)]
    tables = {r[0] for r in _rows(tmp_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "prefabs", "worlds", "experiences", "telemetry_events", "revoked_sessions"} <= tables
    assert run(tmp_path, "migrate").returncode == 0  # idempotent


def test_catalog_import_upserts_good_rows_and_prints_counts(tmp_path: Path) -> None:
    path = _catalog_file(tmp_path, [_good("cli_one"), _good("cli_two")])
    done = run(tmp_path, "catalog", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "2 valid prefabs, 0 invalid rows" in done.stdout and "imported: 2 new, 0 updated" in done.stdout
    assert _rows(tmp_path, "SELECT id, name FROM prefabs ORDER BY id") == [
        ("cli_one", "Imported cli_one"), ("cli_two", "Imported cli_two")]
    path = _catalog_file(tmp_path, [_good("cli_two", name="Renamed")], version="cli-test-2")
    done = run(tmp_path, "catalog", "import", str(path))
    assert done.returncode == 0 and "imported: 0 new, 1 updated" in done.stdout
    assert _rows(tmp_path, "SELECT name FROM prefabs WHERE id='cli_two'") == [("Renamed",)]
    assert _rows(tmp_path, "SELECT value FROM meta WHERE key='catalog_version'") == [("cli-test-2",)]


def _bad_rows() -> list[Any]:
    return [_good("cli_fine"), _good("cli_tank", type="tank"), {k: v for k, v in _good("cli_flat").items()
                                                                if k != "placement"}, "not an object"]


def test_catalog_import_with_bad_rows_prints_each_and_imports_nothing(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    done = run(tmp_path, "catalog", "import", str(_catalog_file(tmp_path, _bad_rows())))
    assert done.returncode == 1
    assert "1 valid prefabs, 3 invalid rows" in done.stdout
    assert "row 1: type: must be one of" in done.stderr
    assert "row 2: placement: must be an object" in done.stderr
    assert "row 3: row: must be an object" in done.stderr
    assert "nothing imported" in done.stderr
    assert _rows(tmp_path, "SELECT count(*) FROM prefabs") == [(0,)]


def test_catalog_import_skip_invalid_imports_the_valid_rows(tmp_path: Path) -> None:
    done = run(tmp_path, "catalog", "import", "--skip-invalid", str(_catalog_file(tmp_path, _bad_rows())))
    assert done.returncode == 0, done.stderr
    assert "row 1: type" in done.stderr and "imported: 1 new, 0 updated" in done.stdout
    assert _rows(tmp_path, "SELECT id FROM prefabs") == [("cli_fine",)]


async def test_an_import_is_served_by_a_fresh_app_and_invalidates_etags(tmp_path: Path, make_client: Any) -> None:
    first = await make_client()
    token = (await (await first.post("/api/v1/auth/login", json={"user_id": "alice"})).json())["token"]
    path = "/api/v1/prefab-catalog/?prefab_type=prop&limit=100"
    resp = await first.get(path, headers=bearer(token))
    etag, before = resp.headers["ETag"], await resp.json()
    done = run(tmp_path, "catalog", "import", str(_catalog_file(tmp_path, [_good("cli_new_prop", type="prop")])))
    assert done.returncode == 0, done.stderr
    fresh: TestClient = await make_client()
    resp = await fresh.get(path, headers={**bearer(token), "If-None-Match": etag})
    body = await resp.json()
    assert resp.status == 200 and resp.headers["ETag"] != etag
    assert body["total_count"] == before["total_count"] + 1
    assert "cli_new_prop" in {p["id"] for p in body["prefabs"]}
    # The app that was already running notices the new version on its next background poll.
    deadline = time.monotonic() + TIMEOUT
    while (await first.get(path, headers={**bearer(token), "If-None-Match": etag})).status == 304:
        assert time.monotonic() < deadline, "the running app never saw the import"
        await asyncio.sleep(0.05)


async def test_token_prints_a_token_the_app_accepts(tmp_path: Path, make_client: Any) -> None:
    done = run(tmp_path, "token", "operator-7")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[0]
    assert "operator-7" in done.stderr
    client = await make_client()
    resp = await client.get("/api/v1/auth/validate", headers=bearer(token))
    assert resp.status == 200 and (await resp.json())["user_id"] == "operator-7"


def test_config_prints_every_setting_with_value_source_and_help(tmp_path: Path) -> None:
    done = run(tmp_path, "config", IMMERSIVERSE_PORT="9123", SECRET_KEY="s3cret-from-the-env-" * 3)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert set(lines) == {s.name for s in SETTINGS}
    for s in SETTINGS:
        assert s.help in lines[s.name]
    assert lines["port"].split()[1] == "9123" and "[env:IMMERSIVERSE_PORT]" in lines["port"]
    assert "[env:DATABASE_URL]" in lines["database_url"] and "[default]" in lines["host"]
    assert "[env:SECRET_KEY]" in lines["secret_key"] and "s3cret" not in done.stdout


@pytest.mark.parametrize(("given", "shown"), [
    ("postgresql://user:pw@db:5432/app", "postgresql+asyncpg://user:***@db:5432/app"),
    ("postgres://user@db/app", "postgresql+asyncpg://user@db/app"),
    ("sqlite:///./data/x.db", "sqlite+aiosqlite:///./data/x.db"),
])
def test_config_gives_the_seeds_database_urls_their_async_driver(tmp_path: Path, given: str, shown: str) -> None:
    """The predecessor documented DATABASE_URL=postgresql://user:pass@host/db (original-README.md)."""
    done = run(tmp_path, "config", DATABASE_URL=given)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("database_url"))
    assert line.split()[1] == repr(shown) and "pw" not in line


def test_serve_answers_health_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    try:
        answer = get_json(f"{server.url}/health")
        assert answer is not None and answer[0] == 200 and answer[1]["status"] == "healthy"
        server.signal(signal.SIGTERM)
        assert server.wait(3 * TIMEOUT) == 0, server.output()
        assert get_json(f"{server.url}/health") is None
        output = server.output()
        assert f"{server.url}/preview" in output and f"{server.url}/docs" in output  # where a new user goes next
    finally:
        server.stop()


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["config"]])
def test_production_without_a_secret_key_refuses_to_start(tmp_path: Path, command: list[str]) -> None:
    done = run(tmp_path, *command, IMMERSIVERSE_ENVIRONMENT="production")
    assert done.returncode != 0
    assert "secret_key" in done.stderr and "production" in done.stderr and "SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "test.db").exists()


def test_production_with_a_secret_key_is_accepted(tmp_path: Path) -> None:
    done = run(tmp_path, "config", IMMERSIVERSE_ENVIRONMENT="production", SECRET_KEY="x" * 48)
    assert done.returncode == 0, done.stderr
    assert "'production'" in done.stdout


def test_with_reuse_port_two_processes_serve_one_port_and_without_it_the_second_cannot_bind(
        tmp_path: Path) -> None:
    """Several processes on one host (docs/operations.md §6): `reuse_port` lets each bind the
    same port (SO_REUSEPORT; the kernel spreads the connections over them)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = ServerProcess(tmp_path / "a", reuse_port=True, node_id="node-a")
    second = None
    try:
        second = ServerProcess(tmp_path / "b", port=first.port, reuse_port=True, node_id="node-b")
        deadline = time.monotonic() + 3 * TIMEOUT  # /health answered by the first: wait for its own bind
        while "listening on" not in second.output() and second.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "listening on" in second.output() and first.proc.poll() is None, second.output()
        first.stop()
        assert get_json(second.url + "/health") == (200, {"status": "healthy", "version": ANY})  # still served
        done = subprocess.run([EXE, "serve", "--port", str(first.port)], cwd=tmp_path / "a",
                              env=_env(tmp_path / "a"), capture_output=True, text=True, timeout=TIMEOUT * 3)
        assert done.returncode != 0 and "address already in use" in (done.stdout + done.stderr).lower(), done
    finally:
        first.stop()
        if second is not None:
            second.stop()
