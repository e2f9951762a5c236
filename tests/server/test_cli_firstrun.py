"""A new user's first commands (issue 16 §2): clean stdout, pipes, --config, a busy port,
migrate's report, catalog import messages, generate with the server's catalog, --help."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from persistence.catalog import SHIPPED_CATALOG, read_catalog_file
from server.cli import build_parser
from tests.conftest import bearer, login
from tests.server.test_cli import EXE, _env, run


def test_generate_writes_only_the_blueprint_json_to_stdout(tmp_path: Path) -> None:
    done = run(tmp_path, "generate", "a misty pine forest around a lake", "--seed", "3", "--max-instances", "300")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # the whole document, not a status line and a truncated dump
    assert len(doc["prefab_instances"]) > 0 and doc["seed"] == 3
    assert "instances in" in done.stderr and "instances in" not in done.stdout


def test_generate_with_out_and_png_keeps_stdout_empty(tmp_path: Path) -> None:
    done = run(tmp_path, "generate", "a village", "--out", "v.json", "--png", "v.png")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "blueprint written to v.json" in done.stderr
    assert json.loads((tmp_path / "v.json").read_text())["prefab_instances"]
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("command", [["config"], ["generate", "a village"]])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, command: list[str]) -> None:
    """`immersiverse config | head`: the reader is gone before the command writes."""
    assert EXE
    read_end, write_end = os.pipe()
    os.close(read_end)  # deterministic: every write meets a closed pipe
    try:
        done = subprocess.run([EXE, *command], cwd=tmp_path, env=_env(tmp_path), stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141  # 128 + SIGPIPE, as `yes | head` reports


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["config"], ["generate", "a village"],
                                     ["catalog", "import", "x.json"], ["token", "bob"]])
@pytest.mark.parametrize("before", [True, False], ids=["before-command", "after-command"])
def test_a_missing_config_file_is_an_error(tmp_path: Path, command: list[str], before: bool) -> None:
    args = ["--config", "prod.toml", *command] if before else [*command, "--config", "prod.toml"]
    done = run(tmp_path, *args)
    assert done.returncode != 0
    assert done.stderr.strip() == "configuration error: --config prod.toml: no such file"
    assert not (tmp_path / "test.db").exists()


def test_a_config_file_named_with_config_is_read(tmp_path: Path) -> None:
    (tmp_path / "prod.toml").write_text("port = 9321\n")
    done = run(tmp_path, "config", "--config", "prod.toml")
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("port"))
    assert "9321" in line and "[prod.toml]" in line


def test_a_port_in_use_is_one_line_naming_the_way_out(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"cannot listen on 127.0.0.1:{port}: address already in use")
    assert "--port" in last and "IMMERSIVERSE_PORT" in last and "make serve PORT=" in last


def test_migrate_says_what_it_did(tmp_path: Path) -> None:
    first = run(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created the store at ") and "latest schema" in first.stdout
    again = run(tmp_path, "migrate")
    assert again.returncode == 0 and "is already at the latest schema" in again.stdout


@pytest.mark.parametrize(("content", "reason"), [
    (b"<html>not json</html>", "not valid JSON: Expecting value at line 1 column 1"),
    (b"\x89PNG\r\n\x1a\n\x00", "not a JSON file: it is not UTF-8 text"),
    (b'{"name": "a prefab"}', "expected a list of prefabs"),
])
def test_catalog_import_of_a_file_that_is_not_a_catalog_says_so(tmp_path: Path, content: bytes,
                                                                 reason: str) -> None:
    (tmp_path / "x.json").write_bytes(content)
    done = run(tmp_path, "catalog", "import", "x.json")
    assert done.returncode == 1
    assert f"cannot import x.json: {reason}" in done.stderr and "docs/catalog.md" in done.stderr
    assert "fix the rows above" not in done.stderr and "Traceback" not in done.stderr


def test_catalog_import_lists_every_problem_of_a_row(tmp_path: Path) -> None:
    _, rows, _ = read_catalog_file(SHIPPED_CATALOG)
    bad = {**rows[0], "id": "Bad Id", "type": "tank", "placement": {**rows[0]["placement"], "width": 0}}
    del bad["description"]
    (tmp_path / "x.json").write_text(json.dumps([bad]))
    done = run(tmp_path, "catalog", "import", "x.json")
    assert done.returncode == 1
    for field in ("id", "type", "description", "placement.width"):
        assert f"invalid row 0: {field}: must" in done.stderr, done.stderr


def _subparser(name: str) -> argparse.ArgumentParser:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = action.choices[name]
    return parser


@pytest.mark.parametrize("name", ["client", "generate", "serve"])
def test_every_option_has_a_description(name: str) -> None:
    for action in _subparser(name)._actions:
        assert action.help, f"immersiverse {name} {action.option_strings or action.dest} has no help"


def _scaled_catalog(tmp_path: Path) -> Path:
    """The shipped catalog with every prefab's scale pinned: any world made from it differs
    from one made from the shipped file."""
    _, rows, _ = read_catalog_file(SHIPPED_CATALOG)
    for row in rows:
        row["placement"].update(scale_min=1.7, scale_max=1.7)
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"catalog_version": "studio-7", "prefabs": rows}))
    return path


def _shape(instances: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["prefab_id"], round(i["position"]["x"], 3), round(i["position"]["z"], 3),
             round(i["scale"]["x"], 3)) for i in instances]


async def test_generate_reproduces_the_servers_world_after_an_import(tmp_path: Path, make_client: Any) -> None:
    export = _scaled_catalog(tmp_path)
    assert run(tmp_path, "catalog", "import", str(export)).returncode == 0
    client = await make_client()
    resp = await client.post("/api/v1/prompt2world", headers=bearer(await login(client)),
                             json={"prompt": "a misty pine forest around a lake", "seed": 5, "max_instances": 200})
    assert resp.status == 200, await resp.text()
    served = _shape((await resp.json())["world_blueprint"]["prefab_instances"])
    args = ("generate", "a misty pine forest around a lake", "--seed", "5", "--max-instances", "200")
    shipped = run(tmp_path, *args)
    assert shipped.returncode == 0 and _shape(json.loads(shipped.stdout)["prefab_instances"]) != served
    for catalog in ("store", str(export)):
        done = run(tmp_path, *args, "--catalog", catalog)
        assert done.returncode == 0, done.stderr
        assert _shape(json.loads(done.stdout)["prefab_instances"]) == served, catalog
        assert "catalog studio-7" in done.stderr


def test_generate_with_an_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    done = run(tmp_path, "generate", "a village", "--catalog", "store")
    assert done.returncode == 2 and "has no prefabs" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(("given", "expected"), [((), " serve"), (("PORT=9001",), " serve --port 9001"),
                                                 (("PORT=9001", "HOST=0.0.0.0"), " serve --host 0.0.0.0 --port 9001")])
def test_make_serve_passes_port_and_host(given: tuple[str, ...], expected: str) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(["make", "--no-print-directory", "-n", "serve", *given], cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    command = done.stdout.strip().splitlines()[-1]
    assert " ".join(command.split()).endswith("immersiverse" + expected), command  # dry run: nothing starts
