"""SQLAlchemy 2 models: the same tables on SQLite (embedded default) and PostgreSQL.

Only repositories in this package build queries against them. Times are timezone-aware
UTC. JSON columns hold client-shaped documents (tags, properties, headers, op payloads).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class User(Base):
    """An account: a guest/device id (no password) or a registered username with a password."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # "guest" | "password"
    password_hash: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    # A guest's device secret, as "sha256$<hex>": issued once at the first login, required on
    # later logins when `guest_secret_required` is on. NULL for accounts older than it.
    secret_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    # Last login or token refresh; idle guest accounts are purged by it (server/maintenance.py).
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)


class RevokedSession(Base):
    """A logged-out session; every token carrying its `sid` is dead. Survives restarts."""

    __tablename__ = "revoked_sessions"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    revoked_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]  # after this the row may be purged: tokens are dead anyway


class Prefab(Base):
    __tablename__ = "prefabs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32), index=True)
    description: Mapped[str] = mapped_column(Text)
    world_types: Mapped[list[Any]]
    tags: Mapped[list[Any]]
    version: Mapped[str] = mapped_column(String(32))
    download_url: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    thumbnail_url: Mapped[str] = mapped_column(String(1000))
    placement: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class Meta(Base):
    """Small key/value facts about the store (e.g. the catalog version)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class World(Base):
    """A generated world's blueprint metadata. `seq` is the per-world op counter.

    `status`: generating → complete | partial | failed. A world left `generating` by a
    node that died is marked `partial` once its generation lease expires (docs/protocol.md,
    partial worlds).
    """

    __tablename__ = "worlds"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    world_type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    header: Mapped[dict[str, Any]]
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    instance_count: Mapped[int] = mapped_column(Integer, default=0)
    processing_time_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Bytes of its generated chunks and logged edit batches as written: what counts against the
    # owner's `max_stored_bytes_per_user` (migration 0006).
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # While `generating`: the generating node renews this; past it, any node marks the world
    # `partial` (server/leases.py, docs/scaling.md "Failures").
    gen_lease_until: Mapped[datetime | None]


class WorldMember(Base):
    """A user invited to a world as editor or viewer (the owner is implicit)."""

    __tablename__ = "world_members"
    world_id: Mapped[str] = mapped_column(ForeignKey("worlds.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))


class WorldInstance(Base):
    """Current state of one prefab instance; `ord` keeps the generator's stream order."""

    __tablename__ = "world_instances"
    world_id: Mapped[str] = mapped_column(ForeignKey("worlds.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ord: Mapped[int] = mapped_column(BigInteger)
    prefab_id: Mapped[str] = mapped_column(String(64))
    prefab_type: Mapped[str] = mapped_column(String(32))
    px: Mapped[float]
    py: Mapped[float]
    pz: Mapped[float]
    rx: Mapped[float]
    ry: Mapped[float]
    rz: Mapped[float]
    rw: Mapped[float]
    sx: Mapped[float]
    sy: Mapped[float]
    sz: Mapped[float]
    props: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_world_instances_world_ord", "world_id", "ord"),)


class WorldChunk(Base):
    """Generated instances as streamed: one row per chunk, `data` the msgpack array of its
    instances in the wire shape (docs/protocol.md §6.1), the very bytes sent in `gen.chunk`.

    Generation writes only these (one row per chunk instead of one per instance). The first
    edit of a world expands its chunks into `world_instances` rows and deletes them, in the
    edit's transaction; readers see the union, ordered by `ord` (persistence/worlds.py)."""

    __tablename__ = "world_chunks"
    world_id: Mapped[str] = mapped_column(ForeignKey("worlds.id", ondelete="CASCADE"), primary_key=True)
    ord: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # stream position of the first
    count: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class WorldOp(Base):
    """The op log: one row per accepted edit batch, in seq order (resume and audit)."""

    __tablename__ = "world_ops"
    world_id: Mapped[str] = mapped_column(ForeignKey("worlds.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    author_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(64))  # the author's connection
    rid: Mapped[int | None] = mapped_column(BigInteger)  # the author's request id
    ops: Mapped[list[Any]]  # every op of the batch with its outcome (docs/protocol.md §7.4)
    created_at: Mapped[datetime]


class Experience(Base):
    """A published world (the seed's experience card)."""

    __tablename__ = "experiences"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    world_id: Mapped[str] = mapped_column(ForeignKey("worlds.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(String(1000))
    tags: Mapped[list[Any]]
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    # Aggregates kept on the row so that sorted listings read an index (docs/discover.md §4):
    # `rating` is rating_sum / rating_count (0 when unrated), updated with them.
    play_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    rating_sum: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_experiences_newest", "created_at", "id"),
                      Index("ix_experiences_plays", "play_count", "id"),
                      Index("ix_experiences_rating", "rating", "rating_count", "id"))


class Play(Base):
    """A user entering a published world: at most one per user and experience per
    `play_window_s` (docs/discover.md §3)."""

    __tablename__ = "plays"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    experience_id: Mapped[str] = mapped_column(ForeignKey("experiences.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    played_at: Mapped[datetime]

    __table_args__ = (Index("ix_plays_experience_user_time", "experience_id", "user_id", "played_at"),
                      Index("ix_plays_experience_time", "experience_id", "played_at"))


class Rating(Base):
    """One user's 1–5 stars for an experience; rating again replaces them."""

    __tablename__ = "ratings"
    experience_id: Mapped[str] = mapped_column(ForeignKey("experiences.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    stars: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TelemetryEvent(Base):
    """One stored event. (user_id, client_event_id) is unique so retries never duplicate."""

    __tablename__ = "telemetry_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(128))
    client_event_id: Mapped[str | None] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(128))
    world_id: Mapped[str | None] = mapped_column(String(64))
    experience_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    timestamp: Mapped[datetime]
    received_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("user_id", "client_event_id", name="uq_telemetry_user_event"),
        Index("ix_telemetry_user_time", "user_id", "timestamp"),
        Index("ix_telemetry_world_time", "world_id", "timestamp"),  # author analytics
        Index("ix_telemetry_experience_time", "experience_id", "timestamp"),
        # the retention purge deletes by the server's receive time (TelemetryRepo.purge_received_before)
        Index("ix_telemetry_received_at", "received_at"),
    )
