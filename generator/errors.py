"""One exception base for the generator package (STYLE.md: one base per package).

``GeneratorError`` subclasses ``ValueError`` because every error the generator raises is caused
by the caller's arguments or data (a bad budget, an empty prompt, a malformed catalog record);
the generator has no I/O, so it has no "remote" failures of its own.
"""
from __future__ import annotations


class GeneratorError(ValueError):
    """Base class: invalid arguments or data given to the generator."""


class CatalogError(GeneratorError):
    """A catalog record is malformed (missing field, bad id, impossible footprint)."""


class IntentError(GeneratorError):
    """An intermediate plan (Intent) is invalid, e.g. one produced by a future LLM planner."""
