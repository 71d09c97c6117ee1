"""An outbox message may carry an iCalendar attachment: the due date of the step it announces.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00

The .ics text is made when the message is queued, like its subject and bodies, so a retry sends
the same bytes. Messages queued before this revision have none (NULL) and go as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, as in 0003: a nullable column is added and dropped natively on PostgreSQL and SQLite.


def upgrade() -> None:
    op.add_column("outbox", sa.Column("ics", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "ics")
