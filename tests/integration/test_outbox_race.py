"""`lcspr outbox --retry-now` while another sender is delivering: every message goes exactly once.

The race is real: one thread delivers (``messages.deliver``) through the real outbox, the real
Apprise dispatcher and the real local SMTP server, each message taking a while to be accepted,
while the main thread does what ``lcspr outbox --retry-now`` does (``messages.retry_now``)
again and again. Each sender is its own App, with its own worker name, on the one register.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.register.database import engine_for
from adapters.register.mapping import OutboxMessage
from adapters.register.outbox import LEASE, SEND_TIMEOUT
from lcspr.clock import SystemClock
from lcspr.settings import Settings
from models.notices import Notice
from models.roles import Role
from notifications.dispatch import AppriseDispatcher, write_local_config
from notifications.local_smtp import LocalOutbox
from notifications.render import RenderedMessage
from services import messages, queries, referrals
from services.app import App
from services.messages import DeliveryReport
from services.ports import Clock, Dispatcher
from tests.conftest import make_app, make_referral
from tests.fakes import FrozenClock

ROUNDS = 5  # races, as in the bug report
MESSAGES = 24  # per race
SLOW_BATCH = 8  # the slow sender claims this many at a time; the rest are free for the CLI to take
SMTP_DELAY = 0.06  # seconds before the slow sender's SMTP exchange for each message completes
T0 = datetime(2026, 3, 11, 8, tzinfo=UTC)


class SlowDispatcher:
    """The real dispatcher over real SMTP, but each message takes a while: a slow or busy mail server."""

    def __init__(self, real: Dispatcher, delay: float) -> None:
        self.real = real
        self.delay = delay
        self.sending = threading.Event()

    def send(self, *, role: str, message: RenderedMessage, to: str | None = None) -> None:
        self.sending.set()
        time.sleep(self.delay)
        self.real.send(role=role, message=message)


class Dies:
    def send(self, *, role: str, message: RenderedMessage, to: str | None = None) -> None:
        raise SystemExit("killed mid-send")  # the sender is killed while it holds its claim


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[LocalOutbox]:
    with LocalOutbox(tmp_path / "mail") as box:
        yield box


@pytest.fixture
def app(settings: Settings, mailbox: LocalOutbox) -> App:
    """The App ``lcspr outbox --retry-now`` runs with: the real register and dispatcher, worker retry-now-cli."""
    write_local_config(settings.apprise_config_path, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                       addresses={r.value: f"{r.value}@partnership.test" for r in Role},
                       sender="lcspr@partnership.test")
    app = make_app(settings, T0.date())
    frozen(app).at = T0
    return as_sender(app, "retry-now-cli")


def frozen(app: App) -> FrozenClock:
    assert isinstance(app.clock, FrozenClock)
    return app.clock


def as_sender(app: App, worker: str, dispatcher: Dispatcher | None = None, clock: Clock | None = None) -> App:
    """Another sender on the same register: its own worker name, dispatcher and (if given) clock."""
    return App(config=replace(app.config, worker=worker), clock=clock or app.clock, uow=app.uow, runs=app.runs,
               dispatcher=app.dispatcher if dispatcher is None else lambda: dispatcher)


def real_dispatcher(app: App) -> Dispatcher:
    """The dispatcher the App wires from the settings (Apprise on the test's config)."""
    return app.dispatcher()


def queue(app: App, agency_reference: str, count: int, *, at: App | None = None) -> list[str]:
    """Refer a review (on ``app``'s clock) and queue ``count`` distinct reminders for it (on ``at``'s
    clock, default the same); return their subjects' steps."""
    referral = make_referral(agency_reference=agency_reference, la_aware_date=date(2026, 3, 3))
    ref = referrals.register_referral(app, referral).reference
    steps = [f"{agency_reference} step {i:02d}" for i in range(count)]
    notices = [Notice(key=f"{ref}:race:{step}", kind="reminder", role=Role.BUSINESS_UNIT.value, step=step,
                      due=date(2026, 4, 1)) for step in steps]
    queuer = at or app
    with queuer.uow() as uow:
        assert len(messages.queue(uow, queuer, ref, notices, None, queuer.clock.now())) == count
        uow.commit()
    return steps


def rows(settings: Settings, status: str | None = None) -> list[OutboxMessage]:
    """The outbox's rows as stored, with who holds each claim (the use cases do not show that)."""
    with Session(engine_for(settings.register_url), expire_on_commit=False) as s, s.begin():
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        return list(s.scalars(stmt))


def deliver_slowly(sender: App, errors: list[BaseException]) -> None:
    try:
        messages.deliver(sender, batch=SLOW_BATCH)
    except BaseException as exc:  # surfaced in the test
        errors.append(exc)


def step_of(subject: str) -> str:
    """The step named in a reminder's subject, "[LCSPR-...] Reminder: <step> is due by <date>"."""
    found = re.search(r"Reminder: (.+) is due by ", subject)
    assert found is not None, subject
    return found.group(1)


def test_retry_now_during_a_slow_delivery_sends_every_message_exactly_once(
        settings: Settings, app: App, mailbox: LocalOutbox) -> None:
    # Real time here, as in production: each call reads the clock afresh.
    cli = as_sender(app, "retry-now-cli", clock=SystemClock())
    slow = SlowDispatcher(real_dispatcher(app), SMTP_DELAY)
    slow_sender = as_sender(cli, "slow-sender", slow)
    expected: list[str] = []
    errors: list[BaseException] = []
    overlapping: list[int] = []  # per race, the retries run while the slow sender held messages
    for race in range(ROUNDS):
        steps = queue(app, f"RACE-{race}", MESSAGES, at=cli)
        expected.extend(steps)
        slow.sending.clear()
        thread = threading.Thread(target=deliver_slowly, args=(slow_sender, errors))
        thread.start()
        assert slow.sending.wait(10), "the slow sender never started sending"
        # What `lcspr outbox --retry-now` does, run again and again while the slow sender is mid-batch.
        mid_batch = 0
        while thread.is_alive():
            held = [m for m in rows(settings, "pending") if m.claimed_by == "slow-sender" and m.claimed_until]
            messages.retry_now(cli)
            mid_batch += bool(held)
            time.sleep(SMTP_DELAY / 2)
        thread.join()
        overlapping.append(mid_batch)
        assert errors == []

    got = Counter(step_of(m["Subject"]) for m in mailbox.messages())
    twice = sorted(step for step, n in got.items() if n > 1)
    assert twice == [], f"{len(twice)} of {len(expected)} messages were sent more than once: {twice}"
    assert sorted(got) == sorted(expected)
    assert queries.outbox(cli, "pending") == []
    sent = queries.outbox(cli, "sent")
    assert len(sent) == len(expected) and all(m.attempts == 1 for m in sent)
    # Both senders did part of the work.
    senders = Counter(m.claimed_by for m in rows(settings, "sent"))
    assert set(senders) == {"slow-sender", "retry-now-cli"}, senders
    # And each was a race: in every one, retries ran while the slow sender held messages it was sending.
    assert all(n >= 1 for n in overlapping), overlapping


def test_retry_now_leaves_a_message_another_sender_holds_and_makes_a_failed_one_due(
        settings: Settings, app: App, mailbox: LocalOutbox, tmp_path: Path) -> None:
    # One message fails (SMTP down): pending, unclaimed, next attempt after the backoff.
    [failed_step] = queue(app, "FAILED", 1)
    down = tmp_path / "down.yml"
    write_local_config(down, smtp_host="127.0.0.1", smtp_port=1,  # nothing listens on port 1
                       addresses={r.value: f"{r.value}@partnership.test" for r in Role}, sender="x@partnership.test")
    assert len(messages.deliver(as_sender(app, "earlier", AppriseDispatcher(down, environ={}))).failed) == 1
    # Another is claimed by a sender that still holds it (here: killed mid-send, its lease still running).
    [held_step] = queue(app, "HELD", 1)
    with pytest.raises(SystemExit):
        messages.deliver(as_sender(app, "other-sender", Dies()))

    frozen(app).advance(seconds=10)
    count, report = messages.retry_now(app)
    assert count == 1
    assert len(report.sent) == 1 and report.failed == {}
    assert [step_of(m["Subject"]) for m in mailbox.messages()] == [failed_step]
    [held] = rows(settings, "pending")
    assert held.claimed_by == "other-sender" and held.claimed_until is not None and held.attempts == 0
    assert held_step in held.subject
    [retried] = rows(settings, "sent")
    assert (retried.claimed_by, retried.attempts) == ("retry-now-cli", 2)

    # Once that sender's lease has run out, the held message is delivered, once.
    frozen(app).at = T0 + LEASE * 2
    later = messages.deliver(app)
    assert later.sent == [held.key]
    assert len(mailbox.messages()) == 2 and queries.outbox(app, "pending") == []


class TakenOverMidBatch:
    """Sends for one sender whose lease runs out mid-batch (a stalled process, say): just before its
    second send, another sender whose clock is past that lease delivers what it finds."""

    def __init__(self, real: Dispatcher, taker: App) -> None:
        self.real = real
        self.taker = taker
        self.calls = 0
        self.takeover = DeliveryReport()

    def send(self, *, role: str, message: RenderedMessage, to: str | None = None) -> None:
        self.calls += 1
        if self.calls == 2:
            self.takeover = messages.deliver(self.taker)
        self.real.send(role=role, message=message)


def test_a_sender_whose_lease_ran_out_mid_batch_sends_nothing_more_that_another_sender_took(
        settings: Settings, app: App, mailbox: LocalOutbox) -> None:
    steps = queue(app, "STALLED", 6)
    taker_clock = FrozenClock(T0.date())
    taker_clock.at = T0 + LEASE * 2 + SEND_TIMEOUT * len(steps)
    taker = as_sender(app, "taker", real_dispatcher(app), clock=taker_clock)
    stalled = TakenOverMidBatch(real_dispatcher(app), taker)
    report = messages.deliver(as_sender(app, "stalled", stalled))

    # The taker took over the five messages the stalled sender had not finished, and sent each.
    assert len(report.sent) == 1 and len(stalled.takeover.sent) == 5
    # The stalled sender sent only the one already in flight when its lease ran out (the
    # at-least-once window of a send outlasting its lease); it did not go on to send the rest.
    got = Counter(step_of(m["Subject"]) for m in mailbox.messages())
    assert sorted(got) == sorted(steps)
    assert [step for step, n in got.items() if n > 1] == [steps[1]]
    sent = rows(settings, "sent")
    assert len(sent) == len(steps) and all(m.attempts == 1 for m in sent)
    assert [m.claimed_by for m in sent] == ["stalled"] + ["taker"] * 5
    assert report.sent == [sent[0].key] and stalled.takeover.sent == [m.key for m in sent[1:]]


def test_a_review_being_written_does_not_hold_back_its_messages(settings: Settings) -> None:
    """The run sends the messages an answer queued while, beside it, it notes in the review's row where it
    waits: the claim locks the outbox rows only. (Found on PostgreSQL, where ``SKIP LOCKED`` skipped every
    message of a review whose row another transaction held; SQLite has no row locks and queues writers.)"""
    if not settings.register_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's: SQLite runs one writer at a time")
    app = make_app(settings, today=date(2026, 3, 3))
    reference = referrals.register_referral(app, make_referral(agency_reference="RACE-ROW")).reference
    referrals.attach_run(app, reference, "run-1")
    with app.uow() as uow:
        uow.outbox.add("row-lock-1", reference, "reminder", Role.BUSINESS_UNIT.value, "Subject", "Text",
                       "<p>Text</p>", app.clock.now())
        uow.commit()
    with app.uow() as writing:  # the review's row locked by a write not yet committed
        assert writing.reviews.note_wait(reference, "run-1", "notification-1")
        with app.uow() as uow:
            claimed = uow.outbox.claim(app.clock.now(), app.clock.now(), "sender", reference, 25)
            uow.commit()
        writing.commit()
    assert "row-lock-1" in [m.key for m in claimed]
