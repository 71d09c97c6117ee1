"""Each review row says which policy its projections were derived under.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 13:30:00

``projected_with`` is ``Policy.fingerprint`` (the clock rules, the calendar's closures and bank-holiday
data, the projection's code version) when the row and its clocks were last projected. The queries and
the deadline sweep read a review's projections only while it matches the policy in force; otherwise
they replay its decision log, and the next sweep projects it again. Rows written before this revision
have NULL: each is replayed once, by the first sweep after the upgrade. The clocks the sweep selects
are found with the existing index on (state, due).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviews", sa.Column("projected_with", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("reviews", "projected_with")
