"""telemetry_events: index on received_at for the retention purge

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_telemetry_received_at', 'telemetry_events', ['received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_telemetry_received_at', table_name='telemetry_events')
