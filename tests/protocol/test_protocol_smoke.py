"""Smallest proof that the codec round-trips one message each way (full tables in test_golden)."""

from protocol import decode_client, decode_server, encode
from protocol.messages import Hello, Pong


def test_hello_round_trips_through_decode_client() -> None:
    msg = Hello(v=1, token="t")
    assert decode_client(encode(msg)) == msg


def test_pong_round_trips_through_decode_server() -> None:
    msg = Pong(rid=7, server_time=1.5)
    assert decode_server(encode(msg)) == msg
