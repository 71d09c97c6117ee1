"""The outbox: every message is queued in the register under a unique key, then delivered.

Queueing is insert-if-absent on the key, so a replayed flow, a retried task or two
sweeps at once queue each message once. Delivery claims a batch with a lease (on
PostgreSQL with ``SKIP LOCKED``; SQLite serialises writers), sends each message
through Apprise, and marks it sent; a failure keeps it pending with the error and a
backed-off next attempt. Nothing is ever dropped.

A claim is never taken from a sender that still holds it: only an expired lease can be
claimed again, ``retry_now`` leaves live claims alone, a sender checks (and renews) its
claim just before each send and skips a message it no longer holds, and it records an
outcome only for a message it still holds. The one window left is a crash after the
SMTP server accepted a message and before it was marked sent: that message is sent
again when its lease expires (at least once, never silently lost).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from lcspr.settings import flow_run_link
from models.clocks import ClockKind
from models.errors import LcsprError
from models.notices import Notice, clock_notices
from models.register import ClockRow, OutboxMessage, ReviewRow
from models.reminders import ReminderPolicy
from notifications.dispatch import AppriseDispatcher, NoRecipient
from notifications.render import RenderedMessage, render
from tasks.register import Register

LEASE = timedelta(minutes=5)
SEND_TIMEOUT = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failed attempt, at most six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class SweepReport:
    today: date
    due: list[str] = field(default_factory=list)  # keys of every notice current today
    queued: list[str] = field(default_factory=list)  # of those, the ones new to the outbox
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class Outbox:
    def __init__(self, register: Register, *, partnership: str, ui_url: str, fallback_role: str = "") -> None:
        self.register = register
        self.partnership = partnership
        self.ui_url = ui_url
        self.fallback_role = fallback_role

    def queue(self, reference: str, notices: Iterable[Notice], now: datetime) -> list[str]:
        """Render and queue each notice not yet in the outbox; return the keys newly queued."""
        new: list[str] = []
        with self.register.unit_of_work() as s:
            review = s.scalars(select(ReviewRow).where(ReviewRow.reference == reference)).one()
            link = flow_run_link(self.ui_url, review.flow_run_id)
            for notice in notices:
                if s.scalar(select(OutboxMessage.id).where(OutboxMessage.key == notice.key)) is not None:
                    continue
                message = render(notice.kind, notice.context(reference=reference, link=link,
                                                             partnership=self.partnership))
                try:
                    with s.begin_nested():  # a concurrent sweep may insert the same key first
                        s.add(OutboxMessage(
                            key=notice.key, review_id=review.id, kind=notice.kind, role=notice.role,
                            subject=message.subject, text=message.text, html=message.html, status="pending",
                            attempts=0, last_error="", created_at=now, next_attempt_at=now, claimed_by="",
                        ))
                except IntegrityError:
                    continue
                new.append(notice.key)
        return new

    def deliver(self, dispatcher: AppriseDispatcher, now: datetime, worker: str,
                reference: str | None = None, batch: int = 25) -> DeliveryReport:
        """Send pending messages whose time has come, in small claimed batches until none are left.

        Only messages this worker holds are sent and recorded; one another sender took over
        (its lease had run out) is left to that sender.
        """
        report = DeliveryReport()
        started = time.monotonic()

        def clock() -> datetime:
            # ``now`` is fixed for the whole delivery (and may be injected), but leases must run from
            # the real time of each claim: a delivery of many batches can outlast a lease taken at ``now``.
            return now + timedelta(seconds=time.monotonic() - started)

        while True:
            claimed = self._claim(now, clock(), worker, reference, batch)
            for message_id, key, role, message in claimed:
                if self._hold(message_id, worker, clock()):
                    self._finish(message_id, key, worker, self._send(dispatcher, role, message), now, report)
            if len(claimed) < batch:
                return report

    def _claim(self, now: datetime, at: datetime, worker: str, reference: str | None,
               batch: int) -> list[tuple[int, str, str, RenderedMessage]]:
        """Lease a batch, due by ``now``, at ``at`` so no other sweep sends it too. The lease covers
        a slow send of every message in the batch (SMTP timeouts); ``_hold`` renews it per message."""
        with self.register.unit_of_work() as s:
            stmt = (select(OutboxMessage)
                    .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
                           or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < at))
                    .order_by(OutboxMessage.id).limit(batch).with_for_update(skip_locked=True))
            if reference is not None:
                stmt = stmt.join(ReviewRow).where(ReviewRow.reference == reference)
            claimed = list(s.scalars(stmt))
            for m in claimed:
                m.claimed_by, m.claimed_until = worker, at + LEASE + SEND_TIMEOUT * len(claimed)
            return [(m.id, m.key, m.role, RenderedMessage(m.subject, m.text, m.html)) for m in claimed]

    @staticmethod
    def _held_by(m: OutboxMessage, worker: str) -> bool:
        """Whether ``worker`` still holds its claim on the message: nobody has claimed it since
        (a claim writes ``claimed_by``), nobody has released it, and it is not finished."""
        return m.status == "pending" and m.claimed_by == worker and m.claimed_until is not None

    def _hold(self, message_id: int, worker: str, at: datetime) -> bool:
        """Just before sending: check the claim is still this worker's and renew it for this one send,
        so the lease cannot run out while the message is in flight (slow sends earlier in the batch
        may have used it up). False if another sender took the message over: then it is not sent."""
        with self.register.unit_of_work() as s:
            m = s.get(OutboxMessage, message_id, with_for_update=True)
            if m is None or not self._held_by(m, worker):
                return False
            m.claimed_until = at + LEASE + SEND_TIMEOUT
            return True

    def _finish(self, message_id: int, key: str, worker: str, error: str | None, now: datetime,
                report: DeliveryReport) -> None:
        """Record the outcome of a send, only if this worker still holds the message's claim."""
        with self.register.unit_of_work() as s:
            m = s.get(OutboxMessage, message_id, with_for_update=True)
            if m is None or not self._held_by(m, worker):
                return
            m.attempts += 1
            m.claimed_until = None
            if error is None:
                m.status, m.sent_at, m.last_error = "sent", now, ""
                report.sent.append(key)
            else:
                # Claimed again only once the backoff has passed (so a batch loop cannot spin on it).
                m.last_error = error
                m.next_attempt_at = now + backoff(m.attempts)
                report.failed[key] = error

    def _send(self, dispatcher: AppriseDispatcher, role: str, message: RenderedMessage) -> str | None:
        try:
            try:
                dispatcher.send(role=role, message=message)
            except NoRecipient:
                if not self.fallback_role or self.fallback_role == role:
                    raise
                # No address for this role (often a new agency): the business unit forwards it.
                dispatcher.send(role=self.fallback_role, message=message)
        except LcsprError as exc:
            return str(exc)
        return None

    def messages(self, status: str | None = None) -> list[OutboxMessage]:
        with self.register.unit_of_work() as s:
            stmt = select(OutboxMessage).order_by(OutboxMessage.id)
            if status:
                stmt = stmt.where(OutboxMessage.status == status)
            return list(s.scalars(stmt))

    def retry_now(self, now: datetime) -> int:
        """Make every pending message no sender holds due at once (after fixing a config or an SMTP
        outage); return how many. A message under a live claim is left alone: its sender is sending
        it now and records the outcome, and taking it from that sender would send it twice."""
        with self.register.unit_of_work() as s:
            # FOR UPDATE: on PostgreSQL a claim being made now is waited for, and the row re-checked.
            rows = list(s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending",
                       or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
                .order_by(OutboxMessage.id).with_for_update()))
            for m in rows:
                m.next_attempt_at = now
            return len(rows)


def references_with_running_clocks(register: Register) -> list[str]:
    with register.unit_of_work() as s:
        stmt = (select(ReviewRow.reference).join(ClockRow, ClockRow.review_id == ReviewRow.id)
                .where(ClockRow.state.in_(("running", "paused"))).distinct().order_by(ReviewRow.reference))
        return list(s.scalars(stmt))


def sweep(register: Register, outbox: Outbox, dispatcher: AppriseDispatcher | None, *, today: date,
          now: datetime, worker: str, policies: Mapping[ClockKind, ReminderPolicy],
          dry_run: bool = False) -> SweepReport:
    """Queue every reminder and escalation current today, then deliver what is pending."""
    report = SweepReport(today=today)
    for reference in references_with_running_clocks(register):
        review = register.load(reference)
        notices = clock_notices(reference, review.clocks, today, register.policy.calendar, policies)
        report.due.extend(n.key for n in notices)
        if not dry_run:
            report.queued.extend(outbox.queue(reference, notices, now))
    if not dry_run and dispatcher is not None:
        report.delivery = outbox.deliver(dispatcher, now, worker)
    return report
