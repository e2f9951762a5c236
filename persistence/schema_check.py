"""A small JSON Schema (2020-12) checker for the catalog file schema, reporting every problem.

The catalog importer validates with persistence/data/catalog.schema.json itself, so the published
schema and the importer cannot drift apart (docs/catalog.md). The runtime has no JSON Schema
library, and the catalog schema needs only a handful of keywords: this module implements those
and refuses a schema that uses any other, so a keyword added to the schema fails loudly here
rather than being ignored. tests/persistence/test_catalog_schema.py checks that this checker
and the reference implementation (`jsonschema`) agree on a corpus of good and bad files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# Keywords that only annotate; they never make a value invalid.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"})
_ASSERTIONS = frozenset({"type", "enum", "required", "properties", "items", "anyOf", "$ref", "minLength",
                         "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_WHAT = {"object": "an object", "array": "a list", "string": "a string", "number": "a number",
         "integer": "an integer", "boolean": "true or false", "null": "null"}


class SchemaError(ValueError):
    """The schema uses a keyword this checker does not implement (our bug, not the file's)."""


def check_keywords(schema: Any, where: str = "#") -> None:
    """Raise SchemaError unless every keyword of `schema` (recursively) is one implemented here."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"{where}: a schema must be an object")
    unknown = set(schema) - _ANNOTATIONS - _ASSERTIONS
    if unknown:
        raise SchemaError(f"{where}: keywords not implemented: {', '.join(sorted(unknown))}")
    for name, sub in schema.get("$defs", {}).items():
        check_keywords(sub, f"{where}/$defs/{name}")
    for name, sub in schema.get("properties", {}).items():
        check_keywords(sub, f"{where}/properties/{name}")
    if "items" in schema:
        check_keywords(schema["items"], f"{where}/items")
    for index, sub in enumerate(schema.get("anyOf", [])):
        check_keywords(sub, f"{where}/anyOf/{index}")


def is_type(value: Any, name: str) -> bool:
    if name == "integer":  # JSON Schema: 3.0 is an integer; true is not
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"object": dict, "array": list, "string": str, "boolean": bool,
                              "null": type(None)}[name])


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    # ECMA-262 `$` matches only at the very end; Python's also before a final newline.
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise SchemaError(f"only local references are implemented: {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def errors(schema: Mapping[str, Any], value: Any, label: str, root: Mapping[str, Any] | None = None,
           path: str = "") -> list[str]:
    """Every problem of `value` against `schema`, each as "path: must ..."; [] when valid.

    Fields are named by their path ("placement.width", "tags[2]"); the value itself by `label`.
    `root` is the document that `$ref`s point into (default: `schema`)."""
    root = schema if root is None else root
    at = path or label
    if "$ref" in schema:
        found = errors(_resolve(root, schema["$ref"]), value, label, root, path)
        if found:
            return found
    if "anyOf" in schema:
        branches = [errors(sub, value, label, root, path) for sub in schema["anyOf"]]
        if all(branches):
            return min(branches, key=len)  # the closest branch's problems are the useful ones
    kind = schema.get("type")
    if kind is not None and not is_type(value, kind):
        return [f"{at}: must be {_WHAT[kind]}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: must be one of {', '.join(map(str, schema['enum']))}"]
    if isinstance(value, str):
        return _string_errors(schema, value, at)
    if is_type(value, "number"):
        return _number_errors(schema, value, at)
    if isinstance(value, list) and "items" in schema:
        return [e for index, item in enumerate(value)
                for e in errors(schema["items"], item, label, root, f"{at}[{index}]")]
    if isinstance(value, dict):
        return _object_errors(schema, value, label, root, path)
    return []


def _string_errors(schema: Mapping[str, Any], value: str, path: str) -> list[str]:
    out = []
    if len(value) < schema.get("minLength", 0):
        out.append(f"{path}: must not be empty" if schema["minLength"] == 1
                   else f"{path}: must have at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(f"{path}: must have at most {schema['maxLength']} characters (has {len(value)})")
    if value and "pattern" in schema and not _regex(schema["pattern"]).search(value):
        out.append(f"{path}: must not be blank" if schema["pattern"] == r"\S"
                   else f"{path}: must match {schema['pattern']}")
    return out


def _number_errors(schema: Mapping[str, Any], value: float, path: str) -> list[str]:
    out = []
    if "minimum" in schema and value < schema["minimum"]:
        out.append(f"{path}: must be >= {schema['minimum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        out.append(f"{path}: must be > {schema['exclusiveMinimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        out.append(f"{path}: must be <= {schema['maximum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        out.append(f"{path}: must be < {schema['exclusiveMaximum']}")
    return out


def _object_errors(schema: Mapping[str, Any], value: dict[str, Any], label: str, root: Mapping[str, Any],
                   path: str) -> list[str]:
    out = []
    properties = schema.get("properties", {})
    prefix = f"{path}." if path else ""
    required = schema.get("required", [])
    for key in [*properties, *(k for k in required if k not in properties)]:  # in the schema's order
        if key in value:
            out.extend(errors(properties.get(key, {}), value[key], label, root, f"{prefix}{key}"))
        elif key in required:
            out.append(f"{prefix}{key}: must be {_what(_deref(root, properties.get(key, {})))} (missing)")
    return out


def _deref(root: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    return _resolve(root, schema["$ref"]) if "$ref" in schema else schema


def _what(schema: Mapping[str, Any]) -> str:
    return _WHAT.get(schema.get("type", ""), "given")
