"""The WebGL transport's browser side (unity/Runtime/WebGL/Plugins/ImmersiVerseWebSocket.jslib) in
headless Chromium against the real server on 127.0.0.1, without Unity: a small shim plays
Emscripten's part (LibraryManager/mergeInto/autoAddDeps, HEAPU8, UTF8ToString, a bump allocator)
and the test drives the jslib functions the way WebGLTransport.cs does: open, `hello`
authentication (browsers cannot set headers), binary frames out and in through the heap, close
codes (1000, and 4500 after a bad token). The C# half is compiled (not run) by unity/conformance.sh.

Needs Debian's `chromium` and the `playwright` package, like the preview's browser test: without
them the test skips, unless CI is set, where it fails.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import TIMEOUT, login
from tests.preview.test_preview_browser import ARGS, CHROMIUM, _browser_or_skip

JSLIB = Path(__file__).resolve().parents[2] / "unity" / "Runtime" / "WebGL" / "Plugins" / "ImmersiVerseWebSocket.jslib"

pytestmark = pytest.mark.slow

SHIM = """
var LibraryManager = { library: {} };
function mergeInto(target, source) { for (var k in source) target[k] = source[k]; }
function autoAddDeps(lib, dep) {}
var HEAPU8 = new Uint8Array(1 << 24);
var heapTop = 16;
function _malloc(n) {
  if (heapTop + n + 8 > HEAPU8.length) heapTop = 16;
  var p = heapTop; heapTop += n + 8; return p;
}
function UTF8ToString(ptr) {
  var end = ptr; while (HEAPU8[end]) end++;
  return new TextDecoder().decode(HEAPU8.subarray(ptr, end));
}
"""

# After the jslib: what Emscripten's linker does ($IVWS becomes the global IVWS, functions get a
# leading underscore), plus helpers that call them the way WebGLTransport.cs does.
LINK = """
var IVWS = LibraryManager.library.$IVWS;
var lib = LibraryManager.library;
window.ivws = {
  open: function (url) {
    var bytes = new TextEncoder().encode(url + "\\0"); var p = _malloc(bytes.length);
    HEAPU8.set(bytes, p); return lib.IVWS_Open(p);
  },
  state: function (id) { return lib.IVWS_State(id); },
  send: function (id, bytes) {
    var p = _malloc(bytes.length); HEAPU8.set(bytes, p); return lib.IVWS_Send(id, p, bytes.length);
  },
  poll: function (id) {
    var out = [], n;
    while ((n = lib.IVWS_NextLength(id)) >= 0) {
      var p = _malloc(n); var got = lib.IVWS_Receive(id, p, n);
      out.push(Array.from(HEAPU8.subarray(p, p + got)));
    }
    return out;
  },
  closeCode: function (id) { return lib.IVWS_CloseCode(id); },
  close: function (id, code) { lib.IVWS_Close(id, code); },
  free: function (id) { lib.IVWS_Free(id); },
};
"""


async def _until(page: Any, expr: str, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = await page.evaluate(expr)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Socket:
    """One jslib socket in the page, read by polling as the C# transport does each frame."""

    def __init__(self, page: Any, sid: int) -> None:
        self.page = page
        self.id = sid
        self.frames: list[list[int]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        assert await self.page.evaluate("([id, b]) => ivws.send(id, new Uint8Array(b))",
                                        [self.id, list(msgpack.packb(frame))]) == 0

    async def recv(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while not self.frames:
            self.frames.extend(await self.page.evaluate("id => ivws.poll(id)", self.id))
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for a frame")
            if not self.frames:
                await asyncio.sleep(0.01)
        frame = msgpack.unpackb(bytes(self.frames.pop(0)))
        assert isinstance(frame, dict)
        return frame


async def _open(page: Any, url: str) -> Socket:
    sid = await page.evaluate("url => ivws.open(url)", url)
    await _until(page, f"ivws.state({sid}) !== 0", "the socket to open")
    assert await page.evaluate(f"ivws.state({sid})") == 1
    return Socket(page, sid)


async def test_the_webgl_jslib_speaks_the_protocol_through_the_browser_websocket(client: TestClient) -> None:
    async_playwright = _browser_or_skip()
    token = await login(client, "webgl_user")
    ws_url = str(client.make_url("/ws")).replace("http://", "ws://", 1)
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.set_content("<!doctype html><title>jslib</title>")
            for script in (SHIM, JSLIB.read_text(encoding="utf-8"), LINK):
                await page.add_script_tag(content=script)

            # hello authentication, binary frames both ways
            sock = await _open(page, ws_url)
            await sock.send({"type": "hello", "v": 1, "token": token, "client": {"name": "webgl-test"}})
            welcome = await sock.recv()
            assert welcome["type"] == "welcome" and welcome["user_id"] == "webgl_user", welcome

            # a streamed generation arrives frame by frame through the heap
            await sock.send({"type": "prompt", "rid": 1, "prompt": "a quiet forest clearing", "seed": 5,
                             "max_instances": 300})
            frames: list[dict[str, Any]] = []
            while not frames or frames[-1]["type"] != "gen.done":
                frames.append(await sock.recv())
            chunks = [f for f in frames if f["type"] == "gen.chunk"]
            done = frames[-1]
            assert frames[0]["type"] == "gen.start" and done["status"] == "complete", frames[0]
            assert [c["index"] for c in chunks] == list(range(done["chunks"]))
            assert sum(len(c["instances"]) for c in chunks) == done["instances"] > 0

            # a deliberate close is 1000
            await page.evaluate(f"ivws.close({sock.id}, 1000)")
            await _until(page, f"ivws.state({sock.id}) === 3", "the close")
            assert await page.evaluate(f"ivws.closeCode({sock.id})") == 1000
            await page.evaluate(f"ivws.free({sock.id})")

            # a bad token: bye then close 4500, both visible to the page
            bad = await _open(page, ws_url)
            await bad.send({"type": "hello", "v": 1, "token": "not.a.jwt"})
            bye = await bad.recv()
            assert bye["type"] == "bye" and bye["code"] == 4500 and bye["reconnect"] is False, bye
            await _until(page, f"ivws.state({bad.id}) === 3", "the server's close")
            assert await page.evaluate(f"ivws.closeCode({bad.id})") == 4500
        finally:
            await browser.close()
    assert not errors, errors
