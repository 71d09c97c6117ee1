"""Delegations: a role's messages sent to someone else's address for a range of days.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 02:00:00

One row a delegation (``models.delegation``): the role, the delegate's address, the first and last day, why,
who recorded it and when, and, once cancelled, who cancelled it and when. Rows are never deleted: they say
where a role's messages went on any day.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("role", sa.String(length=120), nullable=False),
        sa.Column("delegate", sa.String(length=254), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_delegations_role_days", "delegations", ["role", "ends_on"])


def downgrade() -> None:
    op.drop_index("ix_delegations_role_days", table_name="delegations")
    op.drop_table("delegations")
