"""generator/ must stay pure: no asyncio, aiohttp or sqlalchemy (DESIGN.md, STYLE.md)."""
from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"asyncio", "aiohttp", "sqlalchemy"}
PACKAGE = Path(__file__).resolve().parents[2] / "generator"


def imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_scanner_sees_forbidden_imports() -> None:
    assert imported_roots("import asyncio\nfrom aiohttp import web\n") == {"asyncio", "aiohttp"}


def test_generator_does_not_import_io_frameworks() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 10
    for path in files:
        bad = imported_roots(path.read_text()) & FORBIDDEN
        assert not bad, f"{path.name} imports {bad}"
