"""Terrain on the wire: the heightmap and the water/path masks of the world header.

docs/protocol.md §6.6 is the normative description; this module is its reference encoder and
decoder. Two encodings, each chosen for what it carries:

* the heightmap is dense and smooth, so it travels as fixed-width samples: uint16 quantised
  between the header's ``min`` and ``max``, little-endian, base64 in a str (about 44 KB of
  text for the largest 129 x 129 grid; the protocol's value model has no ``bin``, and the same
  header is stored and served as JSON);
* the masks are a few smooth regions on a fine raster (up to 1024 x 1024 cells), so they travel
  as run lengths of a row-major scan: exact at the generator's own resolution and a few
  thousand integers even for the largest world.

Both arrays are row-major with rows along z (south to north) and columns along x (west to
east), the order of Unity's ``TerrainData.SetHeights(0, 0, float[z, x])``. The decoded terrain
is a :class:`Terrain` again, so every consumer (the map renderer, the tests, a Python client)
asks it for ground heights with the generator's own rule (``Terrain.height_at``).
"""
from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np

from .terrain import PATH, WATER, WATER_LEVEL, Terrain

HEIGHT_ENCODING = "u16le-base64"
MASK_ENCODING = "runs"
_Q = 65535  # uint16 steps between min and max


def encode_heights(heights: np.ndarray, spacing: float) -> dict[str, Any]:
    """The header's ``terrain.heightmap`` for a g x g grid indexed [x, z]."""
    lo, hi = float(heights.min()), float(heights.max())
    span = hi - lo
    q = np.zeros(heights.shape, dtype="<u2") if span <= 0 else \
        np.rint((heights - lo) * (_Q / span)).astype("<u2")
    return {"resolution": int(heights.shape[0]), "spacing": spacing, "encoding": HEIGHT_ENCODING,
            "min": lo, "max": hi,
            "data": base64.b64encode(np.ascontiguousarray(q.T).tobytes()).decode("ascii")}


def encode_mask(mask: np.ndarray) -> list[int]:
    """Run lengths of a bool raster indexed [x, z], scanned row by row (rows along z):
    alternately cells outside and inside the mask, starting with an outside run (maybe 0)."""
    flat = np.ascontiguousarray(mask.T).ravel()
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], edges, [flat.size]))
    runs: list[int] = np.diff(bounds).tolist()
    return ([0] + runs) if flat.size and flat[0] else runs


def encode_masks(flags: np.ndarray, cell: float) -> dict[str, Any]:
    """The header's ``terrain.masks`` from the generator's raster of flag bits."""
    return {"resolution": int(flags.shape[0]), "cell": cell, "encoding": MASK_ENCODING,
            "water": encode_mask((flags & WATER) != 0), "path": encode_mask((flags & PATH) != 0)}


def decode_heights(hm: Mapping[str, Any]) -> np.ndarray:
    """The g x g heightmap in metres, indexed [x, z] (the generator's own orientation)."""
    if hm.get("encoding") != HEIGHT_ENCODING:
        raise ValueError(f"unknown heightmap encoding {hm.get('encoding')!r}")
    g = int(hm["resolution"])
    q = np.frombuffer(base64.b64decode(hm["data"]), dtype="<u2")
    if q.size != g * g:
        raise ValueError(f"heightmap holds {q.size} samples, expected {g * g}")
    lo, hi = float(hm["min"]), float(hm["max"])
    rows = lo + q.astype(np.float64) * ((hi - lo) / _Q)
    return np.ascontiguousarray(rows.reshape(g, g).T)


def decode_mask(runs: list[int], n: int) -> np.ndarray:
    """A bool raster indexed [x, z] from its run lengths."""
    lengths = np.asarray(runs, dtype=np.int64)
    if lengths.size == 0 or (lengths < 0).any() or int(lengths.sum()) != n * n:
        raise ValueError(f"mask runs must be non-negative and cover {n} x {n} cells")
    values = np.arange(lengths.size) % 2 == 1
    return np.repeat(values, lengths).reshape(n, n).T


def decode_terrain(terrain: Mapping[str, Any]) -> Terrain | None:
    """A Terrain rebuilt from a header's ``terrain`` map; None when it carries no data (a world
    stored before the header did)."""
    hm, masks = terrain.get("heightmap") or {}, terrain.get("masks")
    if "data" not in hm or not masks:
        return None
    if masks.get("encoding") != MASK_ENCODING:
        raise ValueError(f"unknown mask encoding {masks.get('encoding')!r}")
    n = int(masks["resolution"])
    flags = decode_mask(masks["water"], n).astype(np.uint8) * np.uint8(WATER)
    flags |= decode_mask(masks["path"], n).astype(np.uint8) * np.uint8(PATH)
    if float(terrain.get("water_level", WATER_LEVEL)) != WATER_LEVEL:
        raise ValueError("water_level differs from this generator's")
    return Terrain(size=float(terrain["size"]), cell=float(masks["cell"]), n=n,
                   heights=decode_heights(hm), hstep=float(hm["spacing"]), flags=flags,
                   water_raster=True, seabed="seabed" in (terrain.get("features") or ()))
