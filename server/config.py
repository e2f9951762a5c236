"""Configuration: one declarative table, one frozen settings object.

Every key has a default and a help line (Datasette's ``SETTINGS`` pattern). Values come
from, in increasing priority: the default, ``config.toml``, the environment
(``IMMERSIVERSE_<KEY>``; plus ``DATABASE_URL`` and ``SECRET_KEY`` without prefix, as
the predecessor service read them). ``immersiverse config`` prints the table.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

DEFAULT_SECRET = "dev-insecure-default-secret-change-me-in-production"


class ConfigError(ValueError):
    """A setting has an unusable value; the message names the key and its source."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    # -- process ---------------------------------------------------------------
    Setting("environment", "development", "development or production; production refuses the default secret_key"),
    Setting("host", "127.0.0.1", "address `immersiverse serve` binds to"),
    Setting("port", 8000, "TCP port `immersiverse serve` binds to"),
    Setting("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting("log_json", False, "emit one JSON object per log line (for log shippers)"),
    Setting("drain_timeout_s", 10.0, "on SIGTERM: seconds to finish generations and flush telemetry before exit"),
    Setting("gc_gen0_threshold", 10_000, "Python cyclic GC: allocations between young-generation collections (0 = Python's default, 700)"),
    Setting("gc_freeze", True, "after start-up, move every object alive (modules, catalog) out of the GC's scans (gc.freeze)"),
    # -- store -----------------------------------------------------------------
    Setting("database_url", "sqlite+aiosqlite:///./data/immersiverse.db", "SQLAlchemy URL; sqlite+aiosqlite (embedded, WAL) or postgresql+asyncpg"),
    Setting("db_pool_size", 10, "connection pool size (PostgreSQL)"),
    Setting("auto_migrate", True, "run Alembic migrations to head when the server starts"),
    Setting("catalog_file", "", "prefab catalog JSON loaded at start; empty = the shipped catalog"),
    # -- auth --------------------------------------------------------------------
    Setting("secret_key", DEFAULT_SECRET, "HMAC key for tokens; must be changed in production"),
    Setting("jwt_algorithm", "HS256", "token signing algorithm (HS256, HS384 or HS512); pinned when verifying"),
    Setting("jwt_issuer", "immersiverse", "the `iss` claim minted and required"),
    Setting("jwt_audience", "immersiverse-clients", "the `aud` claim minted and required"),
    Setting("token_ttl_s", 86400, "token lifetime in seconds"),
    Setting("guest_login", True, "allow device/guest login with only a user_id (the seed's behaviour)"),
    Setting("login_attempts_per_min", 10, "failed password logins allowed per account and per IP per minute"),
    Setting("revocation_poll_s", 2.0, "how often open sockets re-check their token against revocations"),
    # -- REST --------------------------------------------------------------------
    Setting("max_body_bytes", 1_048_576, "largest accepted REST request body (413 beyond)"),
    Setting("cors_origins", "*", "comma-separated origins allowed by CORS, * for any"),
    # -- generation --------------------------------------------------------------
    Setting("default_instances", 500, "instances generated when a request names no max_instances"),
    Setting("max_instances", 20_000, "largest world one prompt may generate"),
    Setting("max_instances_per_world", 50_000, "instances a world may hold; edits adding beyond it are refused (limit_exceeded)"),
    Setting("max_worlds_per_user", 1000, "worlds a user may own; beyond it generation is refused"),
    Setting("max_prompt_chars", 1000, "longest prompt accepted"),
    # -- WebSocket session -------------------------------------------------------
    Setting("hello_timeout_s", 10.0, "seconds a socket without a header token has to send a valid hello"),
    Setting("heartbeat_s", 15.0, "a WebSocket ping is sent after this long without a frame; clients send something this often"),
    Setting("pong_timeout_s", 7.5, "a WebSocket ping unanswered (and no other frame) this long closes with 4000"),
    Setting("idle_timeout_s", 45.0, "close (4000) a socket that sent no message for this long; pings and pongs do not count"),
    Setting("max_frame_bytes", 1_048_576, "largest inbound frame (close 1009 beyond)"),
    Setting("msgs_per_s", 50.0, "per-connection token-bucket refill rate for inbound frames"),
    Setting("msgs_burst", 200, "per-connection token-bucket size for inbound frames"),
    Setting("prompts_per_min", 20, "per-connection budget of prompt frames per minute"),
    Setting("max_generations", 3, "concurrent generations per connection"),
    Setting("chunk_size", 128, "instances per gen.chunk / snapshot frame"),
    Setting("send_queue_bytes", 8_388_608, "per-connection outbound queue bound; overflow closes with 4001"),
    Setting("slow_close_grace_s", 2.0, "a slow consumer's connection is aborted this long after its bye and close frame"),
    Setting("max_connections_per_user", 20, "open sockets one user may hold"),
    Setting("max_connections_per_ip", 200, "open sockets one IP may hold"),
    Setting("bad_frames_before_close", 5, "protocol violations (errors 1000-1011) within bad_frames_window_s that close with 4503"),
    Setting("bad_frames_window_s", 60.0, "the sliding window over which protocol violations are counted"),
    # -- telemetry ---------------------------------------------------------------
    Setting("telemetry_buffer_events", 20_000, "write-behind buffer size; when full, sockets stop being read"),
    Setting("telemetry_flush_ms", 20, "longest wait before a partial batch is written"),
    Setting("telemetry_batch", 2000, "largest batch of events written in one insert"),
    Setting("telemetry_max_events", 500, "most events in one telemetry frame or REST batch"),
    Setting("telemetry_max_event_bytes", 8192, "largest encoded data payload of one event"),
    # -- worlds ------------------------------------------------------------------
    Setting("oplog_retention_ops", 10_000, "ops kept per world for resume; older ones are compacted away"),
    Setting("presence_per_s", 10.0, "presence (cursor/selection) updates per second per connection"),
    # -- scale-out ---------------------------------------------------------------
    Setting("broker", "memory", "memory (one process) or redis (several nodes)"),
    Setting("redis_url", "redis://127.0.0.1:6379/0", "Redis used when broker = redis"),
    Setting("node_id", "", "this node's name in presence; empty = hostname:pid"),
    Setting("presence_ttl_s", 15.0, "redis broker: a member of a node that stopped refreshing (died) is dropped after this long"),
)

