"""The preview and docs pages and their files are served from the package, with the right
content types, and load nothing from another origin (no CDN at run time)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from server.rest.preview import CONTENT_TYPES, STATIC_DIR

PAGES = ("/preview", "/preview/w-some-world", "/docs", "/gallery")
VENDOR = STATIC_DIR / "vendor"
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # a scheme or protocol-relative


class Refs(HTMLParser):
    """Every URL a page makes the browser load (scripts, styles, icons, images, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video", "embed") and a.get("src"):
            self.loads.append(a["src"] or "")
        elif tag == "script":
            self.inline_scripts += 1
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"] or "")
        if tag == "object" and a.get("data"):
            self.loads.append(a["data"] or "")


def _static_files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", PAGES)
async def test_the_pages_are_html_and_load_only_same_origin_files(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    body = await resp.text()
    assert resp.status == 200, body
    assert resp.content_type == "text/html" and resp.charset == "utf-8"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    refs = Refs()
    refs.feed(body)
    assert refs.loads, "the page loads its scripts and styles"
    assert refs.inline_scripts == 0, "no inline scripts (the CSP forbids them)"
    for url in refs.loads:
        if url.startswith("data:"):
            continue
        assert not EXTERNAL.match(url), f"{path} loads {url} from another origin"
        assert url.startswith("/static/"), url
        assert (await client.get(url)).status == 200, f"{path} refers to {url}, which is not served"


async def test_both_preview_routes_serve_the_same_page(client: TestClient) -> None:
    a, b = await client.get("/preview"), await client.get("/preview/w-123")
    page = await a.text()
    assert page == await b.text()
    assert "/static/vendor/msgpack/msgpack.min.js" in page and "/static/preview.js" in page


async def test_docs_is_swagger_ui_over_the_served_document_with_a_plain_route_list(client: TestClient) -> None:
    page = await (await client.get("/docs")).text()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "/static/vendor/swagger-ui/swagger-ui.css" in page
    init = await (await client.get("/static/docs.js")).text()
    assert 'url: "/api/v1/openapi.json"' in init and "validatorUrl: null" in init
    assert "<code>GET</code></td><td><code>/preview/{world_id}</code>" in page


@pytest.mark.parametrize("file", _static_files(), ids=lambda p: p.relative_to(STATIC_DIR).as_posix())
async def test_every_static_file_is_served_with_its_content_type(client: TestClient, file: Path) -> None:
    rel = file.relative_to(STATIC_DIR).as_posix()
    resp = await client.get(f"/static/{rel}")
    assert resp.status == 200, rel
    assert resp.headers["Content-Type"] == CONTENT_TYPES[file.suffix]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert await resp.read() == file.read_bytes()
    if file.suffix == ".js":
        assert resp.headers["Content-Type"].startswith("text/javascript")


async def test_our_own_scripts_and_styles_name_no_other_origin() -> None:
    for file in _static_files():
        if VENDOR in file.parents or file.suffix not in (".js", ".css", ".html"):
            continue
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{file.name} names an absolute URL"


@pytest.mark.parametrize("path", ["/static/", "/static/vendor", "/static/vendor/msgpack",
                                  "/static/..%2f..%2fpyproject.toml", "/static/%2e%2e/rest/preview.py",
                                  "/static/vendor/../../rest/preview.py", "/static/.hidden", "/static/nope.js",
                                  "/static/preview.js.map"])
async def test_nothing_outside_the_static_files_is_served(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404, path


def test_vendored_libraries_ship_with_their_licenses_and_stay_small() -> None:
    libs = sorted(p for p in VENDOR.iterdir() if p.is_dir())
    assert [p.name for p in libs] == ["msgpack", "swagger-ui"]
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    for lib in libs:
        assert (lib / "LICENSE").is_file(), f"{lib.name} has no LICENSE"
        for file in lib.iterdir():
            assert file.name in readme, f"vendor/README.md does not list {lib.name}/{file.name}"
    total = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    assert total < 3 * 1024 * 1024, f"vendored files are {total} bytes"


def test_vendored_files_are_the_published_bytes_listed_in_the_readme() -> None:
    import hashlib

    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    listed = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.MULTILINE)}
    shipped = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and p.parent != VENDOR}
    assert set(listed) == shipped
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
