"""World → the seed's `world_blueprint` JSON (rest-contract.md, Prompt to world), and a stored header
in the session protocol's shape. An instance's forms are the record's own (records/)."""

from __future__ import annotations

from typing import Any

from persistence.clock import iso


def vector_wire(v: dict[str, float]) -> list[float]:
    return [v["x"], v["y"], v["z"]]


def header_wire(header: dict[str, Any], status: str | None = None, instances: int | None = None) -> dict[str, Any]:
    """A stored world header in the session protocol's shape (docs/protocol.md §6.5): every
    Vector3 an array [x, y, z] as in instances (REST keeps the stored {x, y, z} objects);
    `status` and `instance_count` (the instances the snapshot holds; the stored header's is
    nil, as `gen.start` sent it) are added for snapshots."""
    out = dict(header)
    if instances is not None:
        out["instance_count"] = instances
    if "spawn_points" in out:
        out["spawn_points"] = [vector_wire(p) for p in out["spawn_points"]]
    bounds = out.get("bounds")
    if isinstance(bounds, dict):
        out["bounds"] = {"min": vector_wire(bounds["min"]), "max": vector_wire(bounds["max"])}
    if status is not None:
        out["status"] = status
    return out


def world_summary(world: Any, role: str | None = None, *, owner_id: str) -> dict[str, Any]:
    """`owner_id` is the owner's public id (server/auth.py TokenService.public_id), never the
    account id: a public world's summary is read by anyone (issue 15)."""
    out = {"id": world.id, "title": world.title, "prompt": world.prompt, "world_type": world.world_type,
           "status": world.status, "visibility": world.visibility, "owner_id": owner_id,
           "instance_count": world.instance_count, "seq": world.seq,
           "created_at": iso(world.created_at), "updated_at": iso(world.updated_at)}
    if role is not None:
        out["role"] = role
    return out


def blueprint(world: Any, instances: list[dict[str, Any]], *, owner_id: str) -> dict[str, Any]:
    """`owner_id`: the owner's public id, as in `world_summary`."""
    h = world.header or {}
    return {
        "id": world.id, "prompt": world.prompt, "world_type": world.world_type, "title": world.title,
        "description": world.description, "environment_settings": h.get("environment_settings", {}),
        "prefab_instances": instances, "spawn_points": h.get("spawn_points", []),
        "created_at": iso(world.created_at), "updated_at": iso(world.updated_at),
        "processing_time_ms": round(world.processing_time_ms, 3),
        # Added beyond the seed (new fields only, never renamed):
        "status": world.status, "owner_id": owner_id, "visibility": world.visibility,
        "seq": world.seq, "seed": world.seed, "bounds": h.get("bounds"), "terrain": h.get("terrain"),
        "warnings": h.get("warnings", []), "trace": h.get("trace", []),
        "generator_version": h.get("generator_version"), "catalog_version": h.get("catalog_version"),
    }
