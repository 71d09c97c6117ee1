"""The outbox holds reminders for a daily digest, keeps the digest itself, and says where each message went.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 10:00:00

- ``review_id`` may be NULL: a daily digest (``models.digest``) lists the reminders of several reviews.
- ``digest_item``: a reminder held for its role's digest, as a line of it (JSON); ``digest_key``: the key
  of the digest that carries it, once one does (indexed: a digest sent marks its reminders sent).
- ``sent_to``: where a message went when not to its role's own addresses: a delegate's address, or the
  fallback role asked to forward it. Messages sent before this revision have "" (not recorded).

The status of a held reminder is ``held`` (a String(20), no constraint to change).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot make a column nullable in place (the table is copied); PostgreSQL alters it.
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("review_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("digest_item", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("digest_key", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("sent_to", sa.String(length=254), nullable=False, server_default=""))
        batch.create_index("ix_outbox_digest_key", ["digest_key"], unique=False)


def downgrade() -> None:
    # A digest has no review: it cannot stay once review_id is required again. Its reminders go back to pending,
    # to be sent one by one.
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'held'")
    op.execute("DELETE FROM outbox WHERE review_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_digest_key")
        batch.drop_column("sent_to")
        batch.drop_column("digest_key")
        batch.drop_column("digest_item")
        batch.alter_column("review_id", existing_type=sa.Integer(), nullable=False)
