"""The outbox table inside a unit of work: messages queued once per key, leased to one sender at a time.

A claim is never taken from a sender that still holds it: only an expired lease can be
claimed again (on PostgreSQL with ``SKIP LOCKED``; SQLite serialises writers), ``retry_now``
leaves live claims alone, ``hold`` checks and renews a claim just before each send, and
``finish`` records an outcome only for a message its sender still holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.register.mapping import OutboxMessage, ReviewRow
from models.records import Claimed, OutboxEntry

LEASE = timedelta(minutes=5)
SEND_TIMEOUT = timedelta(seconds=60)


class SqlOutbox:
    """See ``services.ports.Outbox``."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def has(self, key: str) -> bool:
        return self.s.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None

    def add(self, key: str, reference: str, kind: str, role: str, subject: str, text: str, html: str,
            now: datetime, ics: str | None = None) -> bool:
        review_id = self.s.scalars(select(ReviewRow.id).where(ReviewRow.reference == reference)).one()
        try:
            # A concurrent sweep may insert the same key first: then theirs stands.
            with self.s.begin_nested():
                self.s.add(OutboxMessage(
                    key=key, review_id=review_id, kind=kind, role=role, subject=subject, text=text, html=html, ics=ics,
                    status="pending", attempts=0, last_error="", created_at=now, next_attempt_at=now, claimed_by="",
                ))
        except IntegrityError:
            return False
        return True

    def claim(self, due_by: datetime, at: datetime, worker: str, reference: str | None,
              batch: int) -> list[Claimed]:
        """Lease a batch due by ``due_by``, at ``at``, so no other sender sends it too. The lease covers a
        slow send of every message in the batch (SMTP timeouts); ``hold`` renews it per message."""
        stmt = (select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= due_by,
                       or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < at))
                .order_by(OutboxMessage.id).limit(batch)
                # Only the outbox rows: with the review joined in (a reference given), PostgreSQL would lock its
                # row too and skip every message of a review another transaction is writing at that moment (a
                # run noting where it waits, a sweep projecting it), which then waited for the next delivery.
                .with_for_update(skip_locked=True, of=OutboxMessage))
        if reference is not None:
            stmt = stmt.join(ReviewRow).where(ReviewRow.reference == reference)
        claimed = list(self.s.scalars(stmt))
        for m in claimed:
            m.claimed_by, m.claimed_until = worker, at + LEASE + SEND_TIMEOUT * len(claimed)
        return [Claimed(m.id, m.key, m.role, m.subject, m.text, m.html, m.ics) for m in claimed]

    @staticmethod
    def _held_by(m: OutboxMessage, worker: str) -> bool:
        """Whether ``worker`` still holds its claim: nobody has claimed the message since (a claim
        writes ``claimed_by``), nobody has released it, and it is not finished."""
        return m.status == "pending" and m.claimed_by == worker and m.claimed_until is not None

    def hold(self, message_id: int, worker: str, at: datetime) -> bool:
        m = self.s.get(OutboxMessage, message_id, with_for_update=True)
        if m is None or not self._held_by(m, worker):
            return False
        m.claimed_until = at + LEASE + SEND_TIMEOUT
        return True

    def finish(self, message_id: int, worker: str, error: str | None, now: datetime,
               backoff: Callable[[int], timedelta]) -> bool:
        m = self.s.get(OutboxMessage, message_id, with_for_update=True)
        if m is None or not self._held_by(m, worker):
            return False
        m.attempts += 1
        m.claimed_until = None
        if error is None:
            m.status, m.sent_at, m.last_error = "sent", now, ""
        else:
            # Claimed again only once the backoff has passed (so a batch loop cannot spin on it).
            m.last_error = error
            m.next_attempt_at = now + backoff(m.attempts)
        return True

    def retry_now(self, now: datetime) -> int:
        # FOR UPDATE: on PostgreSQL a claim being made now is waited for, and the row re-checked.
        rows = list(self.s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending",
                   or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
            .order_by(OutboxMessage.id).with_for_update()))
        for m in rows:
            m.next_attempt_at = now
        return len(rows)

    def messages(self, status: str | None = None) -> list[OutboxEntry]:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        return [OutboxEntry(m.key, m.kind, m.role, m.subject, m.status, m.attempts, m.last_error, m.next_attempt_at,
                            m.sent_at) for m in self.s.scalars(stmt)]
