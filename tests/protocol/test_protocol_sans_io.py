"""protocol/ is Sans-I/O: no asyncio, aiohttp or database import anywhere in it (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import protocol

FORBIDDEN = {
    "asyncio",
    "aiohttp",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "redis",
    "websockets",
    "uvloop",
}
PACKAGE = Path(protocol.__file__).resolve().parent


def imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_scanner_sees_plain_from_and_dotted_imports() -> None:
    source = "import asyncio.tasks\nfrom aiohttp import web\nfrom . import codec\nimport os"
    assert imported_roots(source) == {"asyncio", "aiohttp", "os"}


def test_protocol_package_imports_no_io_framework() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 8
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_roots(path.read_text()) & FORBIDDEN)
        for path in files
        if imported_roots(path.read_text()) & FORBIDDEN
    }
    assert offenders == {}
