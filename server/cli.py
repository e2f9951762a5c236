"""The `immersiverse` command: serve, migrate, catalog import, token, config, generate, client."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from . import config as config_mod
from .config import DEFAULT_CONFIG, resolve_settings

log = logging.getLogger("immersiverse")




def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    return resolve_settings(args, **overrides)[0]


def cmd_serve(args: argparse.Namespace) -> int:
    from .logs import setup
    from .runner import serve

    settings = _settings(args, host=args.host, port=args.port)
    setup(settings.log_level, settings.log_json)
    for warning in config_mod.startup_warnings(settings):
        log.warning("%s", warning)
    try:
        return serve(settings)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        reason = os.strerror(exc.errno).lower()
        print(f"cannot listen on {settings.host}:{settings.port}: {reason}; choose another port with "
              f"--port N or IMMERSIVERSE_PORT=N (make serve PORT=N), or another address with --host",
              file=sys.stderr)
        return 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from persistence.db import migrate, schema_revision

    settings = _settings(args)
    where = config_mod._mask_url_password(settings.database_url)
    before = schema_revision(settings.database_url)
    migrate(settings.database_url)
    after = schema_revision(settings.database_url)
    if before == after:
        print(f"store at {where} is already at the latest schema ({after})")
    elif before is None:
        print(f"created the store at {where} with the latest schema ({after})")
    else:
        print(f"upgraded the store at {where} from schema {before} to {after}")
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
    if problems and problems[0][0] < 0:  # the file itself: not JSON, or not a catalog
        for reason in problems[0][2]:
            print(f"cannot import {args.file}: {reason}", file=sys.stderr)
        print("a catalog file is JSON as described in docs/catalog.md "
              "(schema: persistence/data/catalog.schema.json)", file=sys.stderr)
        return 1
    for index, row, reasons in problems:
        for reason in reasons:
            print(f"invalid row {index}: {reason}", file=sys.stderr)
        print(f"    {json.dumps(row)[:300]}", file=sys.stderr)
    print(f"{len(rows)} valid prefabs, {len(problems)} invalid rows in {args.file}")
    if problems and not args.skip_invalid:
        print("nothing imported: fix the rows above or pass --skip-invalid", file=sys.stderr)
        return 1
    if not rows:
        print("nothing to import", file=sys.stderr)
        return 1

    async def run() -> tuple[int, int]:
        from .app import shipped_catalog_label

        store = Store(settings.database_url)
        try:
            if not settings.catalog_file and await store.catalog.shipped_version() is None:
                # Imported before the server's first start: that start must not load the
                # shipped catalog over this one (docs/catalog.md §4).
                await store.catalog.mark_shipped(shipped_catalog_label())
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
    settings, sources = resolve_settings(args)
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
    config_help = f"settings file (default: ./{DEFAULT_CONFIG} when it exists); a file named here must exist"
    parser.add_argument("--config", default=None, help=config_help)
    # Every command also takes --config after its name (`immersiverse serve --config prod.toml`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", parents=[common], help="run the server")
    p.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default from config: 8000; or IMMERSIVERSE_PORT)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", parents=[common],
                       help="create the store or upgrade its schema to the latest revision")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("catalog", help="manage the prefab catalog")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    pi = csub.add_parser("import", parents=[common],
                         help="validate and upsert prefabs from a Unity-exported JSON file (docs/catalog.md)")
    pi.add_argument("file", help="catalog JSON file (format: docs/catalog.md)")
    pi.add_argument("--skip-invalid", action="store_true", help="import the valid rows even if some are bad")
    pi.set_defaults(func=cmd_catalog_import)

    p = sub.add_parser("token", parents=[common], help="mint a token for USER (operators)")
    p.add_argument("user", help="the user id the token is for (created as a guest if unknown)")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("config", parents=[common], help="print every setting with its value, source and help")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("generate", parents=[common],
                       help="generate a world offline (blueprint JSON, PNG map, or --eval)")
    p.add_argument("prompt", nargs="?", help="what to build, in plain words")
    p.add_argument("--seed", type=int, default=0, help="same prompt, seed and catalog = same world (default 0)")
    p.add_argument("--world-type", help="fantasy, sci_fi, realistic, ... (default: read from the prompt)")
    p.add_argument("--max-instances", type=int, default=500, help="instance budget (default 500)")
    p.add_argument("--catalog", metavar="FILE|store",
                   help="a catalog file, or `store` for the prefabs the server serves (default: the "
                        "catalog_file setting, else the shipped catalog; docs/catalog.md §5)")
    p.add_argument("--out", help="write the blueprint JSON here (default: to stdout, unless --png)")
    p.add_argument("--png", help="write a top-down map PNG here")
    p.add_argument("--eval", metavar="PROMPTS.txt", help="score every prompt of a file and print a table")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("client", help="generate a world over the WebSocket and save it (docs/client.md)")
    p.add_argument("prompt", help="what to build, in plain words")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)")
    p.add_argument("--token", help="a bearer token (default: log in as a guest, see --user)")
    p.add_argument("--user", default="cli-guest", help="guest user id to log in as (default cli-guest)")
    p.add_argument("--seed", type=int, help="generation seed (default: the server picks one)")
    p.add_argument("--max-instances", type=int, help="instance budget (default: the server's default_instances)")
    p.add_argument("--out", default="world.json", help="where to write the world's blueprint JSON (default world.json)")
    p.add_argument("--png", help="also write a top-down map PNG here")
    p.set_defaults(func=cmd_client)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
    except BrokenPipeError:
        # `immersiverse config | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's own flush at exit does not fail again, and exit as `yes | head` does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # SIGPIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
