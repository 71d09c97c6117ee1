"""The deadline sweep and the outbox on the real register, through Apprise to a real SMTP server.

Time is the App's frozen clock, moved by each test: a sweep "on" a day is one run with the
clock at 08:00 that day. Answers go through ``answers.record_answer``, which also queues
the "step opened" announcement of the step each answer opens.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from adapters.register.outbox import LEASE
from lcspr.settings import Settings
from models.notices import Notice
from models.roles import Role
from notifications.dispatch import AppriseDispatcher, write_local_config
from notifications.local_smtp import LocalOutbox
from notifications.render import RenderedMessage
from services import answers, messages, queries, referrals, reviews
from services.app import App
from services.messages import SweepReport
from services.ports import Dispatcher
from tests.conftest import make_app, make_referral
from tests.fakes import FrozenClock

CANARY_PSEUDONYM = "Child Z"
CANARY_OUTLINE = "CANARYOUTLINE: facts of the case that must never be emailed."
ADDRESSES = {r.value: f"{r.value}@partnership.test" for r in Role}


class Killed(BaseException):
    """The process running a sweep or a delivery is killed (as SIGKILL would, nothing catches it)."""


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[LocalOutbox]:
    with LocalOutbox(tmp_path / "outbox") as box:
        yield box


@pytest.fixture
def app(settings: Settings, mailbox: LocalOutbox) -> App:
    """The real App: its register, and its Apprise config routing every role to the local SMTP server."""
    write_local_config(settings.apprise_config_path, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                       addresses=ADDRESSES, sender="lcspr@partnership.test")
    return make_app(settings, date(2026, 3, 3))


def clock_of(app: App) -> FrozenClock:
    assert isinstance(app.clock, FrozenClock)
    return app.clock


def set_time(app: App, moment: datetime) -> None:
    clock_of(app).at = moment


def sender(app: App, dispatcher: Dispatcher | None = None, *, worker: str | None = None,
           clock: FrozenClock | None = None) -> App:
    """The same register as ``app`` (and its clock unless given), with another dispatcher or worker name."""
    config = replace(app.config, worker=worker) if worker else app.config
    return App(config=config, clock=clock or app.clock, uow=app.uow, runs=app.runs,
               dispatcher=app.dispatcher if dispatcher is None else lambda: dispatcher)


def killed_before_delivering(app: App) -> App:
    """A sender whose process dies once the sweep has queued, before it delivers anything."""

    def dies() -> Dispatcher:
        raise Killed("killed before delivering")

    return App(config=app.config, clock=app.clock, uow=app.uow, runs=app.runs, dispatcher=dies)


def smtp_config(path: Path, port: int) -> AppriseDispatcher:
    write_local_config(path, smtp_host="127.0.0.1", smtp_port=port, addresses=ADDRESSES, sender="x@partnership.test")
    return AppriseDispatcher(path, environ={})


def refer(app: App, agency_reference: str = "SWEEP-1") -> str:
    referral = make_referral(agency_reference=agency_reference, child_pseudonym=CANARY_PSEUDONYM,
                             outline=CANARY_OUTLINE, la_aware_date=date(2026, 3, 3), incident_date=date(2026, 3, 2))
    return referrals.register_referral(app, referral).reference


def run_sweep(app: App, day: date, hour: int = 8) -> SweepReport:
    set_time(app, at(day, hour))
    report = messages.sweep(app)
    assert report.today == day
    return report


def received(mailbox: LocalOutbox) -> list[tuple[str, str]]:
    return [(m["To"], m["Subject"]) for m in mailbox.messages()]


def body(message: object) -> str:
    part = message.get_body(("plain", "html"))  # type: ignore[attr-defined]
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_reminders_reach_each_role_by_email_without_case_facts(app: App, mailbox: LocalOutbox) -> None:
    ref = refer(app)
    # Notification clock: aware Tue 3 Mar 2026, due Tue 10 Mar. Overdue by 1 working day on Wed 11 Mar.
    report = run_sweep(app, date(2026, 3, 11))
    assert report.delivery.failed == {}
    assert sorted(report.delivery.sent) == sorted(report.queued) == sorted(report.due)
    assert len(report.due) == 3
    got = received(mailbox)
    assert any(to == "business_unit@partnership.test" and "Overdue" in s and ref in s for to, s in got)
    to = sorted(t for t, _ in got)
    assert to == ["business_unit@partnership.test", "business_unit_manager@partnership.test",
                  "subgroup_chair@partnership.test"]
    for message in mailbox.messages():
        text = body(message)
        assert ref in message["Subject"]
        assert "2026-03-10" in text
        assert "http://127.0.0.1:4200" in text
        for canary in (CANARY_PSEUDONYM, CANARY_OUTLINE, "CANARYOUTLINE"):
            assert canary not in text and canary not in message["Subject"]


def test_a_review_over_months_gets_each_reminder_once_in_order_until_its_clock_is_met(
        app: App, mailbox: LocalOutbox) -> None:
    """Sweep every day for a month with an injected clock; meet the notification clock late and watch it stop."""
    ref = refer(app)
    sent_on: list[tuple[date, str, str]] = []
    day = date(2026, 3, 2)
    while day <= date(2026, 4, 10):
        if day == date(2026, 3, 20):
            set_time(app, at(day, 7))
            outcome = answers.record_answer(app, ref, "notification-1", {
                "decided_on": "2026-03-20", "decided_by": "A. Jones", "outcome": "notified",
                "panel_reference": "NP-1"})
            assert outcome.accepted
        before = len(mailbox.messages())
        run_sweep(app, day)
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
    # The answer that met the notification clock opened the rapid review, announced that morning.
    opened = [(d, role, s) for d, role, s in sent_on if "Action needed" in s]
    assert opened == [(date(2026, 3, 20), "safeguarding_partners",
                       f"[{ref}] Action needed: Rapid Review outcome by 2026-04-14")]
    assert len(sent_on) == len(sin) + len(rr) + len(opened)
    assert len(sent_on) == len({(role, s, d) for d, role, s in sent_on})


def test_when_smtp_is_down_messages_stay_pending_and_go_once_when_it_is_back(
        app: App, tmp_path: Path, mailbox: LocalOutbox) -> None:
    refer(app)
    down = sender(app, smtp_config(tmp_path / "down.yml", 1))  # nothing listens on port 1
    set_time(down, at(date(2026, 3, 11)))
    report = messages.sweep(down)
    assert len(report.delivery.failed) == 3 and report.delivery.sent == []
    pending = queries.outbox(app, "pending")
    assert len(pending) == 3 and all(m.last_error and m.attempts == 1 for m in pending)
    assert {m.key: m.last_error for m in pending} == report.delivery.failed
    # Backed off: the first retry is one minute after the failure.
    assert {m.next_attempt_at.replace(tzinfo=UTC) for m in pending} == {at(date(2026, 3, 11)) + timedelta(minutes=1)}

    up = sender(app, smtp_config(tmp_path / "up.yml", mailbox.port))
    clock_of(app).advance(seconds=30)
    early = messages.deliver(up)
    assert early.sent == [] and early.failed == {}  # backoff: not yet due again
    set_time(app, at(date(2026, 3, 11), 9))
    later = messages.deliver(up)
    assert sorted(later.sent) == sorted(report.delivery.failed)
    again = run_sweep(up, date(2026, 3, 11), hour=10)
    assert sorted(again.due) == sorted(later.sent)
    assert again.queued == [] and again.delivery.sent == []
    assert len(mailbox.messages()) == 3
    sent = queries.outbox(app)
    assert {m.status for m in sent} == {"sent"} and {m.attempts for m in sent} == {2}
    assert {m.last_error for m in sent} == {""}


def test_two_sweeps_started_together_send_each_message_once(
        app: App, settings: Settings, mailbox: LocalOutbox) -> None:
    refs = [refer(app, f"SWEEP-{i}") for i in range(4)]
    # Two sweeps as two processes would run them: each its own App (and worker name) on the register.
    sweepers = [sender(make_app(settings, date(2026, 3, 11)), worker=f"sweep-{i}") for i in range(2)]
    for s in sweepers:
        set_time(s, at(date(2026, 3, 11)))
    barrier = threading.Barrier(2)
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def one(sweeper: App) -> None:
        try:
            barrier.wait(timeout=10)
            reports.append(messages.sweep(sweeper))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(s,)) for s in sweepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    got = received(mailbox)
    assert len(got) == 3 * len(refs)
    assert len(got) == len(set(got))
    # Each message was queued by one sweep and sent by one sender.
    assert sorted(k for r in reports for k in r.queued) == sorted(m.key for m in queries.outbox(app))
    assert sorted(k for r in reports for k in r.delivery.sent) == sorted(m.key for m in queries.outbox(app, "sent"))
    assert len(queries.outbox(app, "sent")) == 3 * len(refs)


def test_a_crash_after_queuing_and_before_sending_is_delivered_once_by_the_next_sweep(
        app: App, mailbox: LocalOutbox) -> None:
    refer(app)
    # The first sweep queues and dies before delivering (no dispatcher reached).
    with pytest.raises(Killed):
        run_sweep(killed_before_delivering(app), date(2026, 3, 11))
    queued = queries.outbox(app, "pending")
    assert len(queued) == 3 and all(m.attempts == 0 for m in queued) and mailbox.messages() == []
    first = run_sweep(app, date(2026, 3, 11), hour=9)
    assert first.queued == [] and sorted(first.delivery.sent) == sorted(m.key for m in queued)
    second = run_sweep(app, date(2026, 3, 11), hour=10)
    assert second.queued == [] and second.delivery.sent == []
    assert len(mailbox.messages()) == 3


def test_a_crash_while_sending_is_retried_after_the_lease_and_sent_once(app: App, mailbox: LocalOutbox) -> None:
    refer(app)

    class Dies:
        def send(self, *, role: str, message: RenderedMessage, to: str | None = None) -> None:
            raise Killed("killed mid-send")  # the process is killed mid-send

    with pytest.raises(Killed):
        run_sweep(sender(app, Dies()), date(2026, 3, 11))
    assert mailbox.messages() == []
    # Within the lease nobody else takes the claimed messages...
    other = sender(app, worker="b")
    set_time(app, at(date(2026, 3, 11)) + LEASE / 2)
    soon = messages.deliver(other)
    assert soon.sent == [] and soon.failed == {}
    # ...after it, the next delivery sends each once.
    set_time(app, at(date(2026, 3, 11)) + LEASE * 2)
    later = messages.deliver(other)
    assert len(later.sent) == 3
    assert len(mailbox.messages()) == 3
    assert [(m.status, m.attempts) for m in queries.outbox(app)] == [("sent", 1)] * 3


def test_a_dry_run_queues_and_sends_nothing(app: App, mailbox: LocalOutbox) -> None:
    refer(app)
    set_time(app, at(date(2026, 3, 3)))
    report = messages.sweep(app, as_of=date(2026, 3, 11), dry_run=True)
    assert report.today == date(2026, 3, 11) and report.working_day
    assert len(report.due) == 3 and report.queued == [] and report.delivery.sent == []
    assert all(k.startswith(f"{report.due[0].split(':')[0]}:serious_incident_notification:") for k in report.due)
    assert queries.outbox(app) == [] and mailbox.messages() == []
    # The same day swept for real queues exactly what the dry run said was due.
    assert sorted(messages.sweep(app, as_of=date(2026, 3, 11)).queued) == sorted(report.due)


def test_a_message_for_an_agency_with_no_address_goes_to_the_business_unit(app: App, mailbox: LocalOutbox) -> None:
    ref = refer(app)
    assert app.config.unrouted_fallback_role == "business_unit"
    set_time(app, at(date(2026, 3, 11)))
    notice = Notice(key=f"{ref}:t:agency-unknown", kind="reminder", role="agency-unknown", step="Agency report",
                    due=date(2026, 4, 1))
    with app.uow() as uow:
        assert messages.queue(uow, app, ref, [notice], None, app.clock.now()) == [notice.key]
        uow.commit()
    report = messages.deliver(app)
    assert report.failed == {} and report.sent == [notice.key]
    assert [to for to, _ in received(mailbox)] == ["business_unit@partnership.test"]


def test_a_whole_lcspr_swept_every_day_sends_nothing_twice_and_nothing_after_a_clock_is_met(
        app: App, settings: Settings, mailbox: LocalOutbox) -> None:
    """Referral to closure over eight months, a sweep every day: each clock's messages stop once it is met."""
    from tests.flows.answers import FULL_LCSPR  # the same answers the flow tests give

    ref = refer(app)
    # As the full LCSPR of the flow tests, but publication stays deferred for six weeks past
    # its review date (criminal proceedings ran on), so the deferral review escalates.
    late = {"publication-2": "2026-10-15", "action-1": "2026-10-16", "action-2": "2026-10-16",
            "action-update-1": "2026-10-20", "action-update-2": "2026-10-22"}
    pending = [(key, {**answer, "decided_on": late.get(key, answer["decided_on"])}) for key, answer in FULL_LCSPR]
    opened_on: dict[str, date] = {}  # the day each step after the first was opened by an answer
    day = date(2026, 3, 2)
    while day <= date(2026, 11, 20):
        while pending and date.fromisoformat(pending[0][1]["decided_on"]) == day:
            key, answer = pending.pop(0)
            set_time(app, at(day, 7))
            outcome = answers.record_answer(app, ref, key, answer)
            assert outcome.accepted, (key, outcome.reason)
            if outcome.next_step is not None:
                opened_on[outcome.next_step.key] = day
        run_sweep(app, day)
        day += timedelta(days=1)
    assert pending == []

    sent = queries.outbox(app, "sent")
    assert queries.outbox(app, "pending") == []
    assert len(mailbox.messages()) == len(sent)
    assert len({m.key for m in sent}) == len(sent)
    assert all(m.sent_at is not None for m in sent)
    sent_on = {m.key: m.sent_at.date() for m in sent if m.sent_at is not None}
    with app.uow() as uow:
        review = reviews.rebuild(app, uow.reviews.get(ref))
    for clock in review.clocks:
        finished = clock.met_on or clock.stopped_on
        after = [m for m in sent if m.key.startswith(f"{ref}:{clock.key}:") and finished
                 and sent_on[m.key] > finished]
        assert after == [], f"{clock.key} kept sending after it was met on {finished}"
    # Every step an answer opened was announced to whoever owes it, on the morning it opened, once;
    # and the business unit got the two statutory messages when their steps opened.
    # Each agency is asked for its report once (one key per agency), when the first agency step opened.
    announced = {m.key.split(":")[2]: sent_on[m.key] for m in sent if m.key.startswith(f"{ref}:step:")}
    assert announced == {k: d for k, d in opened_on.items() if not k.startswith("agency-report-")} | {
        "agency-report": opened_on["agency-report-1"]}
    assert list(opened_on) == [key for key, _ in FULL_LCSPR[1:]]
    statutory = {m.key: (m.role, sent_on[m.key]) for m in sent if m.key.startswith(f"{ref}:statutory:")}
    assert statutory == {
        f"{ref}:statutory:inform_bodies:business_unit": ("business_unit", opened_on["inform-bodies-1"]),
        f"{ref}:statutory:final_report_to_bodies:business_unit": ("business_unit", opened_on["final-report-sent-1"]),
    }
    clock_messages = [m for m in sent if not m.key.startswith((f"{ref}:step:", f"{ref}:statutory:"))]
    # Steps answered on time got their reminders and nothing more.
    on_time = [m.key.removeprefix(f"{ref}:") for m in clock_messages if ":deferral_review:" not in m.key]
    assert on_time and all(":reminder:before-" in k for k in on_time), on_time
    # The local targets (issue 13) are swept like the statutory clocks. Each started the day its step
    # opened and was met the day it was answered, all within target here; the one message they add is
    # the Chair's 5-working-day reminder (decision expected Tue 7 Apr after Easter, taken on Wed 1 Apr).
    targets = [c for c in review.clocks if c.kind.is_local_target]
    assert len(targets) == 9 and all(c.met_on is not None and c.stopped_on is None for c in targets)
    step_of = {"chair_decision_target": "chair-decision-1", "author_appointment_target": "author-appointment-1",
               "terms_of_reference_target": "terms-of-reference-1", "engagement_target": "engagement-1",
               "draft_circulation_target:round-1": "draft-circulated-1",
               "draft_circulation_target:round-2": "draft-circulated-2", "final_report_target": "final-report-1",
               "action_plan_target": "action-1", "closure_target": "closure-1"}
    assert {c.key: c.start for c in targets} == {key: opened_on[step] for key, step in step_of.items()}
    target_messages = [(sent_on[m.key], m.key.removeprefix(f"{ref}:")) for m in clock_messages if "_target:" in m.key]
    assert target_messages == [(date(2026, 3, 27), "chair_decision_target:reminder:before-5:independent_chair")]
    # The deferral review fell due on Tue 1 Sep (Mon 31 Aug is a bank holiday) and was answered on 15 Oct:
    # the sub group heard every working day overdue; the ladder climbed and repeated every 5 working days.
    deferral = [(sent_on[m.key], m.key.split(":", 3)[3]) for m in clock_messages if ":deferral_review:" in m.key]
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
    deferred = [m for m in clock_messages
                if date(2026, 8, 3) < sent_on[m.key] < date(2026, 10, 15) and ":publication:" in m.key]
    assert deferred == []
    for message in mailbox.messages():
        text = body(message)
        assert CANARY_PSEUDONYM not in text and "CANARYOUTLINE" not in text


def test_delivery_works_through_the_outbox_in_small_batches(app: App, mailbox: LocalOutbox) -> None:
    for i in range(3):
        refer(app, f"BATCH-{i}")
    with pytest.raises(Killed):  # the sweep queues, then its process dies before delivering
        run_sweep(killed_before_delivering(app), date(2026, 3, 11))
    queued = [m.key for m in queries.outbox(app, "pending")]
    assert len(queued) == 9
    report = messages.deliver(app, batch=2)
    assert report.sent == queued and len(mailbox.messages()) == 9
    assert queries.outbox(app, "pending") == []
