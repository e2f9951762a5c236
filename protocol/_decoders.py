"""Field-level decoders of client messages, one per `type` (docs/protocol.md §7).

Each decoder takes the already-walked top-level map and returns a typed message, or raises
ProtocolError listing every invalid field. Unknown extra fields are ignored on purpose: a newer
client may send fields this server does not know yet (forward compatibility, §2.4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, cast

import msgpack

from . import messages as m
from . import values as val
from ._reader import FieldErrors, Reader, passes
from .codes import ErrorCode
from .limits import Limits

__all__ = ["CLIENT_DECODERS", "MAX_RID", "decode_fast", "read_op"]

#: Request ids are int32-safe so any client language can hold them (docs/protocol.md §4).
MAX_RID = 2**31 - 1
_MAX_INT64 = 2**63 - 1
_OPS = ("add", "move", "set", "remove")
_MAX_TS = 1e11  # telemetry event times, unix seconds (docs/protocol.md §7.3)


def _rid(r: Reader) -> int:
    return r.req_int("rid", 0, MAX_RID)


def _hello(r: Reader, lim: Limits) -> m.Hello:
    v = r.req_int("v", 1, MAX_RID)
    token = r.opt_str("token", lim.max_token_chars)
    client = None
    raw = r.obj.get("client")
    if raw is not None:
        sub = r.sub("client", raw)
        if sub is not None:
            client = val.ClientInfo(
                name=sub.opt_str("name", lim.max_id_chars),
                version=sub.opt_str("version", lim.max_id_chars),
            )
    r.errors.raise_if_any("hello")
    return m.Hello(v=v, token=token, client=client)


def _auth_refresh(r: Reader, lim: Limits) -> m.AuthRefresh:
    msg = m.AuthRefresh(rid=_rid(r), token=r.req_str("token", lim.max_token_chars))
    r.errors.raise_if_any("auth.refresh")
    return msg


def _ping(r: Reader, lim: Limits) -> m.Ping:
    msg = m.Ping(rid=_rid(r))
    r.errors.raise_if_any("ping")
    return msg


def _prompt(r: Reader, lim: Limits) -> m.Prompt:
    rid = _rid(r)
    text = r.req_str("prompt", lim.max_prompt_chars)
    if text and not text.strip():
        r.errors.add("prompt", ErrorCode.INVALID_VALUE, "must not be blank")
    world_type = r.opt_choice("world_type", val.WORLD_TYPES)
    seed = r.opt_int("seed", 0, _MAX_INT64)
    max_instances = r.opt_int("max_instances", 1, lim.max_instances)
    room = r.opt_bool("room")
    r.errors.raise_if_any("prompt")
    return m.Prompt(
        rid=rid,
        prompt=text,
        world_type=cast(val.WorldType | None, world_type),
        seed=seed,
        max_instances=max_instances,
        room=True if room is None else room,
    )


def _cancel(r: Reader, lim: Limits) -> m.Cancel:
    msg = m.Cancel(rid=_rid(r), target=r.req_int("target", 0, MAX_RID))
    r.errors.raise_if_any("cancel")
    return msg


def _telemetry(r: Reader, lim: Limits) -> m.Telemetry:
    rid = _rid(r)
    raw = r.opt_list("events", lim.max_telemetry_events, 1, required=True) or []
    events: list[val.TelemetryEvent] = []
    rejected: list[val.TelemetryRejection] = []
    for i, item in enumerate(raw):
        sub = _event_reader(r, i, item)
        if sub is None:
            continue
        # An event needs a valid id to be acked or rejected; without one the frame is invalid.
        event_id = sub.opt_str("id", lim.max_id_chars, required=True)
        if event_id is None:
            continue
        own = FieldErrors()
        ev = Reader(item, own, sub.prefix)
        event = val.TelemetryEvent(
            id=event_id,
            type=ev.req_str("type", lim.max_id_chars),
            ts=ev.opt_number("ts", 0.0, _MAX_TS),
            world_id=ev.opt_str("world_id", lim.max_id_chars),
            experience_id=ev.opt_str("experience_id", lim.max_id_chars),
            data=ev.opt_map("data", lim.max_event_data_bytes),
        )
        if own.items:
            # One bad event must not poison the batch: set it aside for telemetry.ack (§7.3).
            code, _ = next(iter(own.items.values()))
            detail = "; ".join(f"{p}: {reason}" for p, (_, reason) in own.items.items())
            rejected.append(val.TelemetryRejection(id=event_id, code=int(code), message=detail))
        else:
            events.append(event)
    r.errors.raise_if_any("telemetry")
    return m.Telemetry(rid=rid, events=tuple(events), rejected=tuple(rejected))


_TELEMETRY_KEYS = frozenset(("type", "rid", "events"))
_EVENT_KEYS = frozenset(("id", "type", "ts", "world_id", "experience_id", "data"))


def decode_fast(obj: dict[str, Any], lim: Limits) -> m.ClientMessage | None:
    """The message of a frame that the general path (frame walk, then `CLIENT_DECODERS`) would
    accept as it is, decoded at a fraction of its cost; None means "not sure": the general
    path then decodes the frame and reports any problem as usual. Only `telemetry` has one:
    hundreds of events a frame, each walked, then read field by field, cost ~5 µs an event.
    """
    if obj.get("type") == "telemetry":
        return _telemetry_fast(obj, lim)
    return None


def _telemetry_fast(obj: dict[str, Any], lim: Limits) -> m.Telemetry | None:
    # Every check mirrors one of the walk's (§2.3) or _telemetry's (§7.3); whatever it does not
    # cover, including an event that would be rejected, returns None.
    rid, raw = obj.get("rid"), obj.get("events")
    if (type(rid) is not int or not 0 <= rid <= MAX_RID or type(raw) is not list
            or not 1 <= len(raw) <= lim.max_telemetry_events or lim.max_depth < 3
            or not (obj.keys() <= _TELEMETRY_KEYS or _plain(obj, _TELEMETRY_KEYS, 1, lim))):
        return None
    max_id, max_depth = lim.max_id_chars, lim.max_depth
    events: list[val.TelemetryEvent] = []
    maps: list[dict[str, Any]] = []
    for e in raw:
        if type(e) is not dict:
            return None
        eid, kind, ts = e.get("id"), e.get("type"), e.get("ts")
        world, exp, data = e.get("world_id"), e.get("experience_id"), e.get("data")
        if (type(eid) is not str or not 0 < len(eid) <= max_id
                or type(kind) is not str or not 0 < len(kind) <= max_id
                or world is not None and (type(world) is not str or not 0 < len(world) <= max_id)
                or exp is not None and (type(exp) is not str or not 0 < len(exp) <= max_id)):
            return None
        if ts is not None:
            # int or float in range; NaN fails the comparison, bool is not an int here
            if (type(ts) is not float and type(ts) is not int) or not 0 <= ts <= _MAX_TS:
                return None
            ts = float(ts)
        if data is not None:
            if type(data) is not dict or not passes(data, 4, max_depth):
                return None
            maps.append(data)
        # Unknown fields are ignored but must pass the walk; a count is cheaper than comparing keys
        present = 2 + (ts is not None) + (world is not None) + (exp is not None) + (data is not None)
        if len(e) != present and not _plain(e, _EVENT_KEYS, 3, lim):
            return None
        events.append(_event(eid, kind, ts, world, exp, data))
    if not _packed_within(maps, lim.max_event_data_bytes):
        return None
    return m.Telemetry(rid=rid, events=tuple(events))


def _event_builder() -> Callable[..., val.TelemetryEvent]:
    """`val.TelemetryEvent` with its fields in order, at half the cost of its constructor: the
    frozen dataclass's __init__ sets each slot through object.__setattr__ by name; this sets the
    same slots through their descriptors (what that __init__ ends up doing)."""
    cls = val.TelemetryEvent
    names = ("id", "type", "ts", "world_id", "experience_id", "data")
    if tuple(f.name for f in fields(cls)) != names or hasattr(cls, "__post_init__"):
        return cls  # the class changed: its own constructor stays correct
    new = cls.__new__
    set_id, set_type, set_ts, set_world, set_exp, set_data = (vars(cls)[n].__set__ for n in names)

    def build(eid: str, kind: str, ts: float | None, world: str | None, exp: str | None,
              data: dict[str, Any] | None) -> val.TelemetryEvent:
        ev = new(cls)
        set_id(ev, eid)
        set_type(ev, kind)
        set_ts(ev, ts)
        set_world(ev, world)
        set_exp(ev, exp)
        set_data(ev, data)
        return ev

    return build


_event = _event_builder()


def _packed_within(maps: list[dict[str, Any]], max_bytes: int) -> bool:
    """Whether every map packs to at most `max_bytes`. An array packs to more than any of its
    items, so one pack per group answers for all of the group's maps when the group fits."""
    pack = msgpack.Packer().pack
    for i in range(0, len(maps), 64):
        group = maps[i:i + 64]
        if len(pack(group)) > max_bytes and any(len(pack(d)) > max_bytes for d in group):
            return False
    return True


