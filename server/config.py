"""Configuration: one declaration, one frozen settings object.

`Settings` declares every key once: its name, its type (the annotation), its default and a help
line (`setting(default, help)`). The runtime table ``SETTINGS`` (Datasette's pattern) is read
from it, so the table and the static type cannot disagree. Values come
from, in increasing priority: the default, ``config.toml``, the environment
(``IMMERSIVERSE_<KEY>``; plus ``DATABASE_URL`` and ``SECRET_KEY`` without prefix, as
the predecessor service read them). ``immersiverse config`` prints the table.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SECRET = "dev-insecure-default-secret-change-me-in-production"


class ConfigError(ValueError):
    """A setting has an unusable value; the message names the key and its source."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str


def setting(default: Any, help: str) -> Any:
    """One row of Settings: its default and help line (typed Any so that the annotation of the
    attribute, not this call, is the setting's static type)."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of one server process: name, type, default and help, in one declaration
    (the runtime table SETTINGS and `immersiverse config` are read from it)."""

    # -- process ---------------------------------------------------------------
    environment: str = setting("development", "development or production; production refuses a default or short secret_key and requires guest device secrets")
    host: str = setting("127.0.0.1", "address `immersiverse serve` binds to")
    port: int = setting(8000, "TCP port `immersiverse serve` binds to")
    reuse_port: bool = setting(False, "bind with SO_REUSEPORT, so several processes on one host share the port (the kernel spreads connections; docs/operations.md §6)")
    log_level: str = setting("INFO", "DEBUG, INFO, WARNING or ERROR")
    log_json: bool = setting(False, "emit one JSON object per log line (for log shippers)")
    drain_timeout_s: float = setting(10.0, "on SIGTERM: seconds to finish generations and flush telemetry before exit")
    gc_gen0_threshold: int = setting(10_000, "Python cyclic GC: allocations between young-generation collections (0 = Python's default, 700)")
    gc_freeze: bool = setting(True, "after start-up, move every object alive (modules, catalog) out of the GC's scans (gc.freeze)")
    gil_switch_ms: float = setting(1.0, "longest time a thread holds the interpreter while another waits for it (sys.setswitchinterval; Python's default is 5 ms): the event loop waits at most this long behind a plan in a generator thread")
    # -- store -----------------------------------------------------------------
    database_url: str = setting("sqlite+aiosqlite:///./data/immersiverse.db", "SQLAlchemy URL; sqlite+aiosqlite (embedded, WAL) or postgresql+asyncpg")
    db_pool_size: int = setting(10, "connection pool size (PostgreSQL)")
    auto_migrate: bool = setting(True, "run Alembic migrations to head when the server starts")
    catalog_file: str = setting("", "prefab catalog JSON loaded at start; empty = the shipped catalog")
    # -- auth --------------------------------------------------------------------
    secret_key: str = setting(DEFAULT_SECRET, "HMAC key for tokens; never empty; in production at least 32 bytes and not the default")
    jwt_algorithm: str = setting("HS256", "token signing algorithm (HS256, HS384 or HS512); pinned when verifying")
    jwt_issuer: str = setting("immersiverse", "the `iss` claim minted and required")
    jwt_audience: str = setting("immersiverse-clients", "the `aud` claim minted and required")
    token_ttl_s: int = setting(86400, "token lifetime in seconds")
    guest_login: bool = setting(True, "allow device/guest login with only a user_id (the seed's behaviour)")
    login_attempts_per_min: int = setting(10, "failed password logins allowed per account and per IP per minute")
    guest_secret_required: str = setting("auto", "auto, true or false: a guest login of an existing id must present the device_secret issued at its first login (auto = true in production)")
    auth_requests_per_ip_per_min: int = setting(60, "login, register and refresh calls per IP per minute, failed or not (429 beyond)")
    auth_requests_per_account_per_min: int = setting(20, "login, register and refresh calls per account id per minute, failed or not (429 beyond)")
    guest_idle_days: int = setting(90, "guest accounts that own no world, card or share and did not log in for this many days are deleted (0 = never)")
    maintenance_interval_s: float = setting(3600.0, "how often expired revocations and idle guest accounts are purged")
    revocation_poll_s: float = setting(2.0, "how often open sockets re-check their token against revocations")
    # -- REST --------------------------------------------------------------------
    max_body_bytes: int = setting(1_048_576, "largest accepted REST request body (413 beyond)")
    cors_origins: str = setting("*", "comma-separated origins allowed to call the REST API from a browser (CORS), * for any, empty for none")
    ws_origins: str = setting("", "comma-separated Origin values allowed to open /ws; empty = any (clients without an Origin header are always allowed)")
    http_header_timeout_s: float = setting(10.0, "seconds a new connection has to send its first request's headers (slowloris); then closed")
    http_keepalive_timeout_s: float = setting(15.0, "seconds an idle keep-alive connection may wait for its next request's headers; then closed")
    http_body_timeout_s: float = setting(30.0, "seconds to receive a whole JSON request body (408 beyond)")
    http_max_connections_per_ip: int = setting(256, "open TCP connections (HTTP and WebSocket) per client address; at the cap the address's oldest idle one is closed, or the new one (0 = off)")
    http_max_connections: int = setting(0, "open TCP connections in all; at the cap the oldest idle one is closed, or the new one (0 = the descriptor limit minus a reserve)")
    trusted_proxies: str = setting("", "comma-separated proxy addresses or CIDR networks whose X-Forwarded-For (or PROXY header) names the client")
    proxy_protocol: bool = setting(False, "connections from trusted_proxies start with a PROXY protocol v1/v2 header (HAProxy send-proxy-v2)")
    # -- generation --------------------------------------------------------------
    default_instances: int = setting(500, "instances generated when a request names no max_instances")
    max_instances: int = setting(20_000, "largest world one prompt may generate")
    generation_processes: int = setting(-1, "worker processes that plan worlds and pack their chunks, off the event loop's interpreter: -1 = one per core on a machine with two or more, 0 = threads of this process (docs/operations.md §6)")
    max_instances_per_world: int = setting(50_000, "instances a world may hold; edits adding beyond it are refused (limit_exceeded)")
    max_worlds_per_user: int = setting(1000, "worlds a user may own; beyond it generation is refused")
    max_stored_bytes_per_user: int = setting(1_073_741_824, "bytes a user's worlds may store (generated chunks and logged edits, as written); beyond it generation is refused (limit_exceeded)")
    max_prompt_chars: int = setting(1000, "longest prompt accepted")
    max_generations_per_user: int = setting(6, "concurrent generations per user, over all of the user's sockets and REST prompt2world")
    max_pending_instances_per_user: int = setting(120_000, "instances the running generations of one user may hold planned (caps the memory a user pins); beyond it a prompt gets too_many_generations")
    generation_stall_timeout_s: float = setting(30.0, "a streamed generation whose requester reads nothing for this long ends (gen.done failed; the world stays partial)")
    # -- WebSocket session -------------------------------------------------------
    hello_timeout_s: float = setting(10.0, "seconds a socket without a header token has to send a valid hello")
    heartbeat_s: float = setting(15.0, "a WebSocket ping is sent after this long without a frame; clients send something this often")
    pong_timeout_s: float = setting(7.5, "a WebSocket ping unanswered (and no other frame) this long closes with 4000")
    idle_timeout_s: float = setting(45.0, "close (4000) a socket that sent no message for this long; pings and pongs do not count")
    max_frame_bytes: int = setting(1_048_576, "largest inbound frame (close 1009 beyond)")
    msgs_per_s: float = setting(50.0, "per-connection token-bucket refill rate for inbound frames")
    msgs_burst: int = setting(200, "per-connection token-bucket size for inbound frames")
    prompts_per_min: int = setting(20, "prompts per minute per user (sockets and REST together): a bucket of this many, refilled at this rate")
    max_generations: int = setting(3, "concurrent generations per connection")
    chunk_size: int = setting(128, "instances per gen.chunk / snapshot frame")
    send_queue_bytes: int = setting(8_388_608, "per-connection outbound queue bound; overflow closes with 4001")
    slow_close_grace_s: float = setting(2.0, "a slow consumer's connection is aborted this long after its bye and close frame")
    max_connections_per_user: int = setting(20, "open sockets one user may hold")
    max_connections_per_ip: int = setting(200, "open sockets one IP may hold")
    bad_frames_before_close: int = setting(5, "protocol violations (errors 1000-1011) within bad_frames_window_s that close with 4503")
    bad_frames_window_s: float = setting(60.0, "the sliding window over which protocol violations are counted")
    # -- telemetry ---------------------------------------------------------------
    telemetry_buffer_events: int = setting(20_000, "write-behind buffer size; when full, sockets stop being read")
    telemetry_flush_ms: int = setting(20, "longest wait before a partial batch is written")
    telemetry_batch: int = setting(2000, "largest batch of events written in one insert")
    telemetry_max_events: int = setting(500, "most events in one telemetry frame or REST batch")
    telemetry_max_event_bytes: int = setting(8192, "largest encoded data payload of one event")
    telemetry_events_per_user_min: int = setting(6000, "telemetry events one user may send per minute over all sockets and REST (0 = no quota)")
    telemetry_bytes_per_user_min: int = setting(8_388_608, "telemetry bytes (UTF-8 of the stored strings and data) one user may send per minute (0 = no quota)")
    telemetry_retention_days: int = setting(90, "events received longer ago are purged (0 = keep forever)")
    telemetry_purge_interval_s: float = setting(3600.0, "how often the retention purge runs")
    # -- worlds ------------------------------------------------------------------
    oplog_retention_ops: int = setting(10_000, "ops kept per world for resume; older ones are compacted away")
    presence_per_s: float = setting(10.0, "presence (cursor/selection) updates per second per connection")
    max_props_bytes: int = setting(16_384, "largest props map of one instance after a set/add (packed msgpack bytes); larger edits are refused (limit_exceeded)")
    oplog_max_bytes: int = setting(33_554_432, "op-log bytes kept per world for resume; older ops are compacted away (like oplog_retention_ops)")
    # -- scale-out ---------------------------------------------------------------
    broker: str = setting("memory", "memory (one process) or redis (several nodes)")
    redis_url: str = setting("redis://127.0.0.1:6379/0", "Redis used when broker = redis")
    node_id: str = setting("", "this node's name in presence; empty = hostname:pid")
    presence_ttl_s: float = setting(15.0, "redis broker: a member of a node that stopped refreshing (died) is dropped after this long")
    generation_lease_s: float = setting(15.0, "a running generation's lease, renewed every third of it; a dead node's generation is marked partial within 4/3 of it")
    store_retry_after_s: float = setting(2.0, "while the store is unreachable: retry_after_s of unavailable (1201), close 4005 and REST 503 Retry-After")
    # -- discovery ---------------------------------------------------------------
    play_window_s: float = setting(1800.0, "a user entering a published world again within this many seconds is not counted as another play")
    analytics_max_days: int = setting(366, "longest date range one author analytics request may cover")
    analytics_operators: str = setting("", "comma-separated account ids that may read the analytics of every experience (authors read their own)")


