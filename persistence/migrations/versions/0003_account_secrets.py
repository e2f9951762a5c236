"""accounts: guest device secrets, last-seen time; no credential in display names; no dangling shares

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_hash', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE users SET last_seen_at = created_at"))
    # Guests were named by their id, which was their only credential, and names are shown to
    # every member of a world: give each such guest a neutral name.
    guests = conn.execute(sa.text("SELECT id FROM users WHERE kind = 'guest' AND display_name = id")).all()
    for (user_id,) in guests:
        conn.execute(sa.text("UPDATE users SET display_name = :name WHERE id = :id"),
                     {"name": f"Guest {secrets.token_hex(3)}", "id": user_id})
    # A share naming an id that had no account would let whoever first logs in with that id
    # into the world; shares now need an existing account (server/rest/worlds.py).
    conn.execute(sa.text("DELETE FROM world_members WHERE user_id NOT IN (SELECT id FROM users)"))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('secret_hash')
