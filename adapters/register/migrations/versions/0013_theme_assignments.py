"""Theme assignments: the themes of the partnership's list and the free tags given to each recommendation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 10:00:00

One row a theme (or tag) given to one recommendation of a review (``models.themes``): the review's reference,
the recommendation's number, the kind (``controlled``: a key of the list; ``tag``: a free tag), the value, who
gave it and when, and, once removed, who removed it and when. Rows are never deleted. A partial unique index
keeps one standing row per recommendation and value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "theme_assignments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(length=40), sa.ForeignKey("reviews.reference"), nullable=False),
        sa.Column("recommendation", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=60), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_theme_assignments_reference", "theme_assignments", ["reference"])
    op.create_index("uq_theme_assignments_standing", "theme_assignments",
                    ["reference", "recommendation", "kind", "value"], unique=True,
                    sqlite_where=sa.text("removed_at IS NULL"), postgresql_where=sa.text("removed_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_theme_assignments_standing", table_name="theme_assignments")
    op.drop_index("ix_theme_assignments_reference", table_name="theme_assignments")
    op.drop_table("theme_assignments")
