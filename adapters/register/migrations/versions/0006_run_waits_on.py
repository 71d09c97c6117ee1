"""Each review row says which step its run last said it suspends on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 02:00:00

``run_waits_on`` is written by the review's run just before it suspends (the same moment it tags itself
``wait:<step key>``), or by a reconcile that read the run and found it paused on the review's open step.
``lcspr list`` and reconcile then judge thousands of runs with one count on Prefect's server: a review whose
run says it waits on the open step, and whose run Prefect counts among the paused, waits there. Rows written
before this revision have NULL: their runs are read whole, and the first reconcile after the upgrade writes
what it saw.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviews", sa.Column("run_waits_on", sa.String(length=60), nullable=True))


def downgrade() -> None:
    op.drop_column("reviews", "run_waits_on")
