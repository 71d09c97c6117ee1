"""Quality assessments: each review's checklist of the SCIE/NSPCC quality markers, filled in as it goes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 10:00:00

One row an assessment (``models.quality``): the review, the marker, the rating, a short note, who assessed
it, on which day, and when it was recorded. Rows are appended, never changed or deleted: a later assessment
of a marker supersedes the earlier one, which stays as the marker's history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("marker", sa.String(length=40), nullable=False),
        sa.Column("rating", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("assessed_by", sa.String(length=200), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_quality_assessments_review_marker", "quality_assessments", ["review_id", "marker"])


def downgrade() -> None:
    op.drop_index("ix_quality_assessments_review_marker", table_name="quality_assessments")
    op.drop_table("quality_assessments")
