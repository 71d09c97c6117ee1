"""Meetings and events of a review: panel meetings, practitioner events, family engagement, rapid review meetings.

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-25 10:00:00

One row a meeting (``models.meetings``): its review, kind, start and end (UTC), place, invitee roles, the
iCalendar sequence of its latest invitation, who scheduled it and when, and, once cancelled, who cancelled it
and when; once held, the attendance by role, the outcome note, who recorded them and when. Rows are never
deleted; every change is also in the review's audit trail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("invitees", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("scheduled_by", sa.String(length=200), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attendance", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False, server_default=""),
        sa.Column("attendance_by", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("attendance_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_meetings_review", "meetings", ["review_id"])
    op.create_index("ix_meetings_starts_at", "meetings", ["starts_at"])


def downgrade() -> None:
    op.drop_index("ix_meetings_starts_at", table_name="meetings")
    op.drop_index("ix_meetings_review", table_name="meetings")
    op.drop_table("meetings")