_BY_NAME = {s.name: s for s in SETTINGS}
# Variables the predecessor documented, honoured without the prefix.
_BARE_ENV = {"database_url": "DATABASE_URL", "secret_key": "SECRET_KEY"}
_ENV_PREFIX = "IMMERSIVERSE_"


def _field(s: Setting) -> Any:
    return dataclasses.field(default=s.default)


if TYPE_CHECKING:
    # The static shape of the generated class below, for type checkers only: one attribute per
    # SETTINGS row, in order, typed as its default (tests/test_typing.py checks they agree).
    @dataclass(frozen=True, slots=True)
    class Settings:
        environment: str
        host: str
        port: int
        log_level: str
        log_json: bool
        drain_timeout_s: float
        gc_gen0_threshold: int
        gc_freeze: bool
        database_url: str
        db_pool_size: int
        auto_migrate: bool
        catalog_file: str
        secret_key: str
        jwt_algorithm: str
        jwt_issuer: str
        jwt_audience: str
        token_ttl_s: int
        guest_login: bool
        login_attempts_per_min: int
        revocation_poll_s: float
        max_body_bytes: int
        cors_origins: str
        default_instances: int
        max_instances: int
        max_instances_per_world: int
        max_worlds_per_user: int
        max_prompt_chars: int
        hello_timeout_s: float
        heartbeat_s: float
        pong_timeout_s: float
        idle_timeout_s: float
        max_frame_bytes: int
        msgs_per_s: float
        msgs_burst: int
        prompts_per_min: int
        max_generations: int
        chunk_size: int
        send_queue_bytes: int
        slow_close_grace_s: float
        max_connections_per_user: int
        max_connections_per_ip: int
        bad_frames_before_close: int
        bad_frames_window_s: float
        telemetry_buffer_events: int
        telemetry_flush_ms: int
        telemetry_batch: int
        telemetry_max_events: int
        telemetry_max_event_bytes: int
        oplog_retention_ops: int
        presence_per_s: float
        broker: str
        redis_url: str
        node_id: str
        presence_ttl_s: float
