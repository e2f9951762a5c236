"""worlds.stored_bytes: the bytes a world's chunks and logged edits took when written (per-user quota)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing worlds start at 0: they count from their next write on (the quota is a bound on
    # growth, checked when a user creates a world).
    with op.batch_alter_table('worlds') as batch:
        batch.add_column(sa.Column('stored_bytes', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('worlds') as batch:
        batch.drop_column('stored_bytes')
