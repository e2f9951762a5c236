"""The `immersiverse` command: serve, migrate, catalog import, token, config, generate, client."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from . import config as config_mod

log = logging.getLogger("immersiverse")


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    try:
        return config_mod.resolve(args.config, overrides={k: v for k, v in overrides.items() if v is not None})[0]
    except config_mod.ConfigError as exc:
        sys.exit(f"configuration error: {exc}")


def cmd_serve(args: argparse.Namespace) -> int:
    from .logs import setup
    from .runner import serve

    settings = _settings(args, host=args.host, port=args.port)
    setup(settings.log_level, settings.log_json)
    for warning in config_mod.startup_warnings(settings):
        log.warning("%s", warning)
    return serve(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from persistence.db import migrate

    settings = _settings(args)
    migrate(settings.database_url)
    print(f"store at {config_mod._mask_url_password(settings.database_url)} is at the latest schema")
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from persistence.catalog import read_catalog_file
    from persistence.db import migrate
    from persistence.store import Store

    settings = _settings(args)
    if not Path(args.file).is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    version, rows, problems = read_catalog_file(args.file)
    for index, row, reason in problems:
        where = "file" if index < 0 else f"row {index}"
        print(f"invalid {where}: {reason}\n    {json.dumps(row)[:300] if row is not None else ''}", file=sys.stderr)
    print(f"{len(rows)} valid prefabs, {len(problems)} invalid rows in {args.file}")
    if problems and not args.skip_invalid:
        print("nothing imported: fix the rows above or pass --skip-invalid", file=sys.stderr)
        return 1
    if not rows:
        print("nothing to import", file=sys.stderr)
        return 1

    async def run() -> tuple[int, int]:
        store = Store(settings.database_url)
        try:
            return await store.catalog.upsert(rows, version)
        finally:
            await store.close()

    migrate(settings.database_url)
    inserted, updated = asyncio.run(run())
    print(f"imported: {inserted} new, {updated} updated (catalog version {version or 'import stamp'})")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from persistence.db import migrate
    from persistence.store import Store

    from .auth import TokenService, guest_name

    settings = _settings(args)

    tokens = TokenService(settings)

    async def ensure_user() -> None:
        store = Store(settings.database_url)
        try:
            if await store.users.get(args.user) is None:  # named like any guest: never by its id
                await store.users.ensure_guest(args.user, guest_name(tokens.public_id(args.user)))
        finally:
            await store.close()

    migrate(settings.database_url)
    asyncio.run(ensure_user())
    token, ident = tokens.mint(args.user)
    print(token)
    print(f"# user {args.user}, session {ident.session_id}, expires {ident.expires_at.isoformat()}",
          file=sys.stderr)
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    try:
        settings, sources = config_mod.resolve(args.config)
    except config_mod.ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    rows = config_mod.describe(settings, sources)
    width = max(len(r[0]) for r in rows)
    vwidth = min(44, max(len(r[1]) for r in rows))
    for name, value, source, help_ in rows:
        print(f"{name:<{width}}  {value:<{vwidth}}  [{source}]  {help_}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .generate_cli import run_generate

    return run_generate(args)


def cmd_client(args: argparse.Namespace) -> int:
    from client.cli import run_client

    return run_client(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="immersiverse", description=__doc__)
    parser.add_argument("--config", default="config.toml", help="settings file (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server")
    p.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default from config: 8000)")
    p.add_argument("--config", default=argparse.SUPPRESS, help="settings file")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="upgrade the store's schema to the latest revision")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("catalog", help="manage the prefab catalog")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    pi = csub.add_parser("import", help="validate and upsert prefabs from a Unity-exported JSON file")
    pi.add_argument("file")
    pi.add_argument("--skip-invalid", action="store_true", help="import the valid rows even if some are bad")
    pi.set_defaults(func=cmd_catalog_import)

    p = sub.add_parser("token", help="mint a token for USER (operators)")
    p.add_argument("user")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("config", help="print every setting with its value, source and help")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("generate", help="generate a world offline (blueprint JSON, PNG map, or --eval)")
    p.add_argument("prompt", nargs="?")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--world-type")
    p.add_argument("--max-instances", type=int, default=500)
    p.add_argument("--out", help="write the blueprint JSON here")
    p.add_argument("--png", help="write a top-down map PNG here")
    p.add_argument("--eval", metavar="PROMPTS.txt", help="score every prompt of a file and print a table")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("client", help="generate a world over the WebSocket and save it")
    p.add_argument("prompt")
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--token")
    p.add_argument("--user", default="cli-guest")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-instances", type=int)
    p.add_argument("--out", default="world.json")
    p.add_argument("--png")
    p.set_defaults(func=cmd_client)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