def _plain(obj: dict[str, Any], known: frozenset[str], depth: int, lim: Limits) -> bool:
    """Whether the fields of `obj` (at `depth`) that a decoder ignores pass the frame walk."""
    return passes({k: v for k, v in obj.items() if k not in known}, depth, lim.max_depth)


def _event_reader(r: Reader, i: int, item: Any) -> Reader | None:
    if type(item) is not dict:
        r.errors.add(f"events[{i}]", ErrorCode.WRONG_TYPE, "expected map")
        return None
    return Reader(item, r.errors, f"events[{i}]")


def _join(r: Reader, lim: Limits) -> m.Join:
    msg = m.Join(
        rid=_rid(r),
        world_id=r.req_str("world_id", lim.max_id_chars),
        since_seq=r.opt_int("since_seq", 0, _MAX_INT64),
    )
    r.errors.raise_if_any("join")
    return msg


def _leave(r: Reader, lim: Limits) -> m.Leave:
    msg = m.Leave(rid=_rid(r), world_id=r.req_str("world_id", lim.max_id_chars))
    r.errors.raise_if_any("leave")
    return msg


def _edit(r: Reader, lim: Limits) -> m.Edit:
    rid = _rid(r)
    world_id = r.req_str("world_id", lim.max_id_chars)
    raw = r.opt_list("ops", lim.max_ops_per_edit, 1, required=True) or []
    ops = [op for i, item in enumerate(raw) if (op := read_op(r, f"ops[{i}]", item, lim))]
    r.errors.raise_if_any("edit")
    return m.Edit(rid=rid, world_id=world_id, ops=tuple(ops))