# The table `immersiverse config` prints and the environment is read by, in declaration order.
SETTINGS: tuple[Setting, ...] = tuple(Setting(f.name, f.default, f.metadata["help"]) for f in dataclasses.fields(Settings))

_BY_NAME = {s.name: s for s in SETTINGS}
# Variables the predecessor documented, honoured without the prefix.
_BARE_ENV = {"database_url": "DATABASE_URL", "secret_key": "SECRET_KEY", "cors_origins": "CORS_ORIGINS"}
_ENV_PREFIX = "IMMERSIVERSE_"



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


MIN_PRODUCTION_SECRET_BYTES = 32  # HS256's output size; a shorter HMAC key can be brute-forced offline


def _check(s: Settings) -> None:
    if s.generation_processes < -1:
        raise ConfigError(f"generation_processes: {s.generation_processes} is not -1 (one per core), 0 or more")
    if s.environment not in ("development", "production"):
        raise ConfigError(f"environment: {s.environment!r} is not development or production")
    if not s.secret_key.strip():
        # An empty key signs tokens anyone can forge, and PyJWT refuses to use it: every login would fail.
        raise ConfigError("secret_key: must not be empty; set SECRET_KEY")
    if s.environment == "production" and s.secret_key == DEFAULT_SECRET:
        raise ConfigError("secret_key: the default secret cannot be used in production; set SECRET_KEY")
    if s.environment == "production" and len(s.secret_key.encode()) < MIN_PRODUCTION_SECRET_BYTES:
        raise ConfigError(f"secret_key: must be at least {MIN_PRODUCTION_SECRET_BYTES} bytes in production "
                          "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    if s.guest_secret_required not in ("auto", "true", "false"):
        raise ConfigError(f"guest_secret_required: {s.guest_secret_required!r} is not auto, true or false")
    if s.jwt_algorithm not in ("HS256", "HS384", "HS512"):
        raise ConfigError(f"jwt_algorithm: {s.jwt_algorithm!r} is not HS256, HS384 or HS512")
    _check_proxies(s.trusted_proxies)
    if s.broker not in ("memory", "redis"):
        raise ConfigError(f"broker: {s.broker!r} is not memory or redis")


def guest_secret_required(s: Settings) -> bool:
    """Whether a guest login of an existing id must present its device secret (docs/operations.md)."""
    if s.guest_secret_required == "auto":
        return s.environment == "production"
    return s.guest_secret_required == "true"


def origin_list(value: str) -> frozenset[str]:
    """`cors_origins` / `ws_origins` as a set; also takes the predecessor's JSON list form."""
    text = value.strip().removeprefix("[").removesuffix("]")
    return frozenset(o.strip().strip("\"'").rstrip("/") for o in text.split(",") if o.strip().strip("\"'"))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def startup_warnings(s: Settings) -> list[str]:
    """Risky but allowed development set-ups, logged loudly by `immersiverse serve`."""
    out = []
    if s.secret_key == DEFAULT_SECRET and not _loopback(s.host):
        out.append(f"SECURITY: listening on {s.host} with the public default secret_key: anyone who can reach "
                   "this port can forge tokens for any account. Set SECRET_KEY, or bind to 127.0.0.1.")
    if not guest_secret_required(s) and s.guest_login and not _loopback(s.host):
        out.append(f"SECURITY: listening on {s.host} with guest_secret_required off: anyone who knows a guest's "
                   "user_id can log in as that guest. Set guest_secret_required = true once clients send device_secret.")
    return out
def _check_proxies(text: str) -> None:
    import ipaddress

    for item in filter(None, (x.strip() for x in text.split(","))):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"trusted_proxies: {item!r} is not an IP address or CIDR network") from None


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


DEFAULT_CONFIG = "config.toml"  # read when present; a file named by --config must exist


def resolve_settings(args: Any, **overrides: Any) -> tuple[Any, dict[str, str]]:
    """(settings, sources) for a command of the `immersiverse` CLI, from its parsed arguments
    (`args.config` when given); exits with one line on a bad or missing --config."""
    path = getattr(args, "config", None)
    if path is not None and not Path(path).is_file():
        sys.exit(f"configuration error: --config {path}: no such file")
    try:
        return resolve(path or DEFAULT_CONFIG, overrides={k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
