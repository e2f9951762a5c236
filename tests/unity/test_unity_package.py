"""The Unity package's layout: what Unity needs to import it from a git URL (read-only, so every
asset needs its committed .meta), and the split that keeps the core free of UnityEngine."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

UNITY = Path(__file__).resolve().parents[2] / "unity"


def _make_metas() -> object:
    spec = importlib.util.spec_from_file_location("make_metas", UNITY / "Tools" / "make_metas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_asset_of_the_package_has_a_committed_meta_with_a_unique_guid() -> None:
    make_metas = _make_metas()
    paths = make_metas.wanted()  # type: ignore[attr-defined]
    missing = [str(p.relative_to(UNITY)) for p in paths if not p.with_name(p.name + ".meta").exists()]
    assert not missing, f"run python3 unity/Tools/make_metas.py: {missing}"
    guids = [re.search(r"^guid: ([0-9a-f]{32})$", p.with_name(p.name + ".meta").read_text(), re.M) for p in paths]
    assert all(guids)
    values = [g[1] for g in guids if g]
    assert len(set(values)) == len(values)
    orphans = [m for m in UNITY.rglob("*.meta") if not m.with_name(m.name[:-5]).exists()]
    assert not orphans, orphans


def test_the_package_manifest_and_assembly_definitions_are_valid() -> None:
    manifest = json.loads((UNITY / "package.json").read_text())
    assert re.fullmatch(r"com\.[a-z0-9.-]+", manifest["name"]) and manifest["unity"] == "2021.3"
    assert "dependencies" not in manifest or manifest["dependencies"] == {}
    assert all((UNITY / s["path"]).is_dir() for s in manifest["samples"])
    asmdefs = {p.relative_to(UNITY).as_posix(): json.loads(p.read_text()) for p in UNITY.rglob("*.asmdef")}
    assert asmdefs["Runtime/ImmersiVerse.Runtime.asmdef"]["noEngineReferences"] is True
    assert asmdefs["Editor/ImmersiVerse.Editor.asmdef"]["includePlatforms"] == ["Editor"]
    names = {a["name"] for a in asmdefs.values()}
    for path, asm in asmdefs.items():
        own = {r for r in asm.get("references", []) if r.startswith("ImmersiVerse.")}
        assert own <= names, (path, own - names)


def test_the_core_runtime_never_uses_unityengine() -> None:
    # Runtime/*.cs is what Mono compiles with the harness; Unity-only code lives in Runtime/Unity.
    for path in (UNITY / "Runtime").glob("*.cs"):
        assert not re.search(r"^\s*using\s+Unity", path.read_text(), re.M), path
