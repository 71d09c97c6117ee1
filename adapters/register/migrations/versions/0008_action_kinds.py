"""Actions from day one: the actions projection says what kind each action is and when it was agreed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 09:00:00

Immediate safety actions and obvious improvements are recorded from the rapid review onwards, beside the
steps (``models.lifecycle.side_records``), and join the action plan's actions in one numbered list. Rows
written before this revision are the action plan's (``plan``); the date each was agreed is filled in when the
review is projected again (``PROJECTION_VERSION`` 2 makes the next sweep do it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="plan"))
        batch.add_column(sa.Column("agreed_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("agreed_on")
        batch.drop_column("kind")
