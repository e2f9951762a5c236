"""Codes, explanations, reconnect rule, error/bye helpers and version negotiation (§8, §9, §3.2)."""

from __future__ import annotations

import pytest

from protocol import (
    CLOSE_EXPLANATIONS,
    DEFAULT_MESSAGES,
    ERROR_EXPLANATIONS,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    CloseCode,
    EncodeError,
    ErrorCode,
    ProtocolError,
    ProtocolException,
    bye,
    encode,
    encode_raw,
    error_reply,
    negotiate,
    should_reconnect,
)
from protocol import messages as m


def test_every_code_has_an_explanation_and_a_default_message() -> None:
    assert set(ERROR_EXPLANATIONS) == set(ErrorCode)
    assert set(DEFAULT_MESSAGES) == set(ErrorCode)
    assert set(CLOSE_EXPLANATIONS) == set(CloseCode)


def test_error_codes_sit_in_their_documented_ranges() -> None:
    assert all(1000 <= code <= 1299 for code in ErrorCode)
    assert (
        ErrorCode.BAD_FRAME == 1000
        and ErrorCode.NOT_AUTHENTICATED == 1100
        and ErrorCode.INTERNAL == 1200
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1000, False),
        (1001, True),
        (1006, True),
        (1009, True),
        (1011, True),
        (4000, True),
        (4001, True),
        (4003, True),
        (4499, True),
        (4500, False),
        (4502, False),
        (4503, False),
        (4999, False),
    ],
)
def test_reconnect_rule_by_range_also_for_unknown_codes(code: int, expected: bool) -> None:
    assert should_reconnect(code) is expected


def test_close_codes_follow_the_range_rule() -> None:
    for code in CloseCode:
        if 4000 <= code < 4500:
            assert code.reconnect
        elif 4500 <= code < 5000:
            assert not code.reconnect
    assert CloseCode.GOING_AWAY.reconnect and not CloseCode.NORMAL_CLOSURE.reconnect


def test_wire_names_are_snake_case_and_close_reasons_fit_a_close_frame() -> None:
    assert ErrorCode.TOO_MANY_GENERATIONS.wire_name == "too_many_generations"
    assert all(len(code.wire_name.encode()) <= 123 for code in CloseCode)


def test_error_reply_fills_name_and_default_message() -> None:
    reply = error_reply(ErrorCode.RATE_LIMITED, rid=4, retry_after_s=1.5)
    assert reply == m.Error(
        code=1104, name="rate_limited", message="rate limited", rid=4, retry_after_s=1.5
    )


def test_protocol_error_reply_carries_rid_and_fields() -> None:
    exc = ProtocolError(ErrorCode.INVALID_VALUE, "invalid prompt", {"prompt": "too long"}, rid=9)
    assert exc.reply() == m.Error(
        code=1012,
        name="invalid_value",
        message="invalid prompt",
        rid=9,
        fields={"prompt": "too long"},
    )
    assert isinstance(exc, ProtocolException)


def test_bye_mirrors_the_close_code_and_reconnect_rule() -> None:
    assert bye(
        CloseCode.UNSUPPORTED_PROTOCOL_VERSION, supported_versions=SUPPORTED_VERSIONS
    ) == m.Bye(
        code=4502, reason="unsupported_protocol_version", reconnect=False, supported_versions=(1,)
    )
    slow = bye(CloseCode.SLOW_CONSUMER, "send queue full")
    assert slow.reconnect is True
    # docs/protocol.md §7.1: reason is always the code's name; free text goes in message.
    assert (slow.reason, slow.message) == ("slow_consumer", "send queue full")


def test_version_negotiation_accepts_only_supported_versions() -> None:
    assert PROTOCOL_VERSION in SUPPORTED_VERSIONS
    assert negotiate(PROTOCOL_VERSION) == PROTOCOL_VERSION
    assert negotiate(99) is None


def test_encoding_a_non_message_is_an_encode_error_not_a_protocol_error() -> None:
    with pytest.raises(EncodeError):
        encode(object())  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        encode(m.Pong(rid=1, server_time=object()))  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        encode_raw("op", {"type": "x"})
    assert not issubclass(EncodeError, ProtocolError)
