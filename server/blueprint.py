"""World → the seed's `world_blueprint` JSON (rest-contract.md, Prompt to world)."""

from __future__ import annotations

from typing import Any

from persistence.clock import iso


def instance_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "prefab_id": row.prefab_id, "prefab_type": row.prefab_type,
            "position": {"x": row.px, "y": row.py, "z": row.pz},
            "rotation": {"x": row.rx, "y": row.ry, "z": row.rz, "w": row.rw},
            "scale": {"x": row.sx, "y": row.sy, "z": row.sz}, "properties": row.props}


def instance_wire(row: Any) -> dict[str, Any]:
    """A stored instance in the session protocol's compact shape (docs/protocol.md §6.1)."""
    return {"id": row.id, "prefab_id": row.prefab_id, "prefab_type": row.prefab_type,
            "pos": [row.px, row.py, row.pz], "rot": [row.rx, row.ry, row.rz, row.rw],
            "scale": [row.sx, row.sy, row.sz], "props": row.props}


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


def wire_records(records: list[tuple[Any, ...]]) -> list[Any]:
    """`instance_wire` for generator records (`WorldPlan.records`), without rows in between."""
    return [{"id": i, "prefab_id": p, "prefab_type": t, "pos": [x, y, z], "rot": list(r), "scale": [s, s, s],
             "props": props} for i, p, t, x, y, z, r, s, props in records]


def blueprint_records(records: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """`instance_json` for generator records (`WorldPlan.records`), without rows in between."""
    return [{"id": i, "prefab_id": p, "prefab_type": t, "position": {"x": x, "y": y, "z": z},
             "rotation": {"x": r[0], "y": r[1], "z": r[2], "w": r[3]}, "scale": {"x": s, "y": s, "z": s},
             "properties": props} for i, p, t, x, y, z, r, s, props in records]


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
