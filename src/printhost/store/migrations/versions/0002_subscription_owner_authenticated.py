"""Subscriptions remember whether the subscriber was authenticated (invariant 4).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Existing subscriptions count as made without authentication, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(
            sa.Column("owner_authenticated", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("owner_authenticated")
