"""The generated world as the server consumes it: a header plus instances in streaming order.

Placement (numpy columns) is computed eagerly in ``plan()``; the instances themselves,
``records.InstanceRecord`` (the project's one instance record, docs/architecture.md "One
instance record"), are only materialised when a chunk is requested, which is where most
per-instance Python cost lives, so the first chunk is ready long before the whole world would be.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any

import numpy as np

from records import InstanceRecord

from . import cache
from .catalog import Catalog
from .errors import GeneratorError
from .geometry import yaw_quaternion

_QUATS = [yaw_quaternion(d) for d in range(360)]
_QUAT_ARRAY = np.empty(360, dtype=object)  # yaw -> the same tuple objects as _QUATS
for _d, _q in enumerate(_QUATS):
    _QUAT_ARRAY[_d] = _q
_NAMES: list[str] = []  # "i00001", "i00002", ...: built once, as far as any world needed


def _names(a: int, b: int) -> list[str]:
    """Instance ids of stream positions a..b-1 (ids count from 1)."""
    global _NAMES
    names = _NAMES
    if len(names) < b:
        # a new list replaces the old one in one assignment: safe for concurrent planners
        # (executor threads), each sees a complete list
        names = [f"i{k:05d}" for k in range(1, max(b, 2 * len(names), 1024) + 1)]
        _NAMES = names
    return names[a:b]


@dataclass(frozen=True, slots=True)
class WorldHeader:
    title: str
    description: str
    world_type: str
    environment_settings: dict[str, Any]
    terrain: dict[str, Any]
    bounds: dict[str, dict[str, float]]
    spawn_points: tuple[dict[str, float], ...]
    trace: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    instance_count: int | None  # None in a first_header: the plan is not complete yet
    seed: int
    generator_version: str
    catalog_version: str

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "description": self.description,
                "world_type": self.world_type,
                "environment_settings": copy.deepcopy(self.environment_settings),
                "terrain": copy.deepcopy(self.terrain), "bounds": copy.deepcopy(self.bounds),
                "spawn_points": [dict(p) for p in self.spawn_points],
                "trace": copy.deepcopy(list(self.trace)), "warnings": list(self.warnings),
                "instance_count": self.instance_count, "seed": self.seed,
                "generator_version": self.generator_version,
                "catalog_version": self.catalog_version}


class WorldPlan:
    """Header plus ordered placement columns; ``chunks()`` materialises instances lazily.

    A plan comes in two phases (docs/generator.md, "Incremental planning"): ``plan()`` returns
    once the first is placed (landmarks, the scene's structure, everything the prompt asked
    for), and the second (roads, traffic, filler) is placed when an instance beyond the first
    phase is first needed. ``planned`` and ``first_header`` never run it; ``header``,
    ``columns``, ``len()`` and ``instances`` do. Either way the world is the same: the second
    phase's instances follow the first's in the stream, each phase landmarks first, then
    nearest the spawn.
    """

    def __init__(self, header: WorldHeader, catalog: Catalog, columns: dict[str, np.ndarray],
                 group_props: dict[int, dict[str, Any]], extras: dict[str, Any],
                 rest: Callable[[], dict[str, np.ndarray]] | None = None) -> None:
        self._header = header
        self.catalog = catalog
        self._cols = columns  # already in streaming order
        self._rest = rest  # the second phase, until it has run
        self._group_props = group_props
        self.extras = extras  # terrain, intent, relation info: for evaluate/render, not the wire
        memo = cache.table(catalog, "static")
        if "ids_types" not in memo:  # object arrays: one fancy index per column, not per row
            memo["ids_types"] = (np.array([p.id for p in catalog.prefabs], dtype=object),
                                 np.array([p.type for p in catalog.prefabs], dtype=object))
        self._ids, self._types = memo["ids_types"]
        self._cache: list[InstanceRecord] | None = None
        if rest is None:
            self._header = replace(header, instance_count=self.planned)

    @property
    def complete(self) -> bool:
        """Whether every instance is placed (the second phase has run)."""
        return self._rest is None

    @property
    def planned(self) -> int:
        """Instances placed so far: the whole world once ``complete``."""
        return int(self._cols["x"].size)

    def finish(self) -> None:
        """Run the second phase if it has not run yet."""
        if self._rest is not None:
            more, self._rest = self._rest(), None
            self._cols = {k: np.concatenate([v, more[k]]) for k, v in self._cols.items()}
            self._header = replace(self._header, instance_count=self.planned)

    @property
    def first_header(self) -> WorldHeader:
        """The header as known before the second phase: ``instance_count`` is None until the
        plan is complete (everything else is final)."""
        return self._header

    @property
    def header(self) -> WorldHeader:
        self.finish()
        return self._header

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The whole world's placement columns, in streaming order."""
        self.finish()
        return self._cols

    def __len__(self) -> int:
        self.finish()
        return self.planned

    def span(self, start: int, size: int) -> tuple[int, int] | None:
        """Stream positions ``(start, end)`` of the chunk that begins at ``start``: at most
        ``size`` instances and never across the end of the first phase, so the first phase
        streams before the second is placed. None at the end of the world (runs the second
        phase when ``start`` reaches the end of the first)."""
        if start >= self.planned:
            self.finish()
        end = min(self.planned, start + size)
        return (start, end) if end > start else None

    def _columns(self, a: int, b: int) -> tuple[list[Any], ...]:
        """Instances a..b-1 column-wise as Python lists: names, prefab ids, types, x, y, z,
        quaternions, scales, properties (a fresh dict per instance)."""
        c = self._cols
        pidx, groups = c["pidx"][a:b], c["group"][a:b]
        props = self._group_props
        if props:
            prop_col = [{"attributes": list(gp["attributes"])} if (gp := props.get(g)) else {}
                        for g in groups.tolist()]
        else:
            prop_col = [{} for _ in range(b - a)]
        return (_names(a, b), self._ids[pidx].tolist(), self._types[pidx].tolist(),
                c["x"][a:b].tolist(), c["y"][a:b].tolist(), c["z"][a:b].tolist(),
                _QUAT_ARRAY[c["yaw"][a:b]].tolist(), c["scale"][a:b].tolist(), prop_col)

    def _build(self, a: int, b: int) -> list[InstanceRecord]:
        names, ids, types, xs, ys, zs, quats, scales, props = self._columns(a, b)
        # InstanceRecord is a NamedTuple: tuple.__new__ on its field tuples builds the same
        # records as InstanceRecord(...) without the per-call keyword handling of its __new__
        fields = zip(names, ids, types, zip(xs, ys, zs, strict=True), quats,
                     [(s, s, s) for s in scales], props, strict=True)
        out: list[InstanceRecord] = list(map(tuple.__new__, repeat(InstanceRecord), fields))
        return out

    def records(self, a: int, b: int) -> list[tuple[Any, ...]]:
        """Instances a..b-1 (stream order) as plain tuples, without building records:
        ``(id, prefab_id, prefab_type, x, y, z, rotation, scale, properties)`` where rotation
        is the (x, y, z, w) quaternion and scale the uniform factor. The same values as
        ``chunks()``; for consumers that re-shape every instance anyway (wire frames, JSON).
        Runs the second phase only when b reaches past the first."""
        if b > self.planned:
            self.finish()
        a, b = max(0, a), min(self.planned, b)
        if a >= b:
            return []
        return list(zip(*self._columns(a, b), strict=True))

    def chunks(self, size: int) -> Iterator[list[InstanceRecord]]:
        """Instances in streaming order, ``size`` at a time (landmarks, then nearest spawn first;
        the chunk that ends the first phase may be shorter, see ``span``)."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise GeneratorError("chunk size must be a positive integer")
        a = 0
        while (s := self.span(a, size)) is not None:
            a, b = s
            yield self._cache[a:b] if self._cache is not None else self._build(a, b)
            a = b

    @property
    def instances(self) -> list[InstanceRecord]:
        """The whole world, same order and same objects' values as ``chunks()``."""
        if self._cache is None:
            self.finish()
            self._cache = self._build(0, self.planned)
        return list(self._cache)
