"""The typed intermediate plan between "understanding a prompt" and "laying out a world".

This is the seam for a future LLM planner: the rule-based parser in ``prompt.py`` produces an
``Intent``; an LLM could produce the same structure as JSON (``Intent.from_dict``), and the layout
stage neither knows nor cares which one did. ``Intent.validate`` is the contract: anything that
passes it can be laid out, so a hallucinating planner is caught here, not deep in layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .errors import IntentError
from .lexicon import MAX_COUNT, WORLD_TYPES

RelationKind = Literal["around", "along", "near", "ring", "center", "scatter", "direction", "line"]
Feature = Literal["lake", "river", "road", "coast", "center"]
Direction = Literal["north", "south", "east", "west"]
TimeOfDay = Literal["dawn", "morning", "noon", "afternoon", "sunset", "night"]
Weather = Literal["clear", "cloudy", "rain", "storm", "snow", "fog"]
Season = Literal["spring", "summer", "autumn", "winter"]

RELATION_KINDS: frozenset[str] = frozenset(get_args(RelationKind))
FEATURE_NAMES: frozenset[str] = frozenset(get_args(Feature))
DIRECTIONS: frozenset[str] = frozenset(get_args(Direction))


@dataclass(frozen=True, slots=True)
class KindRequest:
    """One object kind the prompt names: "three tall towers" -> terms=("tower",), count=3."""

    phrase: str
    terms: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    count: int | None = None  # None: "as many as looks right" (plural without a number)
    exact: bool = False  # True when the prompt gave a number the evaluator must see honoured
    plural: bool = True
    # a vague quantity ("several"): the documented range the whole world's count lies in
    count_range: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    """A spatial relation: ``subject`` (request index) placed relative to an anchor.

    The anchor is another request (``anchor``), or a terrain feature (``feature``), or the world
    centre when both are None.
    """

    kind: RelationKind
    subject: int
    anchor: int | None = None
    feature: Feature | None = None
    direction: Direction | None = None


@dataclass(frozen=True, slots=True)
class EnvironmentIntent:
    time_of_day: TimeOfDay = "noon"
    weather: Weather = "clear"
    season: Season = "summer"


@dataclass(frozen=True, slots=True)
class TerrainIntent:
    lake: bool = False
    river: bool = False
    road: bool = False
    coast: bool = False
    hilliness: float = 1.0  # multiplies the world type's base relief


@dataclass(frozen=True, slots=True)
class Intent:
    prompt: str
    world_type: str
    world_type_explicit: bool
    requests: tuple[KindRequest, ...]
    relations: tuple[Relation, ...]
    environment: EnvironmentIntent = EnvironmentIntent()
    terrain: TerrainIntent = TerrainIntent()
    size_factor: float = 1.0
    warnings: tuple[str, ...] = field(default=())
    scene: str = "meadow"  # archetypes.py row name

    def validate(self) -> None:
        """Raise IntentError if this plan cannot be laid out (the LLM-seam contract)."""
        if self.world_type not in WORLD_TYPES:
            raise IntentError(f"unknown world_type {self.world_type!r}")
        from .archetypes import BY_NAME
        if self.scene not in BY_NAME:
            raise IntentError(f"unknown scene {self.scene!r}")
        if not 0.3 <= self.size_factor <= 3.0:
            raise IntentError("size_factor must be within [0.3, 3.0]")
        if not 0.0 <= self.terrain.hilliness <= 5.0:
            raise IntentError("terrain.hilliness must be within [0, 5]")
        for req in self.requests:
            if not req.terms:
                raise IntentError(f"request {req.phrase!r} has no terms")
            if req.count is not None and not 1 <= req.count <= MAX_COUNT:
                raise IntentError(f"count for {req.phrase!r} must be within [1, {MAX_COUNT}]")
        n = len(self.requests)
        for rel in self.relations:
            if rel.kind not in RELATION_KINDS:
                raise IntentError(f"unknown relation kind {rel.kind!r}")
            if not 0 <= rel.subject < n or (rel.anchor is not None and not 0 <= rel.anchor < n):
                raise IntentError(f"relation {rel.kind} refers to a missing request")
            if rel.feature is not None and rel.feature not in FEATURE_NAMES:
                raise IntentError(f"unknown feature {rel.feature!r}")
            if rel.direction is not None and rel.direction not in DIRECTIONS:
                raise IntentError(f"unknown direction {rel.direction!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; the shape an LLM planner would be asked to emit."""
        return {
            "prompt": self.prompt, "world_type": self.world_type,
            "world_type_explicit": self.world_type_explicit,
            "requests": [
                {"phrase": r.phrase, "terms": list(r.terms), "attributes": list(r.attributes),
                 "count": r.count, "exact": r.exact, "plural": r.plural,
                 "count_range": None if r.count_range is None else list(r.count_range)}
                for r in self.requests],
            "relations": [
                {"kind": r.kind, "subject": r.subject, "anchor": r.anchor, "feature": r.feature,
                 "direction": r.direction} for r in self.relations],
            "environment": {"time_of_day": self.environment.time_of_day,
                            "weather": self.environment.weather,
                            "season": self.environment.season},
            "terrain": {"lake": self.terrain.lake, "river": self.terrain.river,
                        "road": self.terrain.road, "coast": self.terrain.coast,
                        "hilliness": self.terrain.hilliness},
            "size_factor": self.size_factor, "warnings": list(self.warnings),
            "scene": self.scene,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Intent:
        """Build and validate an Intent from JSON (e.g. an LLM planner's output)."""
        try:
            env = data.get("environment", {})
            ter = data.get("terrain", {})
            intent = cls(
                prompt=str(data["prompt"]), world_type=str(data["world_type"]),
                world_type_explicit=bool(data.get("world_type_explicit", False)),
                requests=tuple(
                    KindRequest(phrase=str(r["phrase"]), terms=tuple(map(str, r["terms"])),
                                attributes=tuple(map(str, r.get("attributes", ()))),
                                count=None if r.get("count") is None else int(r["count"]),
                                exact=bool(r.get("exact", False)),
                                plural=bool(r.get("plural", True)),
                                count_range=None if r.get("count_range") is None
                                else (int(r["count_range"][0]), int(r["count_range"][1])))
                    for r in data.get("requests", ())),
                relations=tuple(
                    Relation(kind=r["kind"], subject=int(r["subject"]),
                             anchor=None if r.get("anchor") is None else int(r["anchor"]),
                             feature=r.get("feature"), direction=r.get("direction"))
                    for r in data.get("relations", ())),
                environment=EnvironmentIntent(
                    time_of_day=env.get("time_of_day", "noon"),
                    weather=env.get("weather", "clear"), season=env.get("season", "summer")),
                terrain=TerrainIntent(
                    lake=bool(ter.get("lake", False)), river=bool(ter.get("river", False)),
                    road=bool(ter.get("road", False)), coast=bool(ter.get("coast", False)),
                    hilliness=float(ter.get("hilliness", 1.0))),
                size_factor=float(data.get("size_factor", 1.0)),
                warnings=tuple(map(str, data.get("warnings", ()))),
                scene=str(data.get("scene", "meadow")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntentError(f"malformed intent: {exc}") from exc
        intent.validate()
        return intent
