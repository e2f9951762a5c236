"""msgpack ⇄ messages. Sans-I/O: bytes in, typed messages out, and back (docs/protocol.md §2).

* :func:`decode_client` — the server's entry point; strict (limits, field validation).
* :func:`decode_server` — the Python client SDK's entry point; structural checks only.
* :func:`encode` — any message to bytes. Server messages are *not* validated on encode: they are
  built by our own code and :class:`~protocol.messages.GenChunk` is on the hot path (§6.3).
* :func:`encode_gen_chunk` / :func:`encode_raw` — build a frame without a dataclass, for
  broadcasts encoded once and sent to every room member.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import msgpack

from records import array_header

from . import messages as m
from . import values as val
from ._decoders import CLIENT_DECODERS, MAX_RID, decode_fast, read_op
from ._reader import FieldErrors, Reader, walk
from .codes import ErrorCode
from .errors import EncodeError, ProtocolError
from .limits import DEFAULT_LIMITS, SERVER_FRAME_LIMITS, Limits

__all__ = [
    "decode_client",
    "decode_server",
    "encode",
    "encode_client",
    "encode_gen_chunk",
    "encode_gen_chunk_packed",
    "encode_joined_packed",
    "encode_presence_batch",
    "encode_raw",
    "encode_server",
    "encode_snapshot_packed",
    "peek_rid",
    "pack_header",
    "pack_instances",
    "pack_member",
    "pack_members",
]

# --- decoding -------------------------------------------------------------------------------

# msgpack reports its own limit violations as ValueError text; map them to our codes (§8.1).
_UNPACK_MESSAGES: tuple[tuple[str, ErrorCode], ...] = (
    ("max_array_len", ErrorCode.TOO_MANY_ITEMS),
    ("max_map_len", ErrorCode.TOO_MANY_ITEMS),
    ("max_str_len", ErrorCode.STRING_TOO_LONG),
    ("max_bin_len", ErrorCode.UNSUPPORTED_TYPE),
    ("max_ext_len", ErrorCode.UNSUPPORTED_TYPE),
    ("not allowed for map key", ErrorCode.UNSUPPORTED_TYPE),
)


def _reject_ext(code: int, data: bytes) -> Any:
    # Unreachable while max_ext_len=0, kept so that no ext type can ever become a Python object.
    raise ProtocolError(ErrorCode.UNSUPPORTED_TYPE, fields={"$": f"ext type {code}"})


def _unpack(data: bytes, limits: Limits) -> dict[str, Any]:
    if len(data) > limits.max_frame_bytes:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE)
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_reject_ext,
            max_ext_len=0,
            max_bin_len=0,  # bin is never allowed; an empty one is caught by the walk
            max_str_len=limits.max_str_len,
            max_array_len=limits.max_items,
            max_map_len=limits.max_items,
        )
    except ProtocolError:
        raise
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.INVALID_UTF8) from None
    except msgpack.StackError:
        raise ProtocolError(ErrorCode.TOO_DEEP) from None
    except Exception as exc:  # noqa: BLE001 - msgpack is foreign code: any failure is a bad frame
        text = str(exc)
        code = next((c for key, c in _UNPACK_MESSAGES if key in text), ErrorCode.BAD_FRAME)
        raise ProtocolError(code) from None
    if type(obj) is not dict:
        raise ProtocolError(ErrorCode.NOT_A_MAP)
    return obj


def _valid_rid(obj: dict[str, Any]) -> int | None:
    rid = obj.get("rid")
    return rid if type(rid) is int and 0 <= rid <= MAX_RID else None


def peek_rid(data: bytes, limits: Limits = DEFAULT_LIMITS) -> int | None:
    """The frame's valid `rid`, or None (not a map, no rid, undecodable): for answering a frame
    refused before decoding (rate limits) with the rid its request waits for."""
    try:
        return _valid_rid(_unpack(data, limits))
    except ProtocolError:
        return None


def _message_type(obj: dict[str, Any], known: Mapping[str, object]) -> str:
    kind = obj.get("type")
    if kind is None:
        raise ProtocolError(ErrorCode.MISSING_FIELD, fields={"type": "required"})
    if type(kind) is not str:
        raise ProtocolError(ErrorCode.WRONG_TYPE, fields={"type": "expected string"})
    if kind not in known:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:64]!r}")
    return kind


def decode_client(data: bytes, limits: Limits = DEFAULT_LIMITS) -> m.ClientMessage:
    """Decode one client frame or raise :class:`ProtocolError` (docs/protocol.md §8.1).

    The error's ``rid`` is set whenever the frame was a map carrying a valid ``rid``.
    """
    obj = _unpack(data, limits)
    fast = decode_fast(obj, limits)  # a valid telemetry frame skips the walk (_decoders.py)
    if fast is not None:
        return fast
    try:
        walk(obj, limits.max_depth)
        kind = _message_type(obj, CLIENT_DECODERS)
        return CLIENT_DECODERS[kind](Reader(obj, FieldErrors()), limits)
    except ProtocolError as exc:
        exc.rid = _valid_rid(obj)
        raise


_Check = Callable[[Any], Any]


class _Bad(Exception):
    def __init__(self, code: ErrorCode, reason: str) -> None:
        self.code, self.reason = code, reason


def _scalar(kind: Callable[[Any], Any], name: str) -> _Check:
    def check(value: Any) -> Any:
        if type(value) is kind or (kind is float and type(value) is int):
            return kind(value)
        raise _Bad(ErrorCode.WRONG_TYPE, f"expected {name}")

    return check


def _container(kind: type, name: str, convert: Callable[[Any], Any]) -> _Check:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise _Bad(ErrorCode.WRONG_TYPE, f"expected {name}")
        return convert(value)

    return check


def _ops(value: list[Any]) -> tuple[val.EditOp, ...]:
    errors = FieldErrors()
    parent = Reader({}, errors)
    ops = [read_op(parent, f"[{i}]", item, SERVER_FRAME_LIMITS) for i, item in enumerate(value)]
    if errors.items:
        path, (code, reason) = next(iter(errors.items.items()))
        raise _Bad(code, f"{path}: {reason}")
    return tuple(op for op in ops if op is not None)


def _checker(hint: Any) -> _Check:
    """Structural check for a server-message field type (trusted peer, §2.5)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint in (int, float, str, bool):
        return _scalar(hint, hint.__name__)
    if origin is Literal:

        def literal(value: Any) -> Any:
            if value in args:
                return value
            raise _Bad(ErrorCode.INVALID_VALUE, "must be one of " + ", ".join(map(str, args)))

        return literal
    if is_typeddict(hint) or origin is Mapping:
        return _container(dict, "map", lambda v: v)
    if origin is Sequence and args[0] == val.EditOp:
        return _container(list, "array", _ops)
    if origin is Sequence:
        item = _checker(args[0])
        return _container(list, "array", lambda v: tuple(item(x) for x in v))
    if origin in (Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _checker(inner)
    raise TypeError(f"no checker for {hint!r}")  # a bug in messages.py, found at import


def _server_schema(cls: type[Any]) -> tuple[tuple[str, bool, _Check], ...]:
    hints = get_type_hints(cls)
    return tuple(
        (f.name, f.default is MISSING and f.default_factory is MISSING, _checker(hints[f.name]))
        for f in fields(cls)
    )


_SERVER_SCHEMAS = {kind: _server_schema(cls) for kind, cls in m.SERVER_MESSAGES.items()}


def decode_server(data: bytes, limits: Limits = SERVER_FRAME_LIMITS) -> m.ServerMessage:
    """Decode one server frame (for the Python client SDK) or raise :class:`ProtocolError`."""
    obj = _unpack(data, limits)
    try:
        kind = _message_type(obj, _SERVER_SCHEMAS)
        values: dict[str, Any] = {}
        errors = FieldErrors()
        for name, required, check in _SERVER_SCHEMAS[kind]:
            value = obj.get(name)
            if value is None:
                if required:
                    errors.add(name, ErrorCode.MISSING_FIELD, "required")
                continue
            try:
                values[name] = check(value)
            except _Bad as bad:
                errors.add(name, bad.code, bad.reason)
        errors.raise_if_any(kind)
        return m.SERVER_MESSAGES[kind](**values)
    except ProtocolError as exc:
        exc.rid = _valid_rid(obj)
        raise


# --- encoding -------------------------------------------------------------------------------


def _plain(kind_key: str, kind: str, names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    def to_wire(obj: Any) -> dict[str, Any]:
        # Tag first, then fields in declaration order: the byte layout is stable (§10 hex dumps).
        wire: dict[str, Any] = {kind_key: kind}
        for name in names:
            value = getattr(obj, name)
            if value is not None:  # absent optional field ≡ nil (§2.4)
                wire[name] = value
        return wire

    return to_wire


def _untagged(names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    def to_wire(obj: Any) -> dict[str, Any]:
        return {n: v for n in names if (v := getattr(obj, n)) is not None}

    return to_wire


def _gen_chunk(msg: m.GenChunk) -> dict[str, Any]:
    # Hot path (§6.3): no loop, no validation; instances are already wire dicts.
    return {
        "type": "gen.chunk",
        "rid": msg.rid,
        "world_id": msg.world_id,
        "index": msg.index,
        "instances": msg.instances,
    }


_TO_WIRE: dict[type, Callable[[Any], dict[str, Any]]] = {
    cls: _plain("type", cls.TYPE, m.wire_fields(cls))
    for cls in (*m.CLIENT_MESSAGES.values(), *m.SERVER_MESSAGES.values())
}
_TO_WIRE[m.GenChunk] = _gen_chunk
for _op in (val.AddOp, val.MoveOp, val.SetOp, val.RemoveOp):
    _TO_WIRE[_op] = _plain("op", _op.OP, m.wire_fields(_op))
for _cls in (val.ClientInfo, val.TelemetryEvent):
    _TO_WIRE[_cls] = _untagged(m.wire_fields(_cls))


def _default(obj: Any) -> Any:
    """msgpack fallback: nested dataclasses and non-dict mappings become maps."""
    to_wire = _TO_WIRE.get(type(obj))
    if to_wire is not None:
        return to_wire(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _pack(obj: Any) -> bytes:
    try:
        return msgpack.packb(obj, default=_default, use_bin_type=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(str(exc)) from exc


def encode(msg: m.ServerMessage | m.ClientMessage) -> bytes:
    """Encode any protocol message to one frame; raises EncodeError for anything else."""
    to_wire = _TO_WIRE.get(type(msg))
    if to_wire is None or not hasattr(msg, "TYPE"):
        raise EncodeError(f"not a protocol message: {type(msg).__name__}")
    return _pack(to_wire(msg))


def encode_server(msg: m.ServerMessage) -> bytes:
    """:func:`encode`, typed for the server side."""
    return encode(msg)


def encode_client(msg: m.ClientMessage) -> bytes:
    """:func:`encode`, typed for the client SDK side."""
    return encode(msg)


def encode_gen_chunk(
    rid: int, world_id: str, index: int, instances: Sequence[val.Instance]
) -> bytes:
    """A ``gen.chunk`` frame straight from wire dicts, byte-identical to ``encode(GenChunk(...))``."""
    return _pack(
        {
            "type": "gen.chunk",
            "rid": rid,
            "world_id": world_id,
            "index": index,
            "instances": instances,
        }
    )


def pack_instances(instances: Sequence[val.Instance]) -> bytes:
    """The msgpack array of wire instances that a ``gen.chunk`` carries (see encode_gen_chunk_packed)."""
    return _pack(instances)


_INSTANCES_KEY: bytes = msgpack.packb("instances")


def encode_gen_chunk_packed(rid: int, world_id: str, index: int, packed_instances: bytes) -> bytes:
    """A ``gen.chunk`` frame around an already packed instance array (``pack_instances``):
    byte-identical to ``encode_gen_chunk`` with the same instances, but the instances are packed
    once, for the store and for the wire alike."""
    head = _pack({"type": "gen.chunk", "rid": rid, "world_id": world_id, "index": index})
    return b"\x85" + head[1:] + _INSTANCES_KEY + packed_instances  # fixmap of 4 entries -> 5


_HEADER_KEY: bytes = msgpack.packb("header")
_MEMBER_KEY: bytes = msgpack.packb("member")
_MEMBERS_KEY: bytes = msgpack.packb("members")


def pack_member(member: val.Member | Mapping[str, Any]) -> bytes:
    """A member (§6.2) packed once, for ``encode_presence_batch``."""
    return _pack(member)


def encode_presence_batch(world_id: str, event: str, packed_members: Sequence[bytes]) -> bytes:
    """One ``presence`` frame for the joins (or leaves) of several members (``pack_member``),
    byte-identical to ``encode(PresenceEvent(world_id, event, member=first, members=all))``;
    for one member, to ``encode(PresenceEvent(world_id, event, member))`` (no ``members``)."""
    head = _pack({"type": "presence", "world_id": world_id, "event": event})
    first = packed_members[0]
    if len(packed_members) == 1:  # fixmap of 3 entries -> 4 (member) or 5 (and members)
        return b"\x84" + head[1:] + _MEMBER_KEY + first
    return (b"\x85" + head[1:] + _MEMBER_KEY + first + _MEMBERS_KEY + array_header(len(packed_members))
            + b"".join(packed_members))


def encode_snapshot_packed(rid: int, world_id: str, seq: int, index: int, last: bool, packed_instances: bytes,
                           header: Mapping[str, Any] | bytes | None = None) -> bytes:
    """A ``snapshot`` frame around an already packed instance array (the stored chunks spliced,
    records/ ``spliced``): byte-identical to ``encode(Snapshot(...))`` with the same instances,
    which are never decoded on the way from the store to a joining member (§7.4). `header` may
    come packed already (``pack_header``), for a wave of joiners of one world."""
    head = _pack({"type": "snapshot", "rid": rid, "world_id": world_id, "seq": seq, "index": index, "last": last})
    if header is None:  # fixmap of 6 entries -> 7 (instances) or 8 (and header)
        return b"\x87" + head[1:] + _INSTANCES_KEY + packed_instances
    packed_header = header if isinstance(header, bytes) else _pack(header)
    return b"\x88" + head[1:] + _INSTANCES_KEY + packed_instances + _HEADER_KEY + packed_header


def pack_members(members: Sequence[val.Member] | Sequence[Mapping[str, Any]]) -> bytes:
    """A member list (§6.2) packed once, for ``encode_joined_packed``."""
    return _pack(list(members))


def encode_joined_packed(rid: int, world_id: str, seq: int, role: str, mode: str, packed_members: bytes) -> bytes:
    """A ``joined`` frame around an already packed member list (``pack_members``), byte-identical
    to ``encode(Joined(...))``: a wave of joiners shares one encoding of the list (§7.4)."""
    head = _pack({"type": "joined", "rid": rid, "world_id": world_id, "seq": seq, "role": role, "mode": mode})
    return b"\x87" + head[1:] + _MEMBERS_KEY + packed_members  # fixmap of 6 entries -> 7


def pack_header(header: Mapping[str, Any]) -> bytes:
    """A world header (§6.5) packed once, for ``encode_snapshot_packed``."""
    return _pack(header)


def encode_raw(type: str, fields: Mapping[str, Any]) -> bytes:
    """A frame from a pre-built field map (e.g. a stored op replayed to a room), ``type`` first."""
    if "type" in fields:
        raise EncodeError("fields must not contain 'type'")
    return _pack({"type": type, **fields})
