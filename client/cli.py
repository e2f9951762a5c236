"""``immersiverse client "prompt"``: generate a world over the WebSocket and save it.

Logs in as a guest (``POST /api/v1/auth/login {"user_id": --user}``) unless ``--token`` is
given, streams the generation with a progress bar on stderr, writes the world as the seed's
blueprint JSON to ``--out`` and, with ``--png``, a top-down map. Exit codes: 0 success, 1 the
server refused or failed the generation, 2 cannot log in or connect, 3 cannot write the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from websockets.exceptions import InvalidHandshake

from protocol import messages as m
from records import InstanceRecord

from .errors import ClientError, ServerError, SessionClosed
from .session import connect

__all__ = ["blueprint", "run_client"]

EXIT_OK, EXIT_FAILED, EXIT_CONNECT, EXIT_OUTPUT = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def http_base(url: str) -> str:
    """The REST base for --url (``http://h:p``; a ws[s]:// URL maps to http[s]://)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--url must look like http://host:port (got {url!r})", EXIT_CONNECT)
    path = parts.path.rstrip("/")
    path = path.removesuffix("/ws")
    return urlunsplit((scheme, parts.netloc, path, "", ""))


DEVICE_SECRET_ENV = "IMMERSIVERSE_DEVICE_SECRET"


async def guest_login(base: str, user: str) -> str:
    """A guest token. The id's device secret (docs/operations.md, Security settings) is sent from
    $IMMERSIVERSE_DEVICE_SECRET; a newly issued one is printed once on stderr."""
    request: dict[str, str] = {"user_id": user}
    if os.environ.get(DEVICE_SECRET_ENV):
        request["device_secret"] = os.environ[DEVICE_SECRET_ENV]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http, \
                http.post(f"{base}/api/v1/auth/login", json=request) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(body, dict) or "token" not in body:
                detail = body.get("message") if isinstance(body, dict) else body
                raise CliError(f"guest login as {user!r} failed: HTTP {resp.status}: {detail}", EXIT_CONNECT)
            if body.get("device_secret"):
                print(f"device secret for {user!r} (set {DEVICE_SECRET_ENV} to it to log in as {user!r} again): "
                      f"{body['device_secret']}", file=sys.stderr)
            return str(body["token"])
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise CliError(f"cannot reach {base}: {exc or type(exc).__name__}", EXIT_CONNECT) from None


class Progress:
    """``[#####.....]  812/1600 instances`` on stderr; a plain counter when the total is unknown."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.tty = stream.isatty()
        self.last = 0.0

    def update(self, done: int, total: int | None, final: bool = False) -> None:
        now = time.monotonic()
        if not final and not self.tty and now - self.last < 0.5:
            return  # a pipe gets a line every half second, not one per chunk
        self.last = now
        if total:
            filled = min(self.width, self.width * done // total)
            line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} instances"
        else:
            line = f"{done} instances"
        self.stream.write(("\r" if self.tty else "") + line + ("\n" if final or not self.tty else ""))
        self.stream.flush()


def header_json(header: Mapping[str, Any]) -> dict[str, Any]:
    """Socket header (§6.5: Vector3 as [x, y, z]) → the REST shape ({x, y, z} objects)."""
    h = dict(header)

    def vec(v: Sequence[float]) -> dict[str, float]:
        return {"x": v[0], "y": v[1], "z": v[2]}

    if "spawn_points" in h:
        h["spawn_points"] = [vec(p) for p in h["spawn_points"]]
    if isinstance(h.get("bounds"), Mapping):
        h["bounds"] = {"min": vec(h["bounds"]["min"]), "max": vec(h["bounds"]["max"])}
    return h


def blueprint(prompt: str, start: m.GenStart, done: m.GenDone,
              instances: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The world in the seed's ``world_blueprint`` shape, as ``GET /api/v1/worlds/{id}`` has it."""
    h = header_json(start.header)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": start.world_id, "prompt": prompt, "world_type": h.get("world_type"), "title": h.get("title"),
        "description": h.get("description"), "environment_settings": h.get("environment_settings", {}),
        "prefab_instances": [InstanceRecord.from_wire(i).blueprint() for i in instances],
        "spawn_points": h.get("spawn_points", []),
        "created_at": now, "updated_at": now, "processing_time_ms": float(done.timings.get("total_ms", 0.0)),
        "status": "complete" if done.status == "complete" else "partial", "seed": h.get("seed"),
        "bounds": h.get("bounds"), "terrain": h.get("terrain"), "warnings": list(done.warnings),
        "trace": h.get("trace", []), "generator_version": h.get("generator_version"),
        "catalog_version": h.get("catalog_version"),
    }


