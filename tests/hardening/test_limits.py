"""Every configured limit is hit by a test that sees the documented answer (issue #8, item 4).

Some limits are already exercised elsewhere (tests/session/test_errors.py, test_generation.py,
tests/server/test_rest_errors.py); LIMIT_TESTS names each limit's tests, a meta-test checks
that they exist and that docs/operations.md and config.toml document every limit. The tests
here cover the rest: instances per world, prompt length, telemetry batch and payload size on
the socket, worlds per user on REST, and that limit slots are given back.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import msgpack
import pytest

from protocol.codes import CloseCode, ErrorCode
from server.config import SETTINGS
from server.node import NODE
from tests.conftest import TIMEOUT, bearer, login
from tests.hardening.conftest import ROOT
from tests.session.peer import Peer, rid

TESTS = ROOT / "tests"
HERE = "tests/hardening/test_limits.py"
SEC = "tests/security"

# setting → the tests that hit it (file::function), each seeing the documented answer.
LIMIT_TESTS: dict[str, list[str]] = {
    "max_connections_per_user": ["tests/session/test_errors.py::test_connection_limit_per_user_closes_4004",
                                 f"{HERE}::test_a_closed_socket_gives_its_user_and_ip_slot_back"],
    "max_connections_per_ip": ["tests/session/test_errors.py::test_connection_limit_per_ip_closes_4004",
                               f"{HERE}::test_a_closed_socket_gives_its_user_and_ip_slot_back"],
    "max_generations": ["tests/session/test_generation.py::test_generations_beyond_the_cap_are_refused",
                        f"{HERE}::test_concurrent_generations_cap_frees_on_gen_done"],
    "max_worlds_per_user": ["tests/session/test_errors.py::test_world_quota_refuses_generation_as_limit_exceeded",
                            f"{HERE}::test_worlds_per_user_on_rest_is_429_limit_exceeded"],
    "max_instances_per_world": [f"{HERE}::test_instances_per_world_cap_refuses_adds"],
    "max_instances": [f"{HERE}::test_max_instances_per_prompt_is_invalid_value"],
    "max_prompt_chars": [f"{HERE}::test_prompt_length_on_the_socket_and_on_rest"],
    "telemetry_max_events": ["tests/server/test_rest_telemetry.py::test_a_batch_over_the_event_limit_is_422",
                             f"{HERE}::test_telemetry_batch_size_on_the_socket"],
    "telemetry_max_event_bytes": ["tests/session/test_telemetry.py::test_a_bad_event_is_rejected_alone",
                                  f"{HERE}::test_telemetry_payload_size_on_the_socket"],
    "max_body_bytes": ["tests/server/test_rest_errors.py::test_a_body_over_max_body_bytes_is_413",
                       f"{HERE}::test_request_body_limit_is_413_json"],
    "max_frame_bytes": ["tests/session/test_errors.py::test_frame_over_the_limit_closes_1009",
                        "tests/session/test_errors.py::test_far_oversized_frame_is_refused_by_the_transport_with_1009"],
    "msgs_per_s": ["tests/session/test_errors.py::test_rate_limit_answers_retry_after_then_closes_4002"],
    "msgs_burst": ["tests/session/test_errors.py::test_rate_limit_answers_retry_after_then_closes_4002"],
    "prompts_per_min": ["tests/session/test_errors.py::test_prompt_budget_is_separate_and_smaller",
                        f"{SEC}/test_fairness.py::test_the_prompt_bucket_holds_what_welcome_advertises",
                        f"{SEC}/test_fairness.py::test_prompt_budget_is_per_user_across_reconnects_and_rest"],
    "max_generations_per_user": [f"{SEC}/test_fairness.py::test_concurrent_generations_are_counted_per_user"],
    "max_pending_instances_per_user": [
        f"{SEC}/test_bounds.py::test_the_instances_a_users_running_generations_hold_are_capped"],
    "generation_stall_timeout_s": [
        f"{SEC}/test_bounds.py::test_a_generation_whose_reader_stalls_ends_and_its_world_is_partial"],
    "max_stored_bytes_per_user": [
        f"{SEC}/test_fairness.py::test_stored_bytes_per_user_are_a_quota_with_a_clear_error"],
    "max_props_bytes": [f"{SEC}/test_bounds.py::test_a_set_that_grows_an_instances_props_past_the_cap_is_refused"],
    "oplog_max_bytes": [f"{SEC}/test_bounds.py::test_the_op_log_of_a_world_is_compacted_by_bytes"],
    "bad_frames_before_close": ["tests/session/test_errors.py::test_repeated_malformed_frames_close_4503"],
    "send_queue_bytes": ["tests/session/test_slow_consumer.py::"
                         "test_a_member_that_never_reads_is_closed_slow_and_others_keep_receiving"],
    "idle_timeout_s": ["tests/session/test_errors.py::test_idle_session_is_closed_4000"],
    "hello_timeout_s": ["tests/session/test_connect.py::test_no_hello_before_deadline_closes_unauthorized"],
    "login_attempts_per_min": ["tests/server/test_rest_auth.py::test_failed_logins_are_throttled_with_retry_after",
                               "tests/hardening/test_auth_abuse.py::test_login_is_throttled_per_account_and_per_ip"],
    "auth_requests_per_ip_per_min": ["tests/security/test_accounts.py::test_every_login_path_is_rate_limited_per_ip"],
    "auth_requests_per_account_per_min": [
        "tests/security/test_accounts.py::test_guest_login_is_rate_limited_per_account",
        "tests/security/test_accounts.py::test_register_and_refresh_count_against_the_account"],
    "telemetry_buffer_events": ["tests/session/test_telemetry.py::"
                                "test_a_tiny_buffer_applies_backpressure_and_drops_nothing"],
    "drain_timeout_s": ["tests/hardening/test_signals.py::test_sigterm_drains_without_losing_acked_work"],
    "telemetry_events_per_user_min": [
        "tests/security/test_telemetry_quota.py::"
        "test_the_event_quota_is_shared_by_a_users_sockets_and_rest_and_spares_other_users",
        "tests/security/test_telemetry_quota.py::test_a_frame_larger_than_a_minutes_budget_is_limit_exceeded"],
    "telemetry_bytes_per_user_min": ["tests/security/test_telemetry_quota.py::"
                                     "test_the_byte_quota_counts_what_would_be_stored"],
    "telemetry_retention_days": ["tests/security/test_telemetry_quota.py::"
                                 "test_the_purge_deletes_events_received_before_the_retention_and_keeps_the_rest"],
    "http_header_timeout_s": ["tests/security/test_connections.py::"
                              "test_a_silent_connection_is_closed_after_the_header_timeout",
                              "tests/security/test_connections.py::"
                              "test_request_headers_trickled_byte_by_byte_are_cut_off"],
    "http_keepalive_timeout_s": ["tests/security/test_connections.py::test_an_idle_keep_alive_connection_is_closed"],
    "http_body_timeout_s": ["tests/security/test_connections.py::"
                            "test_a_request_body_that_never_arrives_in_full_is_a_408"],
    "http_max_connections_per_ip": ["tests/security/test_connections.py::"
                                    "test_one_address_holding_many_idle_connections_is_capped_and_health_answers"],
    "http_max_connections": ["tests/security/test_connections.py::"
                             "test_at_the_total_cap_idle_connections_make_room_and_health_answers",
                             "tests/security/test_connections.py::test_at_the_descriptor_limit_health_keeps_answering"],
}


def test_every_limit_has_its_tests_and_is_documented() -> None:
    names = {s.name for s in SETTINGS}
    ops_doc = (ROOT / "docs" / "operations.md").read_text()
    toml = (ROOT / "config.toml").read_text()
    for setting, tests in LIMIT_TESTS.items():
        assert setting in names, setting
        assert re.search(rf"^\|[^|]*`{setting}`", ops_doc, re.M), f"{setting} missing from docs/operations.md limits"
        assert re.search(rf"^{setting}\s*=", toml, re.M), f"{setting} missing from config.toml"
        for test in tests:
            path, func = test.split("::")
            assert f"def {func}(" in (ROOT / path).read_text(), test


async def _generate(peer: Peer, n: int, **fields: Any) -> dict[str, Any]:
    r = rid()
    await peer.send(type="prompt", rid=r, prompt="a small forest clearing", seed=3, max_instances=n, **fields)
    return await peer.until(lambda f: f.get("rid") == r and f["type"] in ("gen.done", "error"))


async def _join(peer: Peer, world_id: str) -> dict[str, Any]:
    joined = await peer.request("join", world_id=world_id)
    assert joined["type"] == "joined", joined
    if joined["mode"] == "snapshot":
        await peer.until(lambda f: f.get("type") == "snapshot" and f.get("last"))
    return joined


def _add(i: int, x: float = 1.0) -> dict[str, Any]:
    return {"op": "add", "id": f"cap-{i}", "prefab_id": "oak_tree", "pos": [x, 0.0, 1.0]}


async def test_instances_per_world_cap_refuses_adds(server: Any) -> None:
    _, open_peer = await server(max_instances_per_world=12)
    peer = await open_peer("alice")
    done = await _generate(peer, 10)
    assert done["type"] == "gen.done" and done["instances"] == 10, done
    joined = await _join(peer, done["world_id"])
    ok = await peer.request("edit", world_id=done["world_id"], ops=[_add(1), _add(2)])
    assert ok["type"] == "edit.ack" and ok["seq"] == joined["seq"] + 1, ok
    refused = await peer.request("edit", world_id=done["world_id"], ops=[_add(3)])
    assert refused["type"] == "error" and refused["code"] == ErrorCode.LIMIT_EXCEEDED, refused
    assert "ops" in refused["fields"] and "12" in refused["message"]
    # nothing was applied, and other edits still go through
    moved = await peer.request("edit", world_id=done["world_id"], ops=[{"op": "move", "id": "cap-1",
                                                                        "pos": [2.0, 0.0, 2.0]}])
    assert moved["type"] == "edit.ack" and moved["seq"] == ok["seq"] + 1, moved
    removed = await peer.request("edit", world_id=done["world_id"], ops=[{"op": "remove", "id": "cap-2"}])
    assert removed["type"] == "edit.ack"
    again = await peer.request("edit", world_id=done["world_id"], ops=[_add(4)])
    assert again["type"] == "edit.ack", again


async def test_max_instances_per_prompt_is_invalid_value(server: Any) -> None:
    _, open_peer = await server(max_instances=50)
    peer = await open_peer()
    assert (await _generate(peer, 50))["type"] == "gen.done"
    err = await _generate(peer, 51)
    assert err["code"] == ErrorCode.INVALID_VALUE and "max_instances" in err["fields"], err


async def test_prompt_length_on_the_socket_and_on_rest(server: Any) -> None:
    client, open_peer = await server(max_prompt_chars=20)
    peer = await open_peer()
    r = rid()
    await peer.send(type="prompt", rid=r, prompt="f" * 20, max_instances=5)
    assert (await peer.until(lambda f: f.get("rid") == r))["type"] == "gen.start"
    err = await peer.request("prompt", prompt="f" * 21, max_instances=5)
    assert err["code"] == ErrorCode.INVALID_VALUE and "prompt" in err["fields"], err
    token = await login(client, "bob")
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token), json={"prompt": "f" * 21})
    body = await resp.json()
    assert resp.status == 422 and "prompt" in body["details"], body


async def test_concurrent_generations_cap_frees_on_gen_done(server: Any) -> None:
    _, open_peer = await server(max_generations=1)
    peer = await open_peer()
    r = rid()
    await peer.send(type="prompt", rid=r, prompt="a vast forest", max_instances=3000)
    await peer.until_type("gen.start", rid=r)
    err = await peer.request("prompt", prompt="a second forest", max_instances=5)
    assert err["code"] == ErrorCode.TOO_MANY_GENERATIONS and err["retry"] if "retry" in err else True
    assert err["code"] == ErrorCode.TOO_MANY_GENERATIONS
    await peer.until_type("gen.done", rid=r)
    assert (await _generate(peer, 5))["type"] == "gen.done"


async def test_worlds_per_user_on_rest_is_429_limit_exceeded(make_client: Any) -> None:
    client = await make_client(max_worlds_per_user=1)
    token = await login(client)
    body = {"prompt": "a small forest", "max_instances": 10}
    assert (await client.post("/api/v1/prompt2world/", headers=bearer(token), json=body)).status == 200
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token), json=body)
    assert resp.status == 429 and (await resp.json())["error"] == "limit_exceeded"


def _events(prefix: str, n: int, data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "type": "t", "data": data or {}} for i in range(n)]


async def test_telemetry_batch_size_on_the_socket(server: Any) -> None:
    _, open_peer = await server(telemetry_max_events=5)
    peer = await open_peer()
    assert peer.welcome["limits"]["max_telemetry_events"] == 5
    ack = await peer.request("telemetry", events=_events("ok", 5))
    assert ack["type"] == "telemetry.ack" and len(ack["ids"]) == 5
    err = await peer.request("telemetry", events=_events("big", 6))
    assert err["type"] == "error" and err["code"] == ErrorCode.INVALID_VALUE and "events" in err["fields"], err


async def test_telemetry_payload_size_on_the_socket(server: Any) -> None:
    _, open_peer = await server(telemetry_max_event_bytes=100)
    peer = await open_peer()
    small = {"k": "x" * 50}
    assert len(msgpack.packb(small)) <= 100
    big = {"k": "x" * 200}
    batch = _events("s", 2, small) + _events("b", 1, big)
    ack = await peer.request("telemetry", events=batch)
    assert sorted(ack["ids"]) == ["s-0", "s-1"]
    assert [(r["id"], r["code"]) for r in ack["rejected"]] == [("b-0", ErrorCode.INVALID_VALUE)]


async def test_request_body_limit_is_413_json(make_client: Any) -> None:
    """Also before authentication: a stranger's huge body is refused, not read."""
    client = await make_client(max_body_bytes=2048)
    for path in ("/api/v1/auth/login", "/api/v1/auth/register"):
        resp = await client.post(path, json={"user_id": "alice", "pad": "x" * 4096})
        body = await resp.json()
        assert resp.status == 413 and body["error"] == "payload_too_large" and "2048" in body["message"], body
    assert (await client.post("/api/v1/auth/login", json={"user_id": "alice"})).status == 200


