"""worlds.gen_lease_until: the lease of the node running a world's generation

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL on rows from before this revision: a `generating` one among them is treated as
    # expired (its process is gone), as the start-up sweep did for every such row before.
    with op.batch_alter_table('worlds') as batch:
        batch.add_column(sa.Column('gen_lease_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('worlds') as batch:
        batch.drop_column('gen_lease_until')
