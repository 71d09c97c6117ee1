"""`lcspr outbox --retry-now` while another sender is delivering: every message goes exactly once.

The race is real: one thread delivers through the real Outbox, the real Apprise dispatcher and
the real local SMTP server, each message taking a while to be accepted, while the main thread
does what ``lcspr outbox --retry-now`` does (``retry_now`` then ``deliver``) again and again.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lcspr.settings import Settings
from models.notices import Notice
from models.reminders import Role
from notifications.dispatch import AppriseDispatcher, write_local_config
from notifications.local_smtp import LocalOutbox
from notifications.render import RenderedMessage
from tasks.notify import dispatcher_for, outbox_for
from tasks.outbox import LEASE, SEND_TIMEOUT, DeliveryReport, Outbox
from tasks.register import Register
from tasks.review import register_for
from tests.conftest import make_referral

ROUNDS = 5  # races, as in the bug report
MESSAGES = 24  # per race
SLOW_BATCH = 8  # the slow sender claims this many at a time; the rest are free for the CLI to take
SMTP_DELAY = 0.06  # seconds before the slow sender's SMTP exchange for each message completes


def now() -> datetime:
    return datetime.now(UTC)


class SlowDispatcher(AppriseDispatcher):
    """The real dispatcher over real SMTP, but each message takes a while: a slow or busy mail server."""

    def __init__(self, config_path: Path, delay: float) -> None:
        super().__init__(config_path)
        self.delay = delay
        self.sending = threading.Event()

    def send(self, *, role: str, message: RenderedMessage) -> None:
        self.sending.set()
        time.sleep(self.delay)
        super().send(role=role, message=message)


class Dies(AppriseDispatcher):
    def send(self, *, role: str, message: RenderedMessage) -> None:
        raise SystemExit("killed mid-send")  # the sender is killed while it holds its claim


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[LocalOutbox]:
    with LocalOutbox(tmp_path / "mail") as box:
        yield box


@pytest.fixture
def register(settings: Settings, mailbox: LocalOutbox) -> Register:
    write_local_config(settings.apprise_config_path, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                       addresses={r.value: f"{r.value}@partnership.test" for r in Role},
                       sender="lcspr@partnership.test")
    return register_for(settings)


def queue(register: Register, outbox: Outbox, agency_reference: str, count: int, at: datetime) -> list[str]:
    """Refer a review and queue ``count`` distinct reminders for it; return their subjects' steps."""
    referral = make_referral(agency_reference=agency_reference, la_aware_date=date(2026, 3, 3))
    ref = register.refer(referral, date(2026, 3, 3), at).reference
    steps = [f"{agency_reference} step {i:02d}" for i in range(count)]
    notices = [Notice(key=f"{ref}:race:{step}", kind="reminder", role=Role.BUSINESS_UNIT.value, step=step,
                      due=date(2026, 4, 1)) for step in steps]
    assert len(outbox.queue(ref, notices, at)) == count
    return steps


def deliver_slowly(outbox: Outbox, slow: SlowDispatcher, errors: list[BaseException]) -> None:
    try:
        outbox.deliver(slow, now(), "slow-sender", batch=SLOW_BATCH)
    except BaseException as exc:  # surfaced in the test
        errors.append(exc)


def step_of(subject: str) -> str:
    """The step named in a reminder's subject, "[LCSPR-...] Reminder: <step> is due by <date>"."""
    found = re.search(r"Reminder: (.+) is due by ", subject)
    assert found is not None, subject
    return found.group(1)


def test_retry_now_during_a_slow_delivery_sends_every_message_exactly_once(
        settings: Settings, register: Register, mailbox: LocalOutbox) -> None:
    outbox = outbox_for(settings, register)
    slow = SlowDispatcher(settings.apprise_config_path, SMTP_DELAY)
    expected: list[str] = []
    errors: list[BaseException] = []
    overlapping: list[int] = []  # per race, the retries run while the slow sender held messages
    for race in range(ROUNDS):
        steps = queue(register, outbox, f"RACE-{race}", MESSAGES, now())
        expected.extend(steps)
        slow.sending.clear()
        sender = threading.Thread(target=deliver_slowly, args=(outbox, slow, errors))
        sender.start()
        assert slow.sending.wait(10), "the slow sender never started sending"
        # What `lcspr outbox --retry-now` does, run again and again while the slow sender is mid-batch.
        mid_batch = 0
        while sender.is_alive():
            held = [m for m in outbox.messages("pending") if m.claimed_by == "slow-sender" and m.claimed_until]
            outbox.retry_now(now())
            outbox.deliver(dispatcher_for(settings), now(), "retry-now-cli")
            mid_batch += bool(held)
            time.sleep(SMTP_DELAY / 2)
        sender.join()
        overlapping.append(mid_batch)
        assert errors == []

    got = Counter(step_of(m["Subject"]) for m in mailbox.messages())
    twice = sorted(step for step, n in got.items() if n > 1)
    assert twice == [], f"{len(twice)} of {len(expected)} messages were sent more than once: {twice}"
    assert sorted(got) == sorted(expected)
    assert outbox.messages("pending") == []
    sent = outbox.messages("sent")
    assert len(sent) == len(expected) and all(m.attempts == 1 for m in sent)
    # And each was a race: in every one, retries ran while the slow sender held messages it was sending.
    assert all(n >= 1 for n in overlapping), overlapping