def read_op(parent: Reader, path: str, item: Any, lim: Limits) -> val.EditOp | None:
    """Decode one edit op map (docs/protocol.md §7.4); errors go to ``parent.errors``."""
    if type(item) is not dict:
        parent.errors.add(path, ErrorCode.WRONG_TYPE, "expected map")
        return None
    r = Reader(item, parent.errors, path)
    kind = r.raw("op", True)
    if kind is None:
        return None
    if kind not in _OPS:
        r.invalid("op", "must be one of " + ", ".join(_OPS))
        return None
    if kind == "remove":
        return val.RemoveOp(id=r.req_str("id", lim.max_id_chars))
    if kind == "set":
        props = r.opt_map("props", lim.max_props_bytes, required=True)
        return val.SetOp(id=r.req_str("id", lim.max_id_chars), props=props or {})
    pos = r.opt_vector("pos", 3, required=(kind == "add"))
    rot = r.opt_vector("rot", 4)
    scale = r.opt_vector("scale", 3)
    if rot is not None and sum(x * x for x in rot) < 1e-12:
        r.invalid("rot", "quaternion must not be zero")
    if kind == "move":
        if all(item.get(k) is None for k in ("pos", "rot", "scale")):
            r.errors.add(path, ErrorCode.MISSING_FIELD, "move needs pos, rot or scale")
        return val.MoveOp(
            id=r.req_str("id", lim.max_id_chars),
            pos=cast(val.Vec3 | None, pos),
            rot=cast(val.Quat | None, rot),
            scale=cast(val.Vec3 | None, scale),
        )
    return val.AddOp(
        prefab_id=r.req_str("prefab_id", lim.max_prefab_id_chars),
        pos=cast(val.Vec3, pos or (0.0, 0.0, 0.0)),
        id=r.opt_str("id", lim.max_id_chars),
        rot=cast(val.Quat | None, rot),
        scale=cast(val.Vec3 | None, scale),
        props=r.opt_map("props", lim.max_props_bytes),
        prefab_type=r.opt_str("prefab_type", lim.max_id_chars),
    )


def _presence(r: Reader, lim: Limits) -> m.Presence:
    world_id = r.req_str("world_id", lim.max_id_chars)
    cursor = r.opt_vector("cursor", 3)
    raw = r.opt_list("selection", lim.max_selection)
    selection: tuple[str, ...] | None = None
    if raw is not None:
        for i, x in enumerate(raw):
            if type(x) is not str:
                r.errors.add(f"selection[{i}]", ErrorCode.WRONG_TYPE, "expected string")
            elif not 1 <= len(x) <= lim.max_id_chars:
                r.errors.add(f"selection[{i}]", ErrorCode.INVALID_VALUE, "bad id length")
        selection = tuple(raw)
    r.errors.raise_if_any("presence")
    return m.Presence(world_id=world_id, cursor=cast(val.Vec3 | None, cursor), selection=selection)


CLIENT_DECODERS: dict[str, Callable[[Reader, Limits], m.ClientMessage]] = {
    m.Hello.TYPE: _hello,
    m.AuthRefresh.TYPE: _auth_refresh,
    m.Ping.TYPE: _ping,
    m.Prompt.TYPE: _prompt,
    m.Cancel.TYPE: _cancel,
    m.Telemetry.TYPE: _telemetry,
    m.Join.TYPE: _join,
    m.Leave.TYPE: _leave,
    m.Edit.TYPE: _edit,
    m.Presence.TYPE: _presence,
}
