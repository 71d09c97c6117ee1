"""The open step as a projection, so a resumed run reads what it waits on without a replay.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00

Rows written before this revision get the column empty; the register fills it the next time
the review is read (``services.answers.open_step`` projects it again when it is missing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("open_step", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("open_step")
