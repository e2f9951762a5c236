"""Top-down PNG map of a world: terrain, water, paths, footprints by prefab type, spawn points,
a legend and a scale bar. Returns bytes; the caller decides where (or whether) to write them.

The ground is always drawn from the header's terrain data (decoded by terrain_wire.py), never
from the planner's own raster, so ``immersiverse generate --png``, ``immersiverse client --png``
and ``GET /api/v1/worlds/{id}/map.png`` draw the same picture of the same world; footprints come
from the catalog when one is given (a world plan carries its own)."""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from records import InstanceRecord

from .catalog import Catalog
from .geometry import half_extents, quaternion_yaw
from .stream import WorldHeader, WorldPlan
from .terrain import PATH, WATER, Terrain
from .terrain_wire import decode_terrain

TYPE_COLOURS = {"building": (200, 70, 60), "vehicle": (240, 170, 40), "character": (230, 90, 200),
                "prop": (150, 110, 70), "environment": (40, 130, 50), "lighting": (255, 240, 120),
                "effect": (150, 200, 255), "ui": (255, 255, 255)}
LEGEND_W = 150
Colour = tuple[int, int, int]
# ground colour (low, high) by the scene's ground kind (environment_settings.scene.ground)
GROUND_COLOURS: dict[str, tuple[Colour, Colour]] = {
    "grass": ((110, 140, 90), (170, 190, 120)), "dirt": ((110, 95, 70), (150, 130, 95)),
    "sand": ((200, 180, 120), (235, 215, 160)), "snow": ((205, 210, 220), (250, 250, 255)),
    "rock": ((95, 95, 95), (150, 145, 140)), "lava": ((60, 40, 35), (110, 70, 50)),
    "regolith": ((120, 120, 125), (175, 175, 180)), "seabed": ((40, 80, 110), (80, 130, 150)),
    "paved": ((120, 120, 118), (160, 160, 155)), "metal": ((90, 100, 110), (140, 150, 160))}
GRASS = GROUND_COLOURS["grass"]
WATER_COLOUR: Colour = (50, 100, 190)
PATH_COLOUR: Colour = (190, 170, 130)


def _header_field(header: WorldHeader | Mapping[str, Any], name: str) -> Any:
    """A field of a WorldHeader or of its dict form (a stored world, a gen.start header)."""
    return header[name] if isinstance(header, Mapping) else getattr(header, name)


