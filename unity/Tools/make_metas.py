#!/usr/bin/env python3
"""Write the Unity .meta file of every file and folder of the package that lacks one.

A package installed from a git URL is read-only to Unity, so it cannot write .meta files itself;
assets without one are ignored. GUIDs are derived from the path, so re-running is stable.
Folders ending in `~` (Samples~) are not imported by Unity and get none.
Usage: python3 unity/Tools/make_metas.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
FOLDER = "folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n" + TAIL
MONO = ("MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
        "  executionOrder: 0\n  icon: {instanceID: 0}\n" + TAIL)
ASMDEF = "AssemblyDefinitionImporter:\n  externalObjects: {}\n" + TAIL
TEXT = "TextScriptImporter:\n  externalObjects: {}\n" + TAIL
DEFAULT = "DefaultImporter:\n  externalObjects: {}\n" + TAIL
JSLIB = """PluginImporter:
  externalObjects: {}
  serializedVersion: 2
  iconMap: {}
  executionOrder: {}
  defineConstraints: []
  isPreloaded: 0
  isOverridable: 0
  isExplicitlyReferenced: 0
  validateReferences: 1
  platformData:
  - first:
      Any:
    second:
      enabled: 0
      settings: {}
  - first:
      Editor: Editor
    second:
      enabled: 0
      settings:
        DefaultValueInitialized: true
  - first:
      WebGL: WebGL
    second:
      enabled: 1
      settings: {}
""" + TAIL
BY_SUFFIX = {".cs": MONO, ".asmdef": ASMDEF, ".md": TEXT, ".json": TEXT, ".jslib": JSLIB}


def wanted() -> list[Path]:
    """Every path Unity imports: not hidden, not a .meta, not under a `~` folder."""
    paths = []
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part.startswith(".") or part.endswith("~") for part in rel.parts) or path.suffix == ".meta":
            continue
        if "__pycache__" in rel.parts:
            continue
        paths.append(path)
    return paths


def meta_text(path: Path) -> str:
    guid = hashlib.md5(("immersiverse-unity:" + path.relative_to(ROOT).as_posix()).encode()).hexdigest()
    body = FOLDER if path.is_dir() else BY_SUFFIX.get(path.suffix, DEFAULT)
    return f"fileFormatVersion: 2\nguid: {guid}\n{body}"


def main() -> None:
    for path in wanted():
        meta = path.with_name(path.name + ".meta")
        if not meta.exists():
            meta.write_text(meta_text(path), encoding="utf-8")
            print("wrote", meta.relative_to(ROOT))


if __name__ == "__main__":
    main()
