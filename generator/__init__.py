"""ImmersiVerse world generator: prompt -> deterministic, streamable world of prefab instances.

Public API::

    from generator import Catalog, plan, GENERATOR_VERSION, WORLD_TYPES
    catalog = Catalog.from_records(records, version)       # catalog.json's "prefabs" list
    wp = plan(prompt, seed=1, catalog=catalog, budget=2000, world_type=None)
    wp.header.to_dict()        # title, environment, terrain, bounds, spawn points, trace, ...
    for chunk in wp.chunks(256): ...                        # landmarks first, then nearest spawn
    wp.instances                                            # the whole world, same order
    wp.records(a, b)                                        # stream positions a..b-1 as plain rows

Every instance is a ``records.InstanceRecord`` (re-exported here as ``InstanceRecord``), the
project's one instance record (docs/architecture.md, "One instance record"): ``id, prefab_id,
prefab_type, pos, rot, scale, props``, with its wire, blueprint (REST JSON) and column forms.
``records`` is pure, like this package; the generator imports nothing else of the project.

Helpers for the server: ``bounds_contains(header_or_bounds, position) -> bool`` (edit
validation: accepts a WorldHeader, its dict, or a bare bounds dict; position as {x,y,z} or a
triple), ``plan_from_intent`` (lay out an ``Intent``, e.g. from a future LLM planner),
``generator.evaluate.evaluate_prompts`` / ``format_table`` (quality table for
``immersiverse generate --eval``), ``generator.render.render_png`` (top-down map).
All errors raised for bad arguments are ``GeneratorError`` (a ValueError). No I/O happens here.
"""
from __future__ import annotations

from records import InstanceRecord

from .catalog import Catalog, Prefab
from .errors import CatalogError, GeneratorError, IntentError
from .geometry import bounds_contains
from .intent import Intent
from .lexicon import WORLD_TYPES
from .planner import GENERATOR_VERSION, MAX_BUDGET, MIN_BUDGET, plan, plan_from_intent
from .prompt import parse_prompt
from .stream import WorldHeader, WorldPlan

__all__ = [
    "Catalog", "Prefab", "GeneratorError", "CatalogError", "IntentError", "bounds_contains",
    "Intent", "WORLD_TYPES", "GENERATOR_VERSION", "MIN_BUDGET", "MAX_BUDGET", "plan",
    "plan_from_intent", "parse_prompt", "InstanceRecord", "WorldHeader", "WorldPlan",
]
