"""The header's terrain data (docs/protocol.md §6.6): exact masks, a heightmap within its
quantisation step, every instance's y on the ground it describes, and bounded sizes."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from generator import Catalog, plan
from generator.terrain import DRY_MARGIN, PATH, WATER, WATER_LEVEL, WET_MARGIN
from generator.terrain_wire import decode_heights, decode_mask, decode_terrain, encode_mask

# docs/protocol.md §6.6: an instance standing on the ground is within this of the decoded ground
Y_TOLERANCE = 0.01

PROMPTS = [
    ("a fishing village by a lake with a river, a road and a stone bridge", 7, 600),
    ("a harbour town on the coast with boats, a pier and hills", 2, 800),
    ("a mountain valley with pine trees, a river and a waterfall", 3, 500),
    ("a floating island city with an airship above", 5, 300),
    ("a moon base with rovers, craters and astronauts", 1, 400),
    ("an underwater coral reef with sharks, kelp and a shipwreck", 4, 500),
    ("a sunny beach with umbrellas, beach chairs and a lifeguard tower", 6, 400),
    ("a busy harbour with a quay, fishing boats, cranes and containers", 8, 600),
    ("a medieval castle with walls, a moat and a drawbridge", 9, 600),
]


def test_mask_runs_alternate_outside_inside_row_by_row_along_z() -> None:
    # raster indexed [x, z]; the wire scans rows of z, each row west to east
    mask = np.zeros((3, 2), dtype=bool)  # 3 cells along x, 2 along z
    mask[1, 0] = mask[2, 0] = mask[0, 1] = True
    assert encode_mask(mask) == [1, 3, 2]  # row z=0: . # #   row z=1: # . .
    assert encode_mask(np.ones((2, 2), dtype=bool)) == [0, 4]
    square = np.zeros((3, 3), dtype=bool)
    square[1, 0] = square[2, 0] = square[0, 1] = True
    assert np.array_equal(decode_mask(encode_mask(square), 3), square)
    with pytest.raises(ValueError):
        decode_mask([1, 2], 3)


def test_heightmap_rows_run_along_z_and_dequantise_linearly() -> None:
    q = np.array([[0, 65535], [32768, 1]], dtype="<u2")  # rows z, columns x
    hm = {"resolution": 2, "spacing": 10.0, "encoding": "u16le-base64", "min": -2.5, "max": 7.5,
          "data": base64.b64encode(q.tobytes()).decode()}
    h = decode_heights(hm)  # back to [x, z]
    assert h[0, 0] == -2.5 and h[1, 0] == 7.5
    assert h[0, 1] == pytest.approx(-2.5 + 32768 * 10 / 65535)


@pytest.mark.parametrize(("prompt", "seed", "budget"), PROMPTS)
def test_decoded_terrain_is_the_generators_own(catalog: Catalog, prompt: str, seed: int,
                                               budget: int) -> None:
    wp = plan(prompt, seed=seed, catalog=catalog, budget=budget)
    wire = json.loads(json.dumps(wp.header.to_dict()["terrain"]))  # what a JSON client reads
    ter, src = decode_terrain(wire), wp.extras["terrain"]
    assert ter is not None
    assert np.array_equal(ter.flags, src.flags & np.uint8(WATER | PATH))
    step = (src.heights.max() - src.heights.min()) / 65535
    assert np.abs(ter.heights - src.heights).max() <= step / 2 + 1e-9


@pytest.mark.parametrize(("prompt", "seed", "budget"), PROMPTS)
def test_every_instance_stands_on_the_ground_the_header_describes(catalog: Catalog, prompt: str,
                                                                  seed: int, budget: int) -> None:
    wp = plan(prompt, seed=seed, catalog=catalog, budget=budget)
    ter = decode_terrain(wp.header.to_dict()["terrain"])
    assert ter is not None
    c = wp.columns
    ground = ter.height_at(c["x"], c["z"])
    surface = np.array([catalog.surface[int(p)] for p in c["pidx"]])
    height = catalog.height[c["pidx"]]
    # a seabed world (feature "seabed", docs/protocol.md §6.6): sea life stands on the floor,
    # swimmers placement.swim above it, under the surface
    swim = catalog.swim[c["pidx"]]
    afloat = np.maximum(ground, np.minimum(ground + swim, WATER_LEVEL - height)) if ter.seabed \
        else np.full_like(ground, WATER_LEVEL)
    expected = np.select(
        [surface == "water", surface == "air", surface == "wall"],
        [afloat, ground + 8.0 + height, ground + 2.0], ground)
    off = np.abs(c["y"] - expected)
    assert off.max() <= Y_TOLERANCE, (prompt, wp.catalog.prefabs[int(c["pidx"][off.argmax()])].id,
                                      float(off.max()))
    on_ground = surface == "ground"
    assert on_ground.any()  # (an underwater scene is mostly water things; still some ground)
    if ter.seabed:  # everything is under water, on the seabed
        assert (c["y"] <= WATER_LEVEL - WET_MARGIN + Y_TOLERANCE).all()
    else:  # ground things stand on dry land: at least the dry margin above the water
        assert (c["y"][on_ground] >= WATER_LEVEL + DRY_MARGIN - Y_TOLERANCE).all()
    wet = (ter.flags & WATER) != 0
    if wet.any():
        beds = ter.height_at(np.array([-ter.half + ter.cell * (np.argwhere(wet)[0][0] + 0.5)]),
                             np.array([-ter.half + ter.cell * (np.argwhere(wet)[0][1] + 0.5)]))
        assert beds[0] <= WATER_LEVEL - WET_MARGIN


def test_the_largest_world_keeps_every_terrain_string_and_array_within_frame_limits(
        catalog: Catalog) -> None:
    # protocol/limits.py SERVER_FRAME_LIMITS: 65536 bytes per str, 1 000 000 items per array
    wp = plan("an endless vast coastal kingdom with a lake, a river and roads", seed=1,
              catalog=catalog, budget=20000)
    t = wp.header.to_dict()["terrain"]
    assert t["heightmap"]["resolution"] <= 129
    assert len(t["heightmap"]["data"]) < 65536
    assert max(len(t["masks"]["water"]), len(t["masks"]["path"])) < 100_000
    assert decode_terrain(t) is not None


def test_a_header_without_terrain_data_decodes_to_none() -> None:
    assert decode_terrain({"size": 64.0, "heightmap": {"resolution": 17, "spacing": 4.0}}) is None


def test_the_protocol_docs_terrain_example_decodes_to_what_it_says() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = doc.split("### 6.6 Terrain", 1)[1].split("\n### ", 1)[0]
    data = re.search(r'data: "([^"]+)"', section)
    water = re.search(r"water: \[([0-9, ]+)\]", section)
    path = re.search(r"path: \[([0-9, ]+)\]", section)
    assert data and water and path
    terrain = {"size": 8.0, "water_level": 0.0,
               "heightmap": {"resolution": 3, "spacing": 4.0, "encoding": "u16le-base64",
                             "min": -2.5, "max": 3.5, "data": data.group(1)},
               "masks": {"resolution": 4, "cell": 2.0, "encoding": "runs",
                         "water": [int(v) for v in water.group(1).split(",")],
                         "path": [int(v) for v in path.group(1).split(",")]}}
    ter = decode_terrain(terrain)
    assert ter is not None
    assert ter.heights.T.tolist() == [[-2.5, -0.5, 1.5], [-0.5, 1.5, 3.5], [1.5, 3.5, 3.5]]
    assert ((ter.flags & WATER) != 0).sum() == 2 and ((ter.flags & PATH) != 0).sum() == 4
    assert ter.height_at(np.array([-3.0, -1.0, 3.0]), np.array([-3.0, -3.0, -3.0])).tolist() == \
        pytest.approx([-1.5, 0.3, 1.5])
    assert "within **0.01 m**" in section and Y_TOLERANCE == 0.01
