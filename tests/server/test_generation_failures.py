"""How a streamed generation ends when it fails (docs/protocol.md §4.1, §7.2, §8.3): exactly one
final frame — `gen.done {status: failed}` once `gen.start` went out, else an `error` whose code
comes from the one exception table (server/failures.py); a store outage is `unavailable` with
`retry_after_s` and a log line, never a traceback; a bug's text never reaches the client.

The store is real (SQLite in tmp_path); one of its calls is made to fail as a cut connection
or a bug would make it fail."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import generator
from protocol.codes import ErrorCode
from server.context import SERVICES
from tests.conftest import bearer, login
from tests.session.peer import Peer, rid


async def _peer(client: TestClient) -> Peer:
    peer = Peer(await client.ws_connect("/ws", headers=bearer(await login(client, "gen"))))
    assert (await peer.recv())["type"] == "welcome"
    return peer


async def _frames_of_prompt(peer: Peer, **fields: Any) -> list[dict[str, Any]]:
    """Every frame of one prompt up to its final one (gen.done or error)."""
    r = rid()
    await peer.send(type="prompt", rid=r, prompt="a misty pine forest with a ruined tower", seed=5, **fields)
    frames = []
    while True:
        frame = await peer.until(lambda f: f.get("rid") == r)
        frames.append(frame)
        if frame["type"] in ("gen.done", "error"):
            return frames


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info is not None and r.name.startswith("immersiverse")]


def _refused(exc: BaseException) -> Any:
    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise exc
    return fail


async def test_a_store_outage_before_gen_start_is_unavailable_with_retry_after_and_no_traceback(
        client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = client.app[SERVICES].store
    monkeypatch.setattr(store.worlds, "start_generated", _refused(ConnectionRefusedError(111, "connection refused")))
    peer = await _peer(client)
    with caplog.at_level(logging.INFO):
        frames = await _frames_of_prompt(peer)
    assert [f["type"] for f in frames] == ["error"], frames
    assert frames[0]["code"] == ErrorCode.UNAVAILABLE
    assert frames[0]["retry_after_s"] == client.app[SERVICES].settings.store_retry_after_s
    assert not _tracebacks(caplog), [r.getMessage() for r in _tracebacks(caplog)]
    assert any("generation rid" in r.getMessage() and "unavailable" in r.getMessage() for r in caplog.records)


async def test_a_store_outage_after_gen_start_ends_with_one_gen_done_failed_and_no_traceback(
        client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = client.app[SERVICES].store
    monkeypatch.setattr(store.worlds, "append_chunks", _refused(ConnectionResetError(104, "connection reset")))
    peer = await _peer(client)
    with caplog.at_level(logging.INFO):
        frames = await _frames_of_prompt(peer, max_instances=2000)  # more than one store transaction
    assert frames[0]["type"] == "gen.start" and frames[-1]["type"] == "gen.done", frames
    assert frames[-1]["status"] == "failed" and "unavailable" in frames[-1]["warnings"][0]
    assert not [f for f in frames if f["type"] == "error"]
    # gen.done counts what was sent (docs/protocol.md §7.2), not 0
    chunks = [f for f in frames if f["type"] == "gen.chunk"]
    assert (frames[-1]["instances"], frames[-1]["chunks"]) == (sum(len(f["instances"]) for f in chunks), len(chunks))
    assert chunks
    assert not _tracebacks(caplog), [r.getMessage() for r in _tracebacks(caplog)]


async def test_a_bug_after_gen_start_ends_with_gen_done_not_an_error_and_its_text_stays_in_the_log(
        client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # A ValueError is not the generator refusing the prompt: it is a bug like any other.
    store = client.app[SERVICES].store
    monkeypatch.setattr(store.worlds, "append_chunks", _refused(ValueError("secret internals")))
    peer = await _peer(client)
    with caplog.at_level(logging.INFO):
        frames = await _frames_of_prompt(peer, max_instances=2000)
    assert frames[0]["type"] == "gen.start" and frames[-1]["type"] == "gen.done", frames
    assert frames[-1]["status"] == "failed"
    assert not [f for f in frames if f["type"] == "error"]
    assert "secret" not in str(frames)
    assert any("secret internals" in str(r.exc_info[1]) for r in _tracebacks(caplog) if r.exc_info)


async def test_the_generator_refusing_its_arguments_is_invalid_value_with_its_message(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise generator.GeneratorError("budget must be an integer in [1, 20000]")

    monkeypatch.setattr(generator, "plan", refuse)
    peer = await _peer(client)
    frames = await _frames_of_prompt(peer)
    assert [(f["type"], f["code"]) for f in frames] == [("error", ErrorCode.INVALID_VALUE)], frames
    assert frames[0]["message"] == "budget must be an integer in [1, 20000]"
