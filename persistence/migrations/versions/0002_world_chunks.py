"""world_chunks: generated instances stored one row per streamed chunk

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('world_chunks',
    sa.Column('world_id', sa.String(length=64), nullable=False),
    sa.Column('ord', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['world_id'], ['worlds.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('world_id', 'ord')
    )


def downgrade() -> None:
    op.drop_table('world_chunks')
