"""The deadline sweep and outbox against a real SMTP server, with an injected clock."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lcspr.settings import Settings
from models.reminders import Role
from notifications.dispatch import AppriseDispatcher, write_local_config
from notifications.local_smtp import LocalOutbox
from tasks.outbox import LEASE, Outbox, sweep
from tasks.register import Register
from tasks.review import register_for
from tests.conftest import make_referral

CANARY_PSEUDONYM = "Child Z"
CANARY_OUTLINE = "CANARYOUTLINE: facts of the case that must never be emailed."


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def mailbox(tmp_path: Path):
    with LocalOutbox(tmp_path / "outbox") as box:
        yield box


@pytest.fixture
def dispatcher(tmp_path: Path, mailbox: LocalOutbox) -> AppriseDispatcher:
    path = tmp_path / "apprise.yml"
    write_local_config(path, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                       addresses={r.value: f"{r.value}@partnership.test" for r in Role},
                       sender="lcspr@partnership.test")
    return AppriseDispatcher(path)


@pytest.fixture
def register(settings: Settings) -> Register:
    return register_for(settings)


@pytest.fixture
def outbox(register: Register, settings: Settings) -> Outbox:
    return Outbox(register, partnership="Test Partnership", ui_url="http://127.0.0.1:4200")


def refer(register: Register, agency_reference: str = "SWEEP-1") -> str:
    referral = make_referral(agency_reference=agency_reference, child_pseudonym=CANARY_PSEUDONYM,
                             outline=CANARY_OUTLINE, la_aware_date=date(2026, 3, 3), incident_date=date(2026, 3, 2))
    return register.refer(referral, date(2026, 3, 3), at(date(2026, 3, 3))).reference


def run_sweep(register, outbox, dispatcher, day, settings, hour=8):
    return sweep(register, outbox, dispatcher, today=day, now=at(day, hour), worker="test",
                 policies=settings.reminder_policies())


def received(mailbox: LocalOutbox) -> list[tuple[str, str]]:
    return [(m["To"], m["Subject"]) for m in mailbox.messages()]


def test_reminders_reach_each_role_by_email_without_case_facts(register, outbox, dispatcher, mailbox, settings):
    ref = refer(register)
    # Notification clock: aware Tue 3 Mar 2026, due Tue 10 Mar. Overdue by 1 working day on Wed 11 Mar.
    report = run_sweep(register, outbox, dispatcher, date(2026, 3, 11), settings)
    assert report.delivery.failed == {}
    got = received(mailbox)
    assert any(to == "business_unit@partnership.test" and "Overdue" in s and ref in s for to, s in got)
    to = sorted(t for t, _ in got)
    assert to == ["business_unit@partnership.test", "business_unit_manager@partnership.test",
                  "subgroup_chair@partnership.test"]
    for message in mailbox.messages():
        body = message.get_body(("plain", "html")).get_content()
        assert ref in message["Subject"]
        assert "2026-03-10" in body
        assert "http://127.0.0.1:4200" in body
        for canary in (CANARY_PSEUDONYM, CANARY_OUTLINE, "CANARYOUTLINE"):
            assert canary not in body and canary not in message["Subject"]


def test_a_review_over_months_gets_each_reminder_once_in_order_until_its_clock_is_met(
        register, outbox, dispatcher, mailbox, settings):
    """Sweep every day for a month with an injected clock; meet the notification clock late and watch it stop."""
    ref = refer(register)
    sent_on: list[tuple[date, str, str]] = []
    day = date(2026, 3, 2)
    while day <= date(2026, 4, 10):
        if day == date(2026, 3, 20):
            outcome = register.record_decision(ref, "notification-1", {
                "decided_on": "2026-03-20", "decided_by": "A. Jones", "outcome": "notified",
                "panel_reference": "NP-1"}, day, at(day, 9))
            assert outcome.accepted
        before = len(mailbox.messages())
        run_sweep(register, outbox, dispatcher, day, settings)
        for m in mailbox.messages()[before:]:
            sent_on.append((day, m["To"].split("@")[0], m["Subject"]))
        day += timedelta(days=1)

    sin = [(d, role, s) for d, role, s in sent_on if "Serious incident" in s]
    expected = [
        (date(2026, 3, 3), "business_unit", "Reminder"),          # 5 working days before 10 Mar
        (date(2026, 3, 9), "business_unit", "Reminder"),          # 1 working day before
        (date(2026, 3, 10), "business_unit", "Due today"),
        (date(2026, 3, 11), "business_unit", "Overdue"),          # overdue 1: owner + first rung
        (date(2026, 3, 11), "business_unit_manager", "Escalation"),
        (date(2026, 3, 11), "subgroup_chair", "Escalation"),
        (date(2026, 3, 12), "business_unit", "Overdue"),
        (date(2026, 3, 13), "business_unit", "Overdue"),
        (date(2026, 3, 16), "business_unit", "Overdue"),          # the weekend skipped itself
        (date(2026, 3, 17), "business_unit", "Overdue"),          # overdue 5: the Independent Chair hears
        (date(2026, 3, 17), "independent_chair", "Escalation"),
        (date(2026, 3, 18), "business_unit", "Overdue"),
        (date(2026, 3, 19), "business_unit", "Overdue"),
    ]                                                              # met on 20 Mar: silence after
    assert [(d, role) for d, role, _ in sin] == [(d, role) for d, role, _ in expected]
    for (_, _, subject), (_, _, word) in zip(sin, expected, strict=True):
        assert word.lower() in subject.lower(), subject
    # The rapid review clock started on 20 Mar: 15 working days skip Good Friday and Easter Monday,
    # so it is due Tue 14 Apr and its 5-working-day reminder goes on Tue 7 Apr.
    rr = [(d, role) for d, role, s in sent_on if "Rapid review" in s]
    assert rr == [(date(2026, 4, 7), "safeguarding_partners")]
    assert len(sent_on) == len({(role, s, d) for d, role, s in sent_on})


def test_when_smtp_is_down_messages_stay_pending_and_go_once_when_it_is_back(
        register, outbox, settings, tmp_path, mailbox):
    ref = refer(register)
    down = tmp_path / "down.yml"
    write_local_config(down, smtp_host="127.0.0.1", smtp_port=1,  # nothing listens on port 1
                       addresses={r.value: f"{r.value}@partnership.test" for r in Role}, sender="x@partnership.test")
    report = run_sweep(register, outbox, AppriseDispatcher(down), date(2026, 3, 11), settings)
    assert len(report.delivery.failed) == 3
    pending = outbox.messages("pending")
    assert len(pending) == 3 and all(m.last_error and m.attempts == 1 for m in pending)

    up = tmp_path / "up.yml"
    write_local_config(up, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                       addresses={r.value: f"{r.value}@partnership.test" for r in Role}, sender="x@partnership.test")
    early = outbox.deliver(AppriseDispatcher(up), at(date(2026, 3, 11), 8) + timedelta(seconds=30), "w")
    assert early.sent == []  # backoff: not yet due again
    later = outbox.deliver(AppriseDispatcher(up), at(date(2026, 3, 11), 9), "w")
    assert len(later.sent) == 3
    again = run_sweep(register, outbox, AppriseDispatcher(up), date(2026, 3, 11), settings, hour=10)
    assert again.queued == [] and again.delivery.sent == []
    assert len(mailbox.messages()) == 3
    assert {m.status for m in outbox.messages()} == {"sent"}
    assert ref


def test_two_sweeps_started_together_send_each_message_once(register, outbox, dispatcher, mailbox, settings):
    refs = [refer(register, f"SWEEP-{i}") for i in range(4)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            run_sweep(register, outbox, dispatcher, date(2026, 3, 11), settings)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = received(mailbox)
    assert len(got) == 3 * len(refs)
    assert len(got) == len(set(got))


def test_a_crash_after_queuing_and_before_sending_is_delivered_once_by_the_next_sweep(
        register, outbox, dispatcher, mailbox, settings):
    refer(register)
    # The first sweep queues and dies before delivering (no dispatcher reached).
    first = sweep(register, outbox, None, today=date(2026, 3, 11), now=at(date(2026, 3, 11)), worker="a",
                  policies=settings.reminder_policies())
    assert len(first.queued) == 3 and mailbox.messages() == []
    run_sweep(register, outbox, dispatcher, date(2026, 3, 11), settings, hour=9)
    run_sweep(register, outbox, dispatcher, date(2026, 3, 11), settings, hour=10)
    assert len(mailbox.messages()) == 3


def test_a_crash_while_sending_is_retried_after_the_lease_and_sent_once(
        register, outbox, dispatcher, mailbox, settings):
    refer(register)

    class Dies(AppriseDispatcher):
        def send(self, **kwargs):  # the process is killed mid-send
            raise SystemExit("killed")

    with pytest.raises(SystemExit):
        run_sweep(register, outbox, Dies(dispatcher.config_path), date(2026, 3, 11), settings)
    assert mailbox.messages() == []
    # Within the lease nobody else takes the claimed messages...
    soon = outbox.deliver(dispatcher, at(date(2026, 3, 11)) + LEASE / 2, "b")
    assert soon.sent == []
    # ...after it, the next delivery sends each once.
    later = outbox.deliver(dispatcher, at(date(2026, 3, 11)) + LEASE * 2, "b")
    assert len(later.sent) == 3
    assert len(mailbox.messages()) == 3


def test_a_dry_run_queues_and_sends_nothing(register, outbox, dispatcher, mailbox, settings):
    refer(register)
    report = sweep(register, outbox, dispatcher, today=date(2026, 3, 11), now=at(date(2026, 3, 11)), worker="t",
                   policies=settings.reminder_policies(), dry_run=True)
    assert len(report.due) == 3
    assert outbox.messages() == [] and mailbox.messages() == []


def test_a_message_for_an_agency_with_no_address_goes_to_the_business_unit(register, settings, dispatcher, mailbox):
    ref = refer(register)
    from models.notices import Notice

    box = Outbox(register, partnership="P", ui_url="http://x", fallback_role="business_unit")
    box.queue(ref, [Notice(key=f"{ref}:t:agency-unknown", kind="reminder", role="agency-unknown",
                           step="Agency report", due=date(2026, 4, 1))], at(date(2026, 3, 11)))
    report = box.deliver(dispatcher, at(date(2026, 3, 11)), "w")
    assert report.failed == {}
    assert received(mailbox)[0][0] == "business_unit@partnership.test"


def test_a_whole_lcspr_swept_every_day_sends_nothing_twice_and_nothing_after_a_clock_is_met(
        register, outbox, dispatcher, mailbox, settings):
    """Referral to closure over eight months, a sweep every day: each clock's messages stop once it is met."""
    from tests.flows.answers import FULL_LCSPR  # the same answers the flow tests give

    ref = refer(register)
    # As the full LCSPR of the flow tests, but publication stays deferred for six weeks past
    # its review date (criminal proceedings ran on), so the deferral review escalates.
    late = {"publication-2": "2026-10-15", "action-1": "2026-10-16", "action-2": "2026-10-16",
            "action-update-1": "2026-10-20", "action-update-2": "2026-10-22"}
    pending = [(key, {**answer, "decided_on": late.get(key, answer["decided_on"])}) for key, answer in FULL_LCSPR]
    day = date(2026, 3, 2)
    while day <= date(2026, 11, 20):
        while pending and date.fromisoformat(pending[0][1]["decided_on"]) == day:
            key, answer = pending.pop(0)
            assert register.record_decision(ref, key, answer, day, at(day, 7)).accepted, key
        run_sweep(register, outbox, dispatcher, day, settings)
        day += timedelta(days=1)
    assert pending == []

    sent = outbox.messages("sent")
    assert outbox.messages("pending") == []
    assert len(mailbox.messages()) == len(sent)
    assert len({m.key for m in sent}) == len(sent)
    review = register.load(ref)
    for clock in review.clocks:
        finished = clock.met_on or clock.stopped_on
        late = [m for m in sent if m.key.startswith(f"{ref}:{clock.key}:") and finished
                and m.sent_at.date() > finished]
        assert late == [], f"{clock.key} kept sending after it was met on {finished}"
    # Steps answered on time got their reminders and nothing more.
    on_time = [m.key.removeprefix(f"{ref}:") for m in sent if ":deferral_review:" not in m.key]
    assert on_time and all(":reminder:before-" in k for k in on_time), on_time
    # The deferral review fell due on Tue 1 Sep (Mon 31 Aug is a bank holiday) and was answered on 15 Oct:
    # the sub group heard every working day overdue; the ladder climbed and repeated every 5 working days.
    deferral = [(m.sent_at.date(), m.key.split(":", 3)[3]) for m in sent if ":deferral_review:" in m.key]
    overdue_days = [d for d, k in deferral if k.startswith("overdue:")]
    assert overdue_days[0] == date(2026, 9, 2) and overdue_days[-1] == date(2026, 10, 14)
    assert len(overdue_days) == settings.calendar().between(date(2026, 9, 1), date(2026, 10, 14))
    rungs = [(d, k.split(":")[1], k.split(":")[2]) for d, k in deferral if k.startswith("escalation:")]
    assert rungs[:4] == [(date(2026, 9, 2), "rung-1", "business_unit_manager"),
                         (date(2026, 9, 2), "rung-1", "subgroup_chair"),
                         (date(2026, 9, 8), "rung-5", "independent_chair"),
                         (date(2026, 9, 15), "rung-10", "independent_chair")]
    assert [d for d, _, _ in rungs] == sorted(d for d, _, _ in rungs)
    # And the paused publication clock stayed silent through the deferral.
    while_deferred = [m for m in sent if date(2026, 8, 3) < m.sent_at.date() < date(2026, 10, 15)]
    deferred = [m for m in while_deferred if ":publication:" in m.key]
    assert deferred == []
    for message in mailbox.messages():
        body = message.get_body(("plain", "html")).get_content()
        assert CANARY_PSEUDONYM not in body and "CANARYOUTLINE" not in body


def test_delivery_works_through_the_outbox_in_small_batches(register, outbox, dispatcher, mailbox, settings):
    for i in range(3):
        refer(register, f"BATCH-{i}")
    sweep(register, outbox, None, today=date(2026, 3, 11), now=at(date(2026, 3, 11)), worker="q",
          policies=settings.reminder_policies())
    report = outbox.deliver(dispatcher, at(date(2026, 3, 11)), "w", batch=2)
    assert len(report.sent) == 9 and len(mailbox.messages()) == 9
