"""Ledger: accounts, members, double-entry transactions and postings, reservations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("overdraft_cents", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_accounts"),
    )
    op.create_table(
        "account_members",
        sa.Column("account", sa.String(256), nullable=False),
        sa.Column("user", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("account", "user", name="pk_account_members"),
        sa.ForeignKeyConstraint(
            ["account"],
            ["accounts.name"],
            name="fk_account_members_account_accounts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_account_members_user", "account_members", ["user"])
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_transactions"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ledger_transactions_job_id", "ledger_transactions", ["job_id"])
    op.create_table(
        "ledger_postings",
        sa.Column("transaction_id", sa.Integer, nullable=False),
        sa.Column("account", sa.String(256), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", "account", name="pk_ledger_postings"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name="fk_ledger_postings_transaction_id_ledger_transactions",
        ),
    )
    op.create_index("ix_ledger_postings_account", "ledger_postings", ["account", "amount_cents"])
    op.create_table(
        "reservations",
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("account", sa.String(256), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("refunded_cents", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reserve_transaction_id", sa.Integer, nullable=False),
        sa.Column("resolve_transaction_id", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_reservations"),
        sa.ForeignKeyConstraint(
            ["reserve_transaction_id"],
            ["ledger_transactions.id"],
            name="fk_reservations_reserve_transaction_id_ledger_transactions",
        ),
        sa.ForeignKeyConstraint(
            ["resolve_transaction_id"],
            ["ledger_transactions.id"],
            name="fk_reservations_resolve_transaction_id_ledger_transactions",
        ),
    )
    op.create_index("ix_reservations_state", "reservations", ["state"])


def downgrade() -> None:
    op.drop_index("ix_reservations_state", "reservations")
    op.drop_table("reservations")
    op.drop_index("ix_ledger_postings_account", "ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_index("ix_ledger_transactions_job_id", "ledger_transactions")
    op.drop_table("ledger_transactions")
    op.drop_index("ix_account_members_user", "account_members")
    op.drop_table("account_members")
    op.drop_table("accounts")
