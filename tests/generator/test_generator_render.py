from __future__ import annotations

import io

from PIL import Image

from generator import Catalog, plan
from generator.render import render_png


def test_render_returns_a_png_of_the_requested_size(catalog: Catalog) -> None:
    wp = plan("houses along the river near a lake", seed=1, catalog=catalog, budget=300)
    data = render_png(wp, size_px=512)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(data))
    assert img.size == (512, 512)
    colours = {c for _, c in img.convert("RGB").getcolors(1 << 20)}
    assert (50, 100, 190) in colours  # water is drawn
    assert (35, 110, 40) in colours  # trees are drawn (environment pieces by what they are)


def test_render_accepts_a_header_and_instances_pair(catalog: Catalog) -> None:
    wp = plan("a castle", seed=1, catalog=catalog, budget=50)
    img = Image.open(io.BytesIO(render_png((wp.header.to_dict(), wp.instances), size_px=256)))
    assert img.size == (256, 256)
