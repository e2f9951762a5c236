"""The one prefab-instance record and its forms (docs/architecture.md, "One instance record").

An instance is `InstanceRecord` everywhere a program holds one: the generator yields records
(its plan rows, the generation's hot path, are packed without one: `pack_generated`; `generated`
adapts them), the store reads its rows and packed chunks as records, the protocol's frames
carry its wire form, REST returns its blueprint form, and the client turns what it received
back into records. Its forms:

- wire (docs/protocol.md §6.1): ``{id, prefab_id, prefab_type, pos: [x, y, z], rot: [x, y, z, w],
  scale: [x, y, z], props}``, a msgpack map; a *packed chunk* is the msgpack array of such maps,
  stored as generated (`world_chunks.data`) and sent as it is stored;
- blueprint (REST JSON, the seed's ``world_blueprint``): ``{id, prefab_id, prefab_type,
  position: {x, y, z}, rotation: {x, y, z, w}, scale: {x, y, z}, properties}``;
- columns (``world_instances``): ``px, py, pz, rx, ry, rz, rw, sx, sy, sz`` and ``props``.

Packed chunks are spliced, never decoded, on the way to a joining member (`spliced`): a msgpack
array is its length header followed by its elements, so elements of several arrays are
concatenated behind one new header.

Pure: no I/O, no project imports; msgpack only. Every package may import it (the generator does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import msgpack

__all__ = [
    "IDENTITY_ROT",
    "UNIT_SCALE",
    "InstanceRecord",
    "array_header",
    "generated",
    "pack_generated",
    "pack_records",
    "spliced",
    "unpack_records",
]

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
IDENTITY_ROT: Quat = (0.0, 0.0, 0.0, 1.0)
UNIT_SCALE: Vec3 = (1.0, 1.0, 1.0)


class InstanceRecord(NamedTuple):
    """One prefab instance: left-handed, Y-up, metres, quaternion x, y, z, w (Unity order)."""

    id: str
    prefab_id: str
    prefab_type: str
    pos: Vec3
    rot: Quat
    scale: Vec3
    props: dict[str, Any]

    # -- forms --------------------------------------------------------------------------------
    def wire(self) -> dict[str, Any]:
        """The wire form (docs/protocol.md §6.1); packs byte for byte as the stored chunks."""
        return {"id": self.id, "prefab_id": self.prefab_id, "prefab_type": self.prefab_type,
                "pos": list(self.pos), "rot": list(self.rot), "scale": list(self.scale), "props": self.props}

    def blueprint(self) -> dict[str, Any]:
        """The REST form (an instance of the seed's ``world_blueprint``); `props` is shared, not copied."""
        (px, py, pz), (rx, ry, rz, rw), (sx, sy, sz) = self.pos, self.rot, self.scale
        return {"id": self.id, "prefab_id": self.prefab_id, "prefab_type": self.prefab_type,
                "position": {"x": px, "y": py, "z": pz}, "rotation": {"x": rx, "y": ry, "z": rz, "w": rw},
                "scale": {"x": sx, "y": sy, "z": sz}, "properties": self.props}

    def columns(self) -> tuple[Any, ...]:
        """The ``world_instances`` columns after ``world_id, id, ord``: prefab_id … sz, props."""
        (px, py, pz), (rx, ry, rz, rw), (sx, sy, sz) = self.pos, self.rot, self.scale
        return (self.prefab_id, self.prefab_type, px, py, pz, rx, ry, rz, rw, sx, sy, sz, self.props)

    # -- from the other forms -----------------------------------------------------------------
    @classmethod
    def from_wire(cls, w: Mapping[str, Any]) -> InstanceRecord:
        """From a wire map (§6.1); a missing rot, scale or props is the identity, one, empty."""
        p, r, s = w["pos"], w.get("rot") or IDENTITY_ROT, w.get("scale") or UNIT_SCALE
        return cls(w["id"], w["prefab_id"], w.get("prefab_type", ""), (p[0], p[1], p[2]),
                   (r[0], r[1], r[2], r[3]), (s[0], s[1], s[2]), dict(w.get("props") or {}))

    @classmethod
    def from_row(cls, row: Any) -> InstanceRecord:
        """From anything with the ``world_instances`` column attributes (a stored row)."""
        return cls(row.id, row.prefab_id, row.prefab_type, (row.px, row.py, row.pz),
                   (row.rx, row.ry, row.rz, row.rw), (row.sx, row.sy, row.sz), row.props or {})


def generated(rows: Iterable[Sequence[Any]]) -> list[InstanceRecord]:
    """The generator's plan rows (generator/stream.py ``WorldPlan.records``: ``(id, prefab_id,
    prefab_type, x, y, z, rotation, scale, properties)``, scale one uniform factor) as records."""
    return [InstanceRecord(i, p, t, (x, y, z), tuple(r), (s, s, s), props)
            for i, p, t, x, y, z, r, s, props in rows]


def pack_generated(rows: Iterable[Sequence[Any]]) -> bytes:
    """Plan rows straight to a packed chunk (the generation's hot path: no record in between),
    byte for byte ``pack_records(generated(rows))``."""
    packed: bytes = msgpack.packb([{"id": i, "prefab_id": p, "prefab_type": t, "pos": [x, y, z], "rot": list(r),
                                    "scale": [s, s, s], "props": props}
                                   for i, p, t, x, y, z, r, s, props in rows], use_bin_type=True)
    return packed


def pack_records(records: Iterable[InstanceRecord]) -> bytes:
    """Records as a packed chunk (a msgpack array of wire maps)."""
    return msgpack.packb([r.wire() for r in records], use_bin_type=True)  # type: ignore[no-any-return]


def unpack_records(data: bytes) -> list[InstanceRecord]:
    """A packed chunk back as records, in order."""
    return [InstanceRecord.from_wire(w) for w in msgpack.unpackb(data, raw=False)]


def array_header(n: int) -> bytes:
    """The msgpack header of an array of `n` elements."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _elements(data: bytes) -> tuple[int, int]:
    """(element count, offset of the first element) of the packed array `data`."""
    lead = data[0]
    if lead & 0xF0 == 0x90:
        return lead & 0x0F, 1
    if lead == 0xDC:
        return int.from_bytes(data[1:3], "big"), 3
    if lead == 0xDD:
        return int.from_bytes(data[1:5], "big"), 5
    raise ValueError("not a packed array")


def _offsets(data: bytes, start: int, count: int) -> list[int]:
    """Where each of the `count` elements starting at `start` begins, and where the last ends;
    msgpack skips elements without building them."""
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=len(data) + 1)
    unpacker.feed(data)
    unpacker.read_array_header()
    out = [start]
    for _ in range(count):
        unpacker.skip()
        out.append(unpacker.tell())
    return out


def spliced(chunks: Iterable[bytes], max_items: int, max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Packed chunks regrouped, without decoding an instance, into packed arrays of at most
    `max_items` elements and, unless one element alone is larger, `max_bytes` bytes:
    ``(count, packed array)`` in order. A chunk that fits whole is taken whole."""
    parts: list[bytes] = []
    count = used = 0
    for data in chunks:
        n, start = _elements(data)
        if not n:
            continue
        body = len(data) - start
        if count + n <= max_items and used + body <= max_bytes:
            if not count and n == max_items:
                yield n, data  # the common case: a stored chunk is one frame's array as it is
                continue
            parts.append(data[start:])
            count, used = count + n, used + body
            continue
        offsets = _offsets(data, start, n)
        for k in range(n):
            size = offsets[k + 1] - offsets[k]
            if count and (count >= max_items or used + size > max_bytes):
                yield count, array_header(count) + b"".join(parts)
                parts, count, used = [], 0, 0
            parts.append(data[offsets[k]:offsets[k + 1]])
            count, used = count + 1, used + size
    if count:
        yield count, array_header(count) + b"".join(parts)
