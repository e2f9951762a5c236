"""Logging set-up: plain text or one JSON object per line, never a secret."""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import re
import time
from typing import Any

# Set per WebSocket session (server/ws.py) and per REST request (server/http.py); tasks
# started from there inherit them, so every log line they emit carries the id.
SESSION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("session_id", default=None)
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class _ContextIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, var in (("session_id", SESSION_ID), ("request_id", REQUEST_ID)):
            if var.get() is not None and not hasattr(record, key):
                setattr(record, key, var.get())
        return True

# Bearer tokens and passwords must never reach a log line, whoever formats it.
_SECRETS = re.compile(r"(eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)|(\"?password\"?\s*[:=]\s*\"?)[^\s\",}]+")


# Line breaks and other controls in user-supplied text (ids, paths, names) would let a client
# write lines of its own into the log (issue 15, finding 12): arguments are escaped.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(32), 127)}
_CONTROLS.update({0x85: "\\x85", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def escape(text: str) -> str:
    """`text` on one line: control characters and lone surrogates as backslash escapes."""
    out = text.translate(_CONTROLS)
    return out if out.isascii() else out.encode("utf-8", "backslashreplace").decode("utf-8")


def fingerprint(text: str) -> str:
    """A stable, non-reversible tag for a value that must not be logged (a failed username)."""
    return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class _EscapeArgs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(escape(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: escape(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def scrub(text: str) -> str:
    return _SECRETS.sub(lambda m: "<token>" if m.group(1) else f"{m.group(2)}<redacted>", text)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname,
                               "logger": record.name, "msg": scrub(record.getMessage())}
        for key in ("session_id", "request_id", "user_id", "world_id"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(out)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup(level: str, json_lines: bool) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_ContextIds())
    handler.addFilter(_EscapeArgs())
    if json_lines:
        handler.setFormatter(_JsonFormatter())
    else:
        fmt = _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        fmt.converter = time.gmtime
        handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