else:
    Settings = dataclasses.make_dataclass(
        "Settings",
        [(s.name, type(s.default), _field(s)) for s in SETTINGS],
        frozen=True,
        slots=True,
    )
    Settings.__doc__ = "Every setting of one server process (see SETTINGS for meaning)."


def _coerce(setting: Setting, raw: Any, source: str) -> Any:
    kind = type(setting.default)
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if kind is float:
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{setting.name}: {raw!r} from {source} is not a valid {kind.__name__}") from None


def resolve(
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Build Settings and the source of each value ("default", the file, "env:NAME", "override")."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}
    if config_path is not None and Path(config_path).exists():
        with open(config_path, "rb") as fh:
            data = tomllib.load(fh)
        for key, raw in data.items():
            if key not in _BY_NAME:
                raise ConfigError(f"{config_path}: unknown setting {key!r}")
            values[key] = _coerce(_BY_NAME[key], raw, str(config_path))
            sources[key] = str(config_path)
    for s in SETTINGS:
        for var in (_ENV_PREFIX + s.name.upper(), _BARE_ENV.get(s.name)):
            if var and var in env:
                values[s.name] = _coerce(s, env[var], f"env:{var}")
                sources[s.name] = f"env:{var}"
                break
    for key, raw in (overrides or {}).items():
        if key not in _BY_NAME:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(_BY_NAME[key], raw, "override")
        sources[key] = "override"
    values["database_url"] = _async_driver(values["database_url"])
    settings = Settings(**values)
    _check(settings)
    return settings, sources


def _async_driver(url: str) -> str:
    """The predecessor documented DATABASE_URL as postgresql://…; we speak asyncpg / aiosqlite."""
    scheme, sep, rest = url.partition("://")
    driver = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg",
              "sqlite": "sqlite+aiosqlite"}.get(scheme)
    return f"{driver}{sep}{rest}" if driver and sep else url


def load(config_path: str | Path | None = "config.toml", **overrides: Any) -> Settings:
    """Settings from the config file and the environment, with keyword overrides on top."""
    return resolve(config_path, overrides=overrides)[0]


def _check(s: Settings) -> None:
    if s.environment not in ("development", "production"):
        raise ConfigError(f"environment: {s.environment!r} is not development or production")
    if s.environment == "production" and s.secret_key == DEFAULT_SECRET:
        raise ConfigError("secret_key: the default secret cannot be used in production; set SECRET_KEY")
    if s.jwt_algorithm not in ("HS256", "HS384", "HS512"):
        raise ConfigError(f"jwt_algorithm: {s.jwt_algorithm!r} is not HS256, HS384 or HS512")
    if s.broker not in ("memory", "redis"):
        raise ConfigError(f"broker: {s.broker!r} is not memory or redis")


def describe(settings: Settings, sources: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """Rows of (name, value, source, help) for `immersiverse config`; secrets are masked."""
    rows = []
    for s in SETTINGS:
        value = getattr(settings, s.name)
        shown = "********" if s.name == "secret_key" and value != DEFAULT_SECRET else repr(value)
        if s.name == "database_url":
            shown = repr(_mask_url_password(str(value)))
        rows.append((s.name, shown, sources[s.name], s.help))
    return rows


def _mask_url_password(url: str) -> str:
    head, sep, tail = url.partition("://")
    if not sep or "@" not in tail:
        return url
    creds, at, rest = tail.partition("@")
    user, colon, _ = creds.partition(":")
    return f"{head}://{user}{':***' if colon else ''}{at}{rest}"