def test_retry_now_leaves_a_message_another_sender_holds_and_makes_a_failed_one_due(
        settings: Settings, register: Register, mailbox: LocalOutbox, tmp_path: Path) -> None:
    outbox = outbox_for(settings, register)
    t0 = datetime(2026, 3, 11, 8, tzinfo=UTC)
    # One message fails (SMTP down): pending, unclaimed, next attempt after the backoff.
    [failed_step] = queue(register, outbox, "FAILED", 1, t0)
    down = tmp_path / "down.yml"
    write_local_config(down, smtp_host="127.0.0.1", smtp_port=1,  # nothing listens on port 1
                       addresses={r.value: f"{r.value}@partnership.test" for r in Role}, sender="x@partnership.test")
    assert len(outbox.deliver(AppriseDispatcher(down), t0, "earlier").failed) == 1
    # Another is claimed by a sender that still holds it (here: killed mid-send, its lease still running).
    [held_step] = queue(register, outbox, "HELD", 1, t0)
    with pytest.raises(SystemExit):
        outbox.deliver(Dies(settings.apprise_config_path), t0, "other-sender")

    assert outbox.retry_now(t0 + timedelta(seconds=10)) == 1
    report = outbox.deliver(dispatcher_for(settings), t0 + timedelta(seconds=10), "retry-now-cli")
    assert len(report.sent) == 1 and report.failed == {}
    assert [step_of(m["Subject"]) for m in mailbox.messages()] == [failed_step]
    [held] = outbox.messages("pending")
    assert held.claimed_by == "other-sender" and held.claimed_until is not None and held.attempts == 0
    assert held_step in held.subject

    # Once that sender's lease has run out, the held message is delivered, once.
    later = outbox.deliver(dispatcher_for(settings), t0 + LEASE * 2, "retry-now-cli")
    assert len(later.sent) == 1
    assert len(mailbox.messages()) == 2 and outbox.messages("pending") == []


class TakenOverMidBatch(AppriseDispatcher):
    """Sends for one sender whose lease runs out mid-batch (a stalled process, say): just before its
    second send, another sender whose clock is past that lease delivers what it finds."""

    def __init__(self, config_path: Path, outbox: Outbox, takeover_at: datetime) -> None:
        super().__init__(config_path)
        self.outbox = outbox
        self.takeover_at = takeover_at
        self.calls = 0
        self.takeover = DeliveryReport()

    def send(self, *, role: str, message: RenderedMessage) -> None:
        self.calls += 1
        if self.calls == 2:
            self.takeover = self.outbox.deliver(AppriseDispatcher(self.config_path), self.takeover_at, "taker")
        super().send(role=role, message=message)


def test_a_sender_whose_lease_ran_out_mid_batch_sends_nothing_more_that_another_sender_took(
        settings: Settings, register: Register, mailbox: LocalOutbox) -> None:
    outbox = outbox_for(settings, register)
    t0 = datetime(2026, 3, 11, 8, tzinfo=UTC)
    steps = queue(register, outbox, "STALLED", 6, t0)
    stalled = TakenOverMidBatch(settings.apprise_config_path, outbox, t0 + LEASE * 2 + SEND_TIMEOUT * len(steps))
    report = outbox.deliver(stalled, t0, "stalled")

    # The taker took over the five messages the stalled sender had not finished, and sent each.
    assert len(report.sent) == 1 and len(stalled.takeover.sent) == 5
    # The stalled sender sent only the one already in flight when its lease ran out (the
    # at-least-once window of a send outlasting its lease); it did not go on to send the rest.
    got = Counter(step_of(m["Subject"]) for m in mailbox.messages())
    assert sorted(got) == sorted(steps)
    assert [step for step, n in got.items() if n > 1] == [steps[1]]
    sent = outbox.messages("sent")
    assert len(sent) == len(steps) and all(m.attempts == 1 for m in sent)
    assert [m.claimed_by for m in sent] == ["stalled"] + ["taker"] * 5
