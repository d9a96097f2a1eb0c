"""Initial schema: jobs, documents, events, queues, printers, users, subscriptions.

Revision ID: 0001
Revises:
Create Date: 2025-11-21

Written by hand to match ``printhost.store.schema``; the migration test compares them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("owner_authenticated", sa.Boolean, nullable=False),
        sa.Column("originating_host", sa.String(256), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("state_reasons", sa.Text, nullable=False),
        sa.Column("state_message", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("hold_until", sa.String(64), nullable=True),
        sa.Column("template", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("processing_at", sa.Float, nullable=True),
        sa.Column("completed_at", sa.Float, nullable=True),
        sa.Column("open_for_documents", sa.Boolean, nullable=False),
        sa.Column("document_count", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("printer", sa.String(128), nullable=True),
        sa.Column("remote_job_id", sa.Integer, nullable=True),
        sa.Column("impressions_completed", sa.Integer, nullable=False),
        sa.Column("delivery_attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=True),
        sa.Column("lease_owner", sa.String(256), nullable=True),
        sa.Column("lease_expires", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("uuid", name="uq_jobs_uuid"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_claim", "jobs", ["state", sa.text("priority DESC"), "id"])
    op.create_index("ix_jobs_queue_state", "jobs", ["queue", "state"])
    op.create_index("ix_jobs_completed_at", "jobs", ["completed_at"])

    op.create_table(
        "documents",
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("format", sa.String(128), nullable=False),
        sa.Column("declared_format", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "number", name="pk_documents"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_documents_job_id_jobs", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("printer", sa.String(128), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "queues",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("is_accepting_jobs", sa.Boolean, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("hold_new_jobs", sa.Boolean, nullable=False),
        sa.Column("state_message", sa.Text, nullable=False),
        sa.Column("state_change_time", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_queues"),
    )

    op.create_table(
        "printers",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("is_up", sa.Boolean, nullable=False),
        sa.Column("state_reasons", sa.Text, nullable=False),
        sa.Column("state_message", sa.Text, nullable=False),
        sa.Column("state_change_time", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_printers"),
    )

    op.create_table(
        "users",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
    )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("pull_method", sa.String(64), nullable=False),
        sa.Column("lease_duration", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("time_interval", sa.Integer, nullable=False),
        sa.Column("user_data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("start_seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for table in ("subscriptions", "users", "printers", "queues", "events", "documents"):
        op.drop_table(table)
    op.drop_index("ix_jobs_completed_at", table_name="jobs")
    op.drop_index("ix_jobs_queue_state", table_name="jobs")
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.drop_table("jobs")
