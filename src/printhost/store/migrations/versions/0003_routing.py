"""Routing: user preferences, presence (who is logged in where) and desktop agents.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_preferences",
        sa.Column("user", sa.String(256), nullable=False),
        sa.Column("destination", sa.String(256), nullable=False),
        sa.Column("defaults", sa.Text, nullable=False),
        sa.Column("banner", sa.Boolean, nullable=True),
        sa.Column("location", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("user", name="pk_user_preferences"),
    )
    op.create_table(
        "presence",
        sa.Column("user", sa.String(256), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("user", "host", name="pk_presence"),
    )
    op.create_table(
        "agents",
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("location", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("host", name="pk_agents"),
    )


def downgrade() -> None:
    op.drop_table("agents")
    op.drop_table("presence")
    op.drop_table("user_preferences")
