"""Judging: a job's document analysis, the judge's decision, the account it is charged
to and the printer chosen when its owner releases it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("analysis", sa.Text, nullable=True))
        batch.add_column(sa.Column("judgement", sa.Text, nullable=True))
        batch.add_column(sa.Column("account", sa.String(256), nullable=True))
        batch.add_column(sa.Column("release_printer", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("release_printer")
        batch.drop_column("account")
        batch.drop_column("judgement")
        batch.drop_column("analysis")