async def test_a_closed_socket_gives_its_user_and_ip_slot_back(server: Any) -> None:
    client, open_peer = await server(max_connections_per_user=1, max_connections_per_ip=2)
    sessions = client.server.app[NODE].metrics.sessions  # dec'd as both slots are freed
    token = await login(client, "alice")
    for _ in range(5):  # open, close, open again: the slots come back every time
        peer = await open_peer("alice", token)
        assert (await peer.request("ping"))["type"] == "pong"
        await peer.ws.close()
        async with asyncio.timeout(TIMEOUT):
            while sessions._value.get():
                await asyncio.sleep(0.01)
    first = await open_peer("alice", token)
    second = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"}))
    assert await second.closed() == CloseCode.CONNECTION_LIMIT  # per user
    other = await open_peer("bob")
    third = Peer(await client.ws_connect("/ws", headers={"Authorization": f"Bearer {await login(client, 'carl')}"}))
    assert await third.closed() == CloseCode.CONNECTION_LIMIT  # per IP: alice + bob hold both
    assert (await first.request("ping"))["type"] == "pong"
    assert (await other.request("ping"))["type"] == "pong"


@pytest.mark.parametrize("setting", sorted(LIMIT_TESTS))
def test_the_limit_is_a_setting_with_an_env_override(setting: str) -> None:
    from server import config

    default = next(s.default for s in SETTINGS if s.name == setting)
    raw = "7" if not isinstance(default, float) else "7.5"
    settings = config.resolve(None, environ={f"IMMERSIVERSE_{setting.upper()}": raw})[0]
    assert getattr(settings, setting) == type(default)(raw)

