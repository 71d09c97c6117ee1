"""The outbox table inside a unit of work: messages queued once per key, leased to one sender at a time.

A claim is never taken from a sender that still holds it: only an expired lease can be
claimed again (on PostgreSQL with ``SKIP LOCKED``; SQLite serialises writers), ``retry_now``
leaves live claims alone, ``hold`` checks and renews a claim just before each send, and
``finish`` records an outcome only for a message its sender still holds.

A reminder for a role that gets a daily digest (``models.digest``) is added *held*: never claimed
alone. ``add_digest`` makes the digest, an ordinary pending message under its own key, and marks the
held reminders it carries in the same transaction; ``finish`` of that digest, sent, marks them sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.register.mapping import OutboxMessage, ReviewRow
from models.digest import DIGEST_KIND, DigestItem, HeldReminder
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
            now: datetime, ics: str | None = None, digest_item: DigestItem | None = None) -> bool:
        review_id = self.s.scalars(select(ReviewRow.id).where(ReviewRow.reference == reference)).one()
        return self._insert(OutboxMessage(
            key=key, review_id=review_id, kind=kind, role=role, subject=subject, text=text, html=html, ics=ics,
            status="pending" if digest_item is None else "held", attempts=0, last_error="", created_at=now,
            next_attempt_at=now, claimed_by="", digest_item=digest_item.as_record() if digest_item else None,
            sent_to=""))

    def _insert(self, message: OutboxMessage) -> bool:
        try:
            # A concurrent sweep may insert the same key first: then theirs stands.
            with self.s.begin_nested():
                self.s.add(message)
        except IntegrityError:
            return False
        return True

    def held_for_digest(self) -> list[HeldReminder]:
        """Every held reminder no digest carries yet, by id; locked, so two sweeps never put one in two
        digests (PostgreSQL re-reads a row it waited for, and skips it once another digest carries it)."""
        rows = self.s.scalars(select(OutboxMessage)
                              .where(OutboxMessage.status == "held", OutboxMessage.digest_key.is_(None))
                              .order_by(OutboxMessage.id).with_for_update())
        return [HeldReminder(m.id, m.key, m.role, DigestItem.from_record(m.digest_item or {})) for m in rows]

    def add_digest(self, key: str, role: str, subject: str, text: str, html: str, now: datetime,
                   carrying: list[int]) -> bool:
        if not self._insert(OutboxMessage(
                key=key, review_id=None, kind=DIGEST_KIND, role=role, subject=subject, text=text, html=html, ics=None,
                status="pending", attempts=0, last_error="", created_at=now, next_attempt_at=now, claimed_by="",
                sent_to="")):
            return False
        self.s.execute(update(OutboxMessage)
                       .where(OutboxMessage.id.in_(carrying), OutboxMessage.status == "held",
                              OutboxMessage.digest_key.is_(None))
                       .values(digest_key=key))
        return True

    def release(self, message_ids: list[int], now: datetime) -> int:
        result = self.s.execute(update(OutboxMessage)
                                .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "held",
                                       OutboxMessage.digest_key.is_(None))
                                .values(status="pending", next_attempt_at=now))
        return int(getattr(result, "rowcount", 0) or 0)

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
               backoff: Callable[[int], timedelta], sent_to: str = "") -> bool:
        m = self.s.get(OutboxMessage, message_id, with_for_update=True)
        if m is None or not self._held_by(m, worker):
            return False
        m.attempts += 1
        m.claimed_until = None
        if error is None:
            m.status, m.sent_at, m.last_error, m.sent_to = "sent", now, "", sent_to
            if m.kind == DIGEST_KIND:
                # The reminders it carries were sent with it, in this same transaction.
                self.s.execute(update(OutboxMessage)
                               .where(OutboxMessage.digest_key == m.key, OutboxMessage.status == "held")
                               .values(status="sent", sent_at=now, sent_to=sent_to))
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

    def messages(self, *statuses: str | None) -> list[OutboxEntry]:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        wanted = [s for s in statuses if s]
        if wanted:
            stmt = stmt.where(OutboxMessage.status.in_(wanted))
        return [OutboxEntry(m.key, m.kind, m.role, m.subject, m.status, m.attempts, m.last_error, m.next_attempt_at,
                            m.sent_at, m.sent_to, m.digest_key or "") for m in self.s.scalars(stmt)]