def render_png(world: WorldPlan | tuple[WorldHeader | Mapping[str, Any], Sequence[InstanceRecord]], *,
               size_px: int = 1024, catalog: Catalog | None = None) -> bytes:
    """Render a WorldPlan (or a (header, records) pair, with the catalog for footprints) as a
    size_px x size_px PNG. The records may come from anywhere: a plan's chunks, a stored world
    (``InstanceRecord.from_row``), a stream's frames (``InstanceRecord.from_wire``)."""
    header: WorldHeader | Mapping[str, Any]
    instances: Sequence[InstanceRecord]
    cat: Catalog | None
    if isinstance(world, WorldPlan):
        header, instances, cat = world.header, world.instances, world.catalog
    else:
        (header, instances), cat = world, catalog
    ter = decode_terrain(_header_field(header, "terrain") or {})
    if size_px < 64:
        raise ValueError("size_px must be at least 64")
    b = _header_field(header, "bounds")
    x0, x1, z0, z1 = b["min"]["x"], b["max"]["x"], b["min"]["z"], b["max"]["z"]
    map_px = size_px - LEGEND_W
    k = map_px / max(x1 - x0, z1 - z0)
    img = Image.new("RGB", (size_px, size_px), (30, 30, 34))
    if ter is not None:
        base = ground_rgb(ter, ground_colours(header))
        # raster is [i=x, j=z]; image rows go north (max z) to south
        terrain_img = Image.fromarray(np.ascontiguousarray(base.transpose(1, 0, 2)[::-1]))
        img.paste(terrain_img.resize((map_px, map_px), Image.Resampling.NEAREST), (0, 0))
    draw = ImageDraw.Draw(img)

    def to_px(x: float, z: float) -> tuple[float, float]:
        return (x - x0) * k, (z1 - z) * k

    for inst in instances:
        colour = TYPE_COLOURS.get(inst.prefab_type, (200, 200, 200))
        if cat is not None and (p := cat.get(inst.prefab_id)) is not None:
            if p.pattern == "line" and p.type == "environment":
                colour = (170, 150, 110)  # road/path pieces read as paths, not vegetation
            elif p.type == "environment":
                colour = _nature_colour(set(p.tags))
            ex, ez = half_extents(np.array(p.width), np.array(p.depth),
                                  np.array(inst.scale[0]), np.array(quaternion_yaw(inst.rot)))
            hx, hz = float(ex), float(ez)
        else:
            hx = hz = 0.5
        (ax, az), (bx, bz) = to_px(inst.pos[0] - hx, inst.pos[2] + hz), to_px(inst.pos[0] + hx, inst.pos[2] - hz)
        draw.rectangle([ax, az, max(ax + 1, bx), max(az + 1, bz)], fill=colour)
    spawns = _header_field(header, "spawn_points")
    for sp in spawns:
        px, pz = to_px(sp["x"], sp["z"])
        draw.ellipse([px - 5, pz - 5, px + 5, pz + 5], outline=(255, 255, 255), width=2)
    lx = map_px + 10
    legend = [*((k, c) for k, c in TYPE_COLOURS.items() if k != "environment"),
              ("tree", (35, 110, 40)), ("plant", (110, 175, 80)), ("rock", (125, 115, 105)),
              ("lava", (235, 95, 30)), ("water", WATER_COLOUR), ("path", PATH_COLOUR),
              ("spawn", (255, 255, 255))]
    for n, (name, colour) in enumerate(legend):
        draw.rectangle([lx, 12 + n * 18, lx + 12, 24 + n * 18], fill=colour)
        draw.text((lx + 18, 12 + n * 18), name, fill=(230, 230, 230))
    metres = _nice_length((x1 - x0) / 4)
    y = size_px - 24
    draw.rectangle([10, y, 10 + metres * k, y + 6], fill=(255, 255, 255))
    draw.text((10, y - 14), f"{metres:g} m", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def ground_colours(header: WorldHeader | Mapping[str, Any]) -> tuple[Colour, Colour]:
    """(low, high) colour of a world's ground: its scene's ground kind, else grass."""
    scene = (_header_field(header, "environment_settings") or {}).get("scene") or {}
    return GROUND_COLOURS.get(scene.get("ground", "grass"), GRASS)


def ground_rgb(ter: Terrain, colours: tuple[Colour, Colour] = GRASS) -> np.ndarray:
    """The ground image, indexed [x, z] like the raster: each cell shaded between the low and
    the high colour by the height of its nearest heightmap sample, then road/path cells, then
    water on top. server/static/preview.js (decodeGround) computes the same pixels."""
    h = np.clip((ter.heights - ter.heights.min()) / max(1e-6, np.ptp(ter.heights)), 0, 1)
    hi = np.clip((np.arange(ter.n) * ter.cell / ter.hstep).astype(int), 0, h.shape[0] - 1)
    shade = h[hi][:, hi]
    lo, top = (np.array(c, dtype=np.float64) for c in colours)
    base: np.ndarray = (lo + (top - lo) * shade[..., None]).astype(np.uint8)
    base[(ter.flags & PATH) != 0] = PATH_COLOUR
    if not ter.seabed:  # a seabed world is all water: the map shows its floor
        base[(ter.flags & WATER) != 0] = WATER_COLOUR
    return base


NATURE_COLOURS = (("lava", (235, 95, 30)), ("coral", (240, 120, 150)), ("crater", (110, 105, 100)),
                  ("tree", (35, 110, 40)), ("rock", (125, 115, 105)), ("boulder", (125, 115, 105)),
                  ("crystal", (170, 120, 230)), ("dune", (200, 170, 110)))


def _nature_colour(tags: set[str]) -> tuple[int, int, int]:
    """Environment pieces by what they are: trees dark green, rocks grey, lava orange, coral
    pink, crystals violet, dunes dark sand, the rest (plants, grass, flowers) light green."""
    return next((c for tag, c in NATURE_COLOURS if tag in tags), (110, 175, 80))


def _nice_length(target: float) -> float:
    """Largest 1/2/5 x 10^n not above target, so the scale bar reads cleanly."""
    exp = 10 ** np.floor(np.log10(max(target, 1e-3)))
    return float(max(m * exp for m in (1, 2, 5) if m * exp <= target))
