"""The import rules of the architecture (docs/architecture.md), checked on the source: every
`import` counts — at module level, under TYPE_CHECKING and inside functions — so a dependency
cannot be hidden by where it is written.

- protocol imports neither server nor persistence;
- generator imports none of server, persistence, protocol, client (it yields `records`' InstanceRecord);
- persistence imports neither server nor protocol;
- client imports neither server nor persistence;
- records (the one instance record type) imports none of the others;
- server's modules import each other without a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("records", "protocol", "generator", "persistence", "client", "server")
FORBIDDEN = {
    "protocol": {"server", "persistence"},
    "generator": {"server", "persistence", "protocol", "client"},
    "persistence": {"server", "protocol"},
    "client": {"server", "persistence"},
    "records": {"server", "persistence", "protocol", "generator", "client"},
}
# Import circles that are known and tolerated: none. No module may form one.
KNOWN_CIRCLES: list[set[str]] = []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    return imports_in(path.read_text(), module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, name: str, *, is_package: bool = False) -> Iterator[str]:
    """Every module the source of module `name` imports, absolute; for `from X import y`, both X
    and X.y (y may be a module). Relative imports are resolved against the module's package."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def server_graph() -> dict[str, set[str]]:
    """server's modules → the server modules each imports (importing a.b.c runs a.b too; a
    module's own packages are already being imported when it runs, so they are no edge)."""
    files = {module_name(p): p for p in package_files("server")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for target in imports(path):
            while target.count(".") >= 1:  # the module and its parent packages below `server`
                if target in files and target != name and not name.startswith(f"{target}."):
                    deps.add(target)
                target = target.rpartition(".")[0]
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_none_of_the_packages_above_it(package: str) -> None:
    files = package_files(package)
    assert files
    bad = sorted({(path.relative_to(ROOT).as_posix(), target) for path in files for target in imports(path)
                  if target.split(".")[0] in FORBIDDEN[package]})
    assert not bad, f"{package} must not import {sorted(FORBIDDEN[package])}: {bad}"


def test_the_server_package_has_no_import_circle() -> None:
    graph = server_graph()
    assert len(graph) > 40 and graph["server.session"]  # the scan sees the package
    assert circles(graph) == KNOWN_CIRCLES


def test_the_scanner_sees_hidden_imports_and_circles() -> None:
    source = ("from typing import TYPE_CHECKING\nfrom . import hub\nif TYPE_CHECKING:\n    from .room import Room\n"
              "def f():\n    from ..persistence import store\n    import protocol.codec\n")
    found = set(imports_in(source, "server.rest.probe"))
    assert {"server.rest.hub", "server.rest.room.Room", "server.persistence.store", "protocol.codec"} <= found
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert circles({"a": {"b"}, "b": set()}) == []
