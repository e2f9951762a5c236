"""docs/gallery.md and its maps are the generator's current output (tests/generator/gallery.py
regenerates both): a change of output that leaves the gallery stale fails here."""
from __future__ import annotations

from gallery import DOC, END, GALLERY, IMG, START, generated

from generator import Catalog


def test_the_gallery_text_and_maps_are_the_generators_current_output(catalog: Catalog) -> None:
    text, pngs = generated(catalog)
    doc = DOC.read_text(encoding="utf-8")
    body = doc.split(START, 1)[1].split(END, 1)[0]
    assert body.strip() == text.strip(), "docs/gallery.md is stale: run tests/generator/gallery.py"
    assert set(pngs) == {name for name, _ in GALLERY}
    stale = [name for name, data in pngs.items() if (IMG / f"{name}.png").read_bytes() != data]
    assert not stale, f"stale maps (run tests/generator/gallery.py): {stale}"