def render_png(header: Mapping[str, Any], instances: Sequence[Mapping[str, Any]],
               prefabs: Sequence[Mapping[str, Any]] = ()) -> bytes:
    """The map ``generate --png`` and ``map.png`` draw: the ground from the header's terrain data,
    footprints from the server's catalog (``prefabs`` as the REST catalog lists them)."""
    from generator import Catalog
    from generator.render import render_png as render

    records = [{"id": p["id"], "name": p["name"], "type": p["type"], "tags": p.get("tags", []),
                "world_types": p["properties"]["world_types"],
                "placement": p["properties"]["placement"]} for p in prefabs]
    catalog = Catalog.from_records(records, "rest") if records else None
    return render((header_json(header), [InstanceRecord.from_wire(i) for i in instances]), catalog=catalog)


async def fetch_prefabs(base: str, token: str) -> list[dict[str, Any]]:
    """Every prefab of the server's catalog, page by page (GET /api/v1/prefab-catalog/)."""
    out: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            for _ in range(1000):  # bounded: 100 000 prefabs at most
                async with http.get(f"{base}/api/v1/prefab-catalog/",
                                    params={"limit": 100, "offset": len(out)},
                                    headers={"Authorization": f"Bearer {token}"}) as resp:
                    body = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(body, dict):
                    raise CliError(f"cannot read the prefab catalog: HTTP {resp.status}", EXIT_FAILED)
                out += body["prefabs"]
                if not body["prefabs"] or len(out) >= int(body["total_count"]):
                    break
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
        raise CliError(f"cannot read the prefab catalog at {base}: {exc or type(exc).__name__}",
                       EXIT_CONNECT) from None
    return out


async def _run(args: argparse.Namespace, err: TextIO) -> int:
    base = http_base(args.url)
    token = args.token or await guest_login(base, args.user)
    ws = base.replace("http", "ws", 1) + "/ws"
    progress = Progress(err)
    try:
        async with connect(ws, token, reconnect=False) as session:
            gen = session.generate(args.prompt, seed=args.seed, max_instances=args.max_instances, room=False)
            async for msg in gen:
                if isinstance(msg, m.GenStart):
                    err.write(f"world {msg.world_id}: {msg.header.get('title', '')}\n")
                elif isinstance(msg, m.GenChunk):
                    progress.update(len(gen.instances), gen.expected)
            done = gen.done
            assert done is not None and gen.start is not None
            progress.update(len(gen.instances), gen.expected, final=True)
    except ServerError as exc:
        raise CliError(f"the server refused the prompt: {exc}", EXIT_FAILED) from None
    except SessionClosed as exc:
        raise CliError(f"cannot use the session at {ws}: {exc}", EXIT_CONNECT) from None
    except ClientError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        raise CliError(f"cannot connect to {ws}: {exc or type(exc).__name__}", EXIT_CONNECT) from None
    if done.status != "complete":
        raise CliError(f"generation ended with status {done.status}", EXIT_FAILED)
    world = blueprint(args.prompt, gen.start, done, gen.instances)
    prefabs = await fetch_prefabs(base, token) if args.png else []
    try:
        out = Path(args.out)
        out.write_text(json.dumps(world, indent=2) + "\n", encoding="utf-8")  # noqa: ASYNC240 (session over)
        err.write(f"saved {len(gen.instances)} instances to {out}\n")
        if args.png:
            Path(args.png).write_bytes(render_png(gen.start.header, gen.instances, prefabs))  # noqa: ASYNC240
            err.write(f"saved map to {args.png}\n")
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot write the output: {exc}", EXIT_OUTPUT) from None
    return EXIT_OK


def run_client(args: argparse.Namespace) -> int:
    """Entry point of ``immersiverse client`` (server/cli.py builds ``args``)."""
    err = sys.stderr
    try:
        return asyncio.run(_run(args, err))
    except CliError as exc:
        err.write(f"error: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
