"""What a room serves its joiners (server/room.py `Room._join_all`): the world's snapshot, read
from the store's packed chunks as bytes and kept for the next waves while it stands, and the
member list of `joined`, packed once per member.

A snapshot is spliced from the stored chunks, never decoded (records.spliced): the packed
header and instance arrays, with each joiner's frame fields put around them
(`Snapshot.frames`). A room keeps the last one it read (`KeptSnapshot`) and serves it again
while every joiner's access check read the same version (persistence/worlds.py `join_check`)
and the room has delivered no op past it: every write that changes a snapshot (an edit,
generation and its end, the sweep of an orphaned generation) changes the seq, the status or the
instance count. A finished world only, up to SNAPSHOT_CACHE_BYTES, and the rooms of a process
keep at most SNAPSHOT_CACHE_TOTAL bytes in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from protocol.codec import encode_snapshot_packed, pack_header, pack_member
from records import array_header, spliced

from .blueprint import header_wire
from .context import Services

SNAPSHOT_FRAME_BYTES = 512 * 1024  # a snapshot frame holds fewer than chunk_size instances beyond this
SNAPSHOT_DIRECT_BYTES = 64 * 1024  # a snapshot this small goes out with `joined` in one write, unpaced
SNAPSHOT_CACHE_BYTES = 8 * 1024 * 1024  # a room keeps its world's snapshot up to this size…
SNAPSHOT_CACHE_TOTAL = 64 * 1024 * 1024  # … while the snapshots all rooms of the process keep stay below this
EMPTY_ARRAY = b"\x90"  # the packed instances of an empty world's one snapshot frame

# A world's snapshot version as a join's access check reads it: (seq, status, instance count).
Version = tuple[int, str, int]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A world's snapshot as a wave sends it: the packed header and instance arrays, and the
    version it was read at."""

    version: Version
    seq: int
    count: int
    header: bytes
    parts: list[bytes]

    @property
    def size(self) -> int:
        return len(self.header) + sum(map(len, self.parts))

    def frames(self, world_id: str, rid: int) -> list[bytes]:
        """One joiner's snapshot frames: the packed parts with the frame's fields around them."""
        last = len(self.parts) - 1
        return [encode_snapshot_packed(rid, world_id, self.seq, index, index == last, part,
                                       self.header if index == 0 else None)
                for index, part in enumerate(self.parts)]


async def read_snapshot(services: Services, world_id: str) -> Snapshot:
    """The world's snapshot as the store holds it now."""
    world, count, packed = await services.store.edits.packed_snapshot(world_id)
    # The stored chunks regrouped into frames as bytes: no instance is decoded or re-encoded.
    parts = [a for _, a in spliced(packed, services.settings.chunk_size, SNAPSHOT_FRAME_BYTES)]
    header = pack_header(header_wire(world.header or {}, world.status, count))  # docs/protocol.md §6.5
    return Snapshot((world.seq, world.status, count), world.seq, count, header, parts or [EMPTY_ARRAY])


class KeptSnapshot:
    """The snapshot one room keeps for its next waves of joins, within the process's budget."""

    total: ClassVar[int] = 0  # bytes kept by every room of this process

    def __init__(self) -> None:
        self._snap: Snapshot | None = None

    def serves(self, versions: Sequence[Version | None], room_seq: int) -> Snapshot | None:
        """The kept snapshot, if it is what a read now would give every joiner of the wave: each
        joiner's access check read the world at the version it was taken at, and the room has
        delivered no op past it (else a member starting from it would miss that op)."""
        snap = self._snap
        if snap is None or room_seq > snap.seq or any(version != snap.version for version in versions):
            return None
        return snap

    def keep(self, snap: Snapshot | None) -> None:
        """Keep `snap` (None: keep none) if it is a finished world's, small enough and within
        the budget of the process."""
        if self._snap is not None:
            KeptSnapshot.total -= self._snap.size
        if snap is not None and (snap.version[1] == "generating" or snap.size > SNAPSHOT_CACHE_BYTES
                                 or KeptSnapshot.total + snap.size > SNAPSHOT_CACHE_TOTAL):
            snap = None
        self._snap = snap
        if snap is not None:
            KeptSnapshot.total += snap.size


class MemberList:
    """The member list of `joined`, packed once per member: joins add members at the end of the
    broker's list, so when the list begins with the one the last wave sent, only the members
    after it are packed (a wave of joins into a big room would otherwise pack and walk the whole
    room once per wave)."""

    def __init__(self) -> None:
        self._listed: list[dict[str, Any]] = []
        self._body = b""

    def pack(self, members: list[dict[str, Any]]) -> tuple[bytes, list[dict[str, Any]]]:
        """`members` packed as `joined` lists them, and the members not in the last list."""
        k = len(self._listed)
        if k and len(members) >= k and members[:k] == self._listed:
            added = members[k:]
            self._body += b"".join(map(pack_member, added))
        else:
            added = members
            self._body = b"".join(map(pack_member, members))
        self._listed = members
        return array_header(len(members)) + self._body, added
