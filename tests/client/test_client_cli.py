"""`immersiverse client` end to end: a real `immersiverse serve` process, the CLI as another."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT
from tests.support.serve import ServerProcess, free_port

EXE = shutil.which("immersiverse", path=str(Path(sys.executable).parent)) or shutil.which("immersiverse")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("IMMERSIVERSE_") and k not in ("DATABASE_URL", "SECRET_KEY")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`immersiverse serve` on a free port with its store in a temp dir; its base URL."""
    proc = ServerProcess(tmp_path_factory.mktemp("serve"))
    try:
        yield proc.url
    finally:
        proc.stop()


def _client(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert EXE
    return subprocess.run([EXE, "client", *args], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=6 * TIMEOUT, check=False)


def test_client_generates_and_saves_the_blueprint_and_map(server: str, tmp_path: Path) -> None:
    out, png = tmp_path / "world.json", tmp_path / "map.png"
    done = _client(tmp_path, "a misty pine forest with a ruined tower", "--url", server, "--seed", "4",
                   "--max-instances", "300", "--out", str(out), "--png", str(png))
    assert done.returncode == 0, done.stderr
    world = json.loads(out.read_text())
    instances = world["prefab_instances"]
    assert world["id"] and world["status"] == "complete" and world["seed"] == 4
    assert 0 < len(instances) <= 300 and len({i["id"] for i in instances}) == len(instances)
    first = instances[0]
    assert set(first["position"]) == {"x", "y", "z"} and set(first["rotation"]) == {"x", "y", "z", "w"}
    assert set(first["scale"]) == {"x", "y", "z"} and isinstance(first["properties"], dict)
    assert world["spawn_points"] and world["environment_settings"] and world["bounds"]
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 1000
    assert f"{len(instances)}/{len(instances)} instances" in done.stderr  # the progress bar finished
    # the server stored the same world, reachable over REST by the guest who made it
    login = urllib.request.Request(f"{server}/api/v1/auth/login", data=b'{"user_id": "cli-guest"}',
                                   headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(login, timeout=TIMEOUT) as resp:
        token = json.loads(resp.read())["token"]
    get = urllib.request.Request(f"{server}/api/v1/worlds/{world['id']}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(get, timeout=TIMEOUT) as resp:
        stored = json.loads(resp.read())
    stored = stored["world_blueprint"]
    assert set(world) <= set(stored)  # the same blueprint shape as the REST surface's
    assert stored["prefab_instances"] == instances  # ids, order, transforms, properties
    assert stored["title"] == world["title"] and stored["spawn_points"] == world["spawn_points"]


def test_client_reports_a_refused_prompt(server: str, tmp_path: Path) -> None:
    done = _client(tmp_path, "   ", "--url", server, "--out", str(tmp_path / "w.json"))
    assert done.returncode == 1 and "invalid_value" in done.stderr
    assert not (tmp_path / "w.json").exists()


def test_client_reports_a_bad_token_and_an_unreachable_server(server: str, tmp_path: Path) -> None:
    done = _client(tmp_path, "a farm", "--url", server, "--token", "garbage")
    assert done.returncode == 2 and "4500" in done.stderr
    done = _client(tmp_path, "a farm", "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 2 and "cannot reach" in done.stderr


def test_client_png_map_png_and_generate_png_draw_the_same_picture(server: str, tmp_path: Path) -> None:
    """One drawing (generator/render.py) from the header's terrain data (docs/protocol.md §6.6):
    the map the client saves, the server's map.png and `generate --png` are the same bytes."""
    args = ("a fishing village by a lake with a river, a road and a stone bridge", "--seed", "7",
            "--max-instances", "400")
    out, client_png, local_png = tmp_path / "world.json", tmp_path / "client.png", tmp_path / "local.png"
    done = _client(tmp_path, args[0], "--url", server, *args[1:], "--out", str(out), "--png", str(client_png))
    assert done.returncode == 0, done.stderr
    world = json.loads(out.read_text())
    assert world["terrain"]["masks"]["water"] != [world["terrain"]["masks"]["resolution"] ** 2]
    assert EXE
    local = subprocess.run([EXE, "generate", *args, "--png", str(local_png), "--out", str(tmp_path / "l.json")],
                           cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                           timeout=6 * TIMEOUT, check=False)
    assert local.returncode == 0, local.stderr
    assert json.loads((tmp_path / "l.json").read_text())["prefab_instances"] == world["prefab_instances"]
    login = urllib.request.Request(f"{server}/api/v1/auth/login", data=b'{"user_id": "cli-guest"}',
                                   headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(login, timeout=TIMEOUT) as resp:
        token = json.loads(resp.read())["token"]
    get = urllib.request.Request(f"{server}/api/v1/worlds/{world['id']}/map.png",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(get, timeout=TIMEOUT) as resp:
        served = resp.read()
    assert served[:8] == PNG_MAGIC
    assert client_png.read_bytes() == served == local_png.read_bytes()
