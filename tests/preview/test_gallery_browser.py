"""End to end in headless Chromium against the real server on 127.0.0.1: /gallery lists the
public experiences with their map thumbnails (loaded by plain <img> elements, without a token),
searches and sorts them through GET /api/v1/discover/experiences, never shows a hidden card,
and opens a card's world in the live preview.

Needs Debian's `chromium` and the `playwright` package, as tests/preview/test_preview_browser.py
(which this reuses); UPDATE_SCREENSHOT=1 also writes docs/img/gallery.png.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from persistence.discovery import Query
from server.context import SERVICES
from tests.conftest import bearer, login
from tests.preview.test_preview_browser import ARGS, CHROMIUM, WAIT, _browser_or_skip

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "gallery.png"
WORLDS = [  # prompt, title, tags, public
    ("a fishing village by a lake with a lighthouse and pine trees", "Lighthouse Lake", ["water", "village"], True),
    ("a medieval castle on a hill with walls, towers and a market", "Hilltop Castle", ["castle", "medieval"], True),
    ("a neon city at night with skyscrapers, cars and street lights", "Neon Nights", ["city", "night"], True),
    ("a quiet forest clearing with a cabin and a stream", "Forest Cabin", ["forest", "calm"], True),
    ("a desert oasis with palm trees and tents", "Secret Oasis", ["desert"], False),
]

pytestmark = pytest.mark.slow


async def gallery(page: Any, expr: str) -> Any:
    return await page.evaluate(f"(() => {{ const g = window.__gallery; return {expr}; }})()")


async def until(page: Any, expr: str, what: str, over: str = "window.__gallery") -> Any:
    """Poll `expr` (over `g` = `over`) until truthy; bounded by WAIT."""
    deadline = time.monotonic() + WAIT
    while True:
        value = await page.evaluate(f"(() => {{ const g = {over}; return g && ({expr}); }})()")
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await page.wait_for_timeout(50)


async def _publish_worlds(client: TestClient) -> dict[str, str]:
    """Generate and publish the worlds; a few plays and ratings. Title → world id."""
    token = await login(client, "alice")
    ids = {}
    for n, (prompt, title, tags, public) in enumerate(WORLDS):
        resp = await client.post("/api/v1/prompt2world/", json={"prompt": prompt, "seed": n + 1, "max_instances": 900},
                                 headers=bearer(token))
        assert resp.status == 200, await resp.text()
        world_id = (await resp.json())["world_blueprint"]["id"]
        resp = await client.post("/api/v1/publish/", headers=bearer(token), json={
            "world_blueprint_id": world_id, "title": title, "tags": tags, "is_public": public,
            "description": f"{prompt[0].upper()}{prompt[1:]}."})
        assert resp.status == 200, await resp.text()
        ids[title] = world_id
    discovery = client.app[SERVICES].store.discovery
    for user in ("bob", "carol", "dave"):
        await discovery.record_play(ids["Hilltop Castle"], user, 60.0)
    await discovery.record_play(ids["Neon Nights"], "bob", 60.0)
    for user, stars in (("bob", 5), ("carol", 4)):
        resp = await client.put(f"/api/v1/publish/experiences/{await _card_id(client, ids['Forest Cabin'])}/rating",
                                json={"stars": stars}, headers=bearer(await login(client, user)))
        assert resp.status == 200
    return ids


async def _card_id(client: TestClient, world_id: str) -> str:
    found = await client.app[SERVICES].store.discovery.search(Query(author_id="alice", limit=50))
    return next(f.experience.id for f in found if f.experience.world_id == world_id)


async def test_the_gallery_lists_searches_sorts_and_opens_public_worlds(make_client: Any, tmp_path: Path) -> None:
    async_playwright = _browser_or_skip()
    client: TestClient = await make_client()
    ids = await _publish_worlds(client)
    base = str(client.make_url("/")).rstrip("/")
    errors: list[str] = []
    maps: list[tuple[str, int, str | None]] = []

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 480})
            page = await ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            def seen(resp: Any) -> None:
                if resp.url.endswith("/map.png"):
                    maps.append((resp.url, resp.status, resp.request.headers.get("authorization")))
            page.on("response", seen)

            # 1. every public card, newest first, each thumbnail loaded without a token
            await page.goto(f"{base}/gallery")
            await until(page, "g.status === 'ready' && g.cards.length === 4", "the public cards")
            titles = await gallery(page, "g.cards.map((c) => c.title)")
            assert titles == ["Forest Cabin", "Neon Nights", "Hilltop Castle", "Lighthouse Lake"], titles
            await until(page, "[...document.querySelectorAll('.thumb')].every((i) => i.complete && i.naturalWidth > 0)",
                        "every thumbnail to load", over="true")
            deadline = time.monotonic() + WAIT
            while len(maps) < 4 and time.monotonic() < deadline:  # response events trail the images
                await page.wait_for_timeout(50)
            assert len(maps) == 4 and all(status == 200 and auth is None for _, status, auth in maps), maps
            assert not any(ids["Secret Oasis"] in url for url, _, _ in maps)
            await page.wait_for_timeout(300)  # the last image painted
            await page.screenshot(path=str(tmp_path / "gallery.png"))
            if os.environ.get("UPDATE_SCREENSHOT"):
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(tmp_path / "gallery.png", SCREENSHOT)

            # 2. sorts: most played, top rated
            await page.select_option("#sort-select", "plays")
            await until(page, "g.status === 'ready' && g.sort === 'plays'", "the plays sort")
            assert (await gallery(page, "g.cards.map((c) => c.title)"))[:2] == ["Hilltop Castle", "Neon Nights"]
            await page.select_option("#sort-select", "rating")
            await until(page, "g.status === 'ready' && g.sort === 'rating'", "the rating sort")
            assert (await gallery(page, "g.cards[0].title")) == "Forest Cabin"
            assert "★ 4.5 (2)" in await page.inner_text(".tile .rating")

            # 3. the search box: a hidden card never appears; no match says so
            await page.select_option("#sort-select", "")
            await page.fill("#search-input", "lake lighthouse")
            await page.click("#search-form button")
            await until(page, "g.status === 'ready' && g.query === 'lake lighthouse'", "the search")
            assert await gallery(page, "g.cards.map((c) => c.title)") == ["Lighthouse Lake"]
            await page.fill("#search-input", "oasis")
            await page.press("#search-input", "Enter")
            await until(page, "g.status === 'ready' && g.query === 'oasis'", "the second search")
            assert await gallery(page, "g.cards.length") == 0
            assert "No worlds match" in await page.inner_text("#status")

            # 4. a card opens its world in the live preview
            await page.fill("#search-input", "castle")
            await page.press("#search-input", "Enter")
            await until(page, "g.status === 'ready' && g.query === 'castle' && g.cards.length === 1", "castle")
            await page.click(".tile .open")
            await page.wait_for_url(f"{base}/preview/{ids['Hilltop Castle']}")
            await until(page, "g.status === 'done' && g.worldId", "the preview to load the world",
                        over="window.__preview")
        finally:
            await browser.close()
    assert not errors, errors
