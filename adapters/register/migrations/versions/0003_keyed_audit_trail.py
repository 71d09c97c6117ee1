"""A keyed audit trail: what each entry covers, and a keyed head per review.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00

Entries written before this revision keep their unkeyed sha256 chain (``review_state`` stays
NULL, which is how the register tells them apart). The first time the register is opened with no
audit key file yet, it creates the key and seals every review's older entries under it with one
``audit_sealed`` entry (``adapters/register/unit_of_work.py``); ``lcspr audit --verify`` then
reports them as written before keyed hashes, sealed on that date.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: batch would rebuild ``reviews`` on SQLite, which its foreign
# keys forbid; adding and dropping a plain nullable column is native on PostgreSQL and SQLite >= 3.35.


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("decisions", sa.JSON(), nullable=True))
    op.add_column("audit_events", sa.Column("review_state", sa.JSON(), nullable=True))
    op.add_column("reviews", sa.Column("audit_head_seq", sa.Integer(), nullable=True))
    op.add_column("reviews", sa.Column("audit_head_mac", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("reviews", "audit_head_mac")
    op.drop_column("reviews", "audit_head_seq")
    op.drop_column("audit_events", "review_state")
    op.drop_column("audit_events", "decisions")
