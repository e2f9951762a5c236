"""discovery: full-text search over experience cards, plays, ratings, aggregate columns

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 05:20:00

Each store uses its own full-text search (docs/discover.md §2):
- SQLite: an FTS5 table `experiences_fts` over (title, description, tags) whose rowid is the
  card's rowid (external content), kept in step by three triggers. A later migration that
  rebuilds `experiences` (Alembic batch mode on SQLite) must recreate the triggers and run
  `INSERT INTO experiences_fts(experiences_fts) VALUES ('rebuild')`.
- PostgreSQL: a stored generated `tsvector` column `search` with a GIN index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE experiences_fts USING fts5(title, description, tags, "
    "content='experiences', tokenize='porter unicode61')",
    "CREATE TRIGGER experiences_fts_insert AFTER INSERT ON experiences BEGIN "
    "INSERT INTO experiences_fts(rowid, title, description, tags) "
    "VALUES (new.rowid, new.title, new.description, new.tags); END",
    "CREATE TRIGGER experiences_fts_delete AFTER DELETE ON experiences BEGIN "
    "INSERT INTO experiences_fts(experiences_fts, rowid, title, description, tags) "
    "VALUES ('delete', old.rowid, old.title, old.description, old.tags); END",
    # Only a change of the searched text touches the index (a play or a rating does not).
    "CREATE TRIGGER experiences_fts_update AFTER UPDATE OF title, description, tags ON experiences BEGIN "
    "INSERT INTO experiences_fts(experiences_fts, rowid, title, description, tags) "
    "VALUES ('delete', old.rowid, old.title, old.description, old.tags); "
    "INSERT INTO experiences_fts(rowid, title, description, tags) "
    "VALUES (new.rowid, new.title, new.description, new.tags); END",
    "INSERT INTO experiences_fts(experiences_fts) VALUES ('rebuild')",
)
# Title weighs most, then tags, then the description (ts_rank weights A > B > C).
_PG_FTS = (
    "ALTER TABLE experiences ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, tags::text), 'B') || "
    "setweight(to_tsvector('english'::regconfig, description), 'C')) STORED",
    "CREATE INDEX ix_experiences_search ON experiences USING gin (search)",
)


def upgrade() -> None:
    with op.batch_alter_table('experiences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rating_sum', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('rating_count', sa.Integer(), nullable=False, server_default='0'))
        # The sorted listings read these in index order (docs/discover.md §4).
        batch_op.create_index('ix_experiences_newest', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_experiences_plays', ['play_count', 'id'], unique=False)
        batch_op.create_index('ix_experiences_rating', ['rating', 'rating_count', 'id'], unique=False)
    op.create_table('plays',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('experience_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('played_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['experience_id'], ['experiences.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_plays_experience_user_time', 'plays', ['experience_id', 'user_id', 'played_at'])
    op.create_index('ix_plays_experience_time', 'plays', ['experience_id', 'played_at'])
    op.create_table('ratings',
    sa.Column('experience_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('stars', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['experience_id'], ['experiences.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('experience_id', 'user_id')
    )
    # Author analytics read a world's (or a card's) events by time.
    op.create_index('ix_telemetry_world_time', 'telemetry_events', ['world_id', 'timestamp'])
    op.create_index('ix_telemetry_experience_time', 'telemetry_events', ['experience_id', 'timestamp'])
    for statement in _SQLITE_FTS if op.get_bind().dialect.name == 'sqlite' else _PG_FTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in ('insert', 'delete', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS experiences_fts_{name}")
        op.execute("DROP TABLE IF EXISTS experiences_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_experiences_search")
        op.execute("ALTER TABLE experiences DROP COLUMN IF EXISTS search")
    op.drop_index('ix_telemetry_experience_time', table_name='telemetry_events')
    op.drop_index('ix_telemetry_world_time', table_name='telemetry_events')
    op.drop_table('ratings')
    op.drop_table('plays')
    with op.batch_alter_table('experiences', schema=None) as batch_op:
        batch_op.drop_index('ix_experiences_rating')
        batch_op.drop_index('ix_experiences_plays')
        batch_op.drop_index('ix_experiences_newest')
        batch_op.drop_column('rating_count')
        batch_op.drop_column('rating_sum')
