"""The daily digest and where delegated messages go, on the real register, through Apprise to a local SMTP server.

On Wed 25 Nov 2026 the safeguarding partners owe five things on five reviews (two rapid reviews overdue, one due
that day, two due within five working days), and a sixth review's chair decision is five working days overdue,
which escalates to them. With the partners in digest mode they get one email listing the five and the escalation
on its own; without it, six emails.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml

from lcspr.cli import main
from lcspr.settings import Settings
from models.notices import Notice
from models.roles import Role
from models.workdays import WorkingCalendar
from notifications.dispatch import write_local_config
from notifications.local_smtp import LocalOutbox
from services import answers, delegations, messages, queries, referrals
from services.app import App
from services.ports import Dispatcher
from tests.conftest import make_app, make_referral
from tests.flows import answers as A

PARTNERS = Role.SAFEGUARDING_PARTNERS.value
PARTNERS_ADDRESS = f"{PARTNERS}@partnership.test"
ADDRESSES = {r.value: f"{r.value}@partnership.test" for r in Role}
DAY = date(2026, 11, 25)
CANARY_PSEUDONYM = "Child Z"
CANARY_OUTLINE = "CANARYOUTLINE: facts of the case that must never be emailed."


class Killed(BaseException):
    """The process running a sweep is killed (as SIGKILL would, nothing catches it)."""


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[LocalOutbox]:
    with LocalOutbox(tmp_path / "outbox") as box:
        yield box


def app_with(settings: Settings, mailbox: LocalOutbox, digest_roles: list[str]) -> App:
    """The real App on the test's register, every role's mail going to the local SMTP server."""
    write_local_config(settings.apprise_config_path, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                       addresses=ADDRESSES, sender="lcspr@partnership.test")
    return make_app(settings.model_copy(update={"digest_roles": digest_roles}), date(2026, 9, 1))


def on(app: App, day: date, hour: int = 8) -> None:
    app.clock.at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)  # type: ignore[attr-defined]


def owing_five_things(app: App) -> list[str]:
    """The six reviews (references): five whose rapid review the partners owe on ``DAY`` in five ways, and one
    whose chair decision is five working days overdue; every message before ``DAY`` delivered."""
    cal = WorkingCalendar()

    def review(n: int, notified: date, rapid_review: date | None = None) -> str:
        aware = cal.before(notified, 1)
        on(app, aware)
        referral = make_referral(agency_reference=f"DIGEST-{n}", child_pseudonym=CANARY_PSEUDONYM,
                                 outline=CANARY_OUTLINE, la_aware_date=aware, incident_date=aware)
        reference = referrals.register_referral(app, referral).reference
        on(app, notified)
        assert answers.record_answer(app, reference, "notification-1",
                                     {**A.NOTIFIED, "decided_on": notified.isoformat()}).accepted
        if rapid_review:
            on(app, rapid_review)
            assert answers.record_answer(app, reference, "rapid-review-1",
                                         {**A.RAPID_REVIEW, "decided_on": rapid_review.isoformat()}).accepted
        return reference

    # The rapid review is due 15 working days after the notification.
    owed = [review(n, cal.before(due, 15)) for n, due in enumerate(
        [cal.before(DAY, 5), cal.before(DAY, 1), DAY, cal.add(DAY, 2), cal.add(DAY, 3)])]
    # The chair decision's local target: 10 working days from the rapid review, 5 overdue on DAY.
    rapid_review = cal.before(cal.before(DAY, 5), 10)
    escalated = review(5, cal.before(rapid_review, 3), rapid_review)
    on(app, DAY)
    messages.deliver(app)
    return [*owed, escalated]


def mail_since(mailbox: LocalOutbox, seen: int) -> list[EmailMessage]:
    return mailbox.messages()[seen:]


def to(mails: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in mails if str(m["To"]) == address]


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_a_digest_role_owing_five_things_gets_one_email_with_five_items_and_its_escalation_at_once(
        settings: Settings, mailbox: LocalOutbox) -> None:
    app = app_with(settings, mailbox, [PARTNERS])
    references = owing_five_things(app)
    seen = len(mailbox.messages())

    report = messages.sweep(app)

    assert report.digests == [f"digest:{PARTNERS}:2026-11-25"] and report.delivery.failed == {}
    mails = mail_since(mailbox, seen)
    digest, escalation = sorted(to(mails, PARTNERS_ADDRESS), key=lambda m: str(m["Subject"]))
    assert str(digest["Subject"]) == "LCSPR: 5 things due from you (25 Nov 2026)"
    assert str(escalation["Subject"]) == (
        f"[{references[5]}] Escalation: Chair decision (local target: 10 working days) is 5 working days overdue")
    body = text_of(digest)
    for n, (reference, what) in enumerate(zip(references[:5], (
            "5 working days overdue (due 2026-11-18)", "1 working day overdue (due 2026-11-24)",
            "due today, 2026-11-25", "due by 2026-11-27", "due by 2026-11-30"), strict=True), 1):
        assert f"{n}. [{reference}] Rapid review: {what}." in body
    assert body.count("Open the review: ") == 5
    html = digest.get_body(("html",))
    assert html is not None and html.get_content().count("<li>") == 5
    for mail in mails:
        assert CANARY_PSEUDONYM not in mail.as_string() and "CANARYOUTLINE" not in mail.as_string()
    # Roles not in digest mode: one email per message, as before (the Independent Chair: an overdue reminder
    # and an escalation; the business unit manager and the sub group chair: one escalation each).
    assert sorted(str(m["To"]) for m in mails if str(m["To"]) != PARTNERS_ADDRESS) == [
        "business_unit_manager@partnership.test", f"{Role.INDEPENDENT_CHAIR.value}@partnership.test",
        f"{Role.INDEPENDENT_CHAIR.value}@partnership.test", "subgroup_chair@partnership.test"]
    carried = [e for e in queries.outbox(app) if e.role == PARTNERS and e.kind in ("reminder", "due_today", "overdue")]
    assert len(carried) == 5
    assert {(e.status, e.digest_key, e.sent_at is not None) for e in carried} == {
        ("sent", f"digest:{PARTNERS}:2026-11-25", True)}

    again = messages.sweep(app)  # the same day, again: nothing new, nothing sent

    assert (again.queued, again.digests, again.delivery.sent) == ([], [], [])
    assert len(mailbox.messages()) == seen + len(mails)


def test_without_the_digest_the_same_day_sends_the_partners_one_email_per_reminder(
        settings: Settings, mailbox: LocalOutbox) -> None:
    app = app_with(settings, mailbox, [])
    owing_five_things(app)
    seen = len(mailbox.messages())

    report = messages.sweep(app)

    assert report.digests == []
    subjects = sorted(str(m["Subject"]).split("] ", 1)[1][:9] for m in to(mail_since(mailbox, seen), PARTNERS_ADDRESS))
    assert subjects == ["Due today", "Escalatio", "Overdue: ", "Overdue: ", "Reminder:", "Reminder:"]
    assert queries.outbox(app, "held") == []


def test_a_sweep_killed_after_making_the_digest_sends_it_once_with_the_next_sweep(
        settings: Settings, mailbox: LocalOutbox) -> None:
    app = app_with(settings, mailbox, [PARTNERS])
    owing_five_things(app)
    seen = len(mailbox.messages())

    def dies() -> Dispatcher:
        raise Killed("killed before delivering")

    killed = App(config=app.config, clock=app.clock, uow=app.uow, runs=app.runs, dispatcher=dies)
    with pytest.raises(Killed):
        messages.sweep(killed)
    assert [e.key for e in queries.outbox(app, "pending") if e.kind == "digest"] == [f"digest:{PARTNERS}:2026-11-25"]

    report = messages.sweep(app)

    assert report.digests == [] and f"digest:{PARTNERS}:2026-11-25" in report.delivery.sent
    partners = to(mail_since(mailbox, seen), PARTNERS_ADDRESS)
    assert sorted(str(m["Subject"])[:6] for m in partners) == ["LCSPR:", "[LCSPR"]


def test_the_next_days_digest_lists_that_days_reminders_only(settings: Settings, mailbox: LocalOutbox,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    app = app_with(settings, mailbox, [PARTNERS])
    owing_five_things(app)
    messages.sweep(app)
    seen = len(mailbox.messages())
    on(app, date(2026, 11, 26))

    assert main(["sweep"], settings=settings, app=lambda _: app) == 0  # lcspr sweep

    assert "1 daily digest made" in capsys.readouterr().out
    [digest] = [m for m in to(mail_since(mailbox, seen), PARTNERS_ADDRESS) if str(m["Subject"]).startswith("LCSPR:")]
    # Two overdue a day more, one now overdue, one due in a day (before-1), one not current (before-5 was sent).
    assert str(digest["Subject"]) == "LCSPR: 4 things due from you (26 Nov 2026)"


def test_two_sweeps_started_together_send_one_digest_carrying_each_reminder_once(
        settings: Settings, mailbox: LocalOutbox) -> None:
    app = app_with(settings, mailbox, [PARTNERS])
    owing_five_things(app)
    seen = len(mailbox.messages())
    # Two sweeps as two processes would run them: each its own App (and worker name) on the register.
    sweepers = [App(config=replace(app.config, worker=f"sweep-{n}"), clock=app.clock, uow=app.uow, runs=app.runs,
                    dispatcher=app.dispatcher) for n in range(2)]
    barrier = threading.Barrier(2)
    reports: list[messages.SweepReport] = []
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
    assert [k for r in reports for k in r.digests] == [f"digest:{PARTNERS}:2026-11-25"]
    partners = to(mail_since(mailbox, seen), PARTNERS_ADDRESS)
    assert sorted(str(m["Subject"])[:6] for m in partners) == ["LCSPR:", "[LCSPR"]
    assert "5 things" in str(next(m for m in partners if str(m["Subject"]).startswith("LCSPR:"))["Subject"])
    assert {e.status for e in queries.outbox(app)} == {"sent"}


# ---------------------------------------------------------------- delegation


def test_a_digest_for_a_delegated_role_goes_to_the_delegate_and_the_outbox_records_it(
        settings: Settings, mailbox: LocalOutbox, capsys: pytest.CaptureFixture[str]) -> None:
    app = app_with(settings, mailbox, [PARTNERS])
    owing_five_things(app)
    delegations.delegate(app, PARTNERS, "partners.deputy@partnership.test", DAY, date(2026, 11, 27), "Leave",
                         "A. Jones, Partnership Manager")
    seen = len(mailbox.messages())

    messages.sweep(app)

    mails = mail_since(mailbox, seen)
    assert to(mails, PARTNERS_ADDRESS) == []
    digest, _ = sorted(to(mails, "partners.deputy@partnership.test"), key=lambda m: str(m["Subject"]))
    assert str(digest["Subject"]) == "LCSPR: 5 things due from you (25 Nov 2026)"
    assert text_of(digest).startswith("You receive this message for the three safeguarding partners")
    entries = {e.key: e for e in queries.outbox(app)}
    assert entries[f"digest:{PARTNERS}:2026-11-25"].sent_to == "partners.deputy@partnership.test"
    assert {e.sent_to for e in entries.values() if e.digest_key} == {"partners.deputy@partnership.test"}
    assert {e.sent_to for e in entries.values() if e.role == PARTNERS and e.kind == "escalation"} == {
        "partners.deputy@partnership.test"}
    assert {e.sent_to for e in entries.values() if e.role != PARTNERS} == {""}

    assert main(["outbox", "--all"], settings=settings, app=lambda _: app) == 0
    listing = capsys.readouterr().out
    assert "sent to / via" in listing
    assert f"in digest:{PARTNERS}:2026-11-25, to partners.deputy@partnership.test" in listing
    assert main(["outbox", "--all", "--json"], settings=settings, app=lambda _: app) == 0
    assert '"sent_to": "partners.deputy@partnership.test"' in capsys.readouterr().out


def business_unit_only(path: Path, port: int, *, chat_for_chair: bool = False, business_unit: bool = True) -> None:
    """An Apprise config where the sub group chair has no email service (perhaps a chat service only), and the
    business unit's email service has its own sender."""
    urls: list[dict[str, list[dict[str, str]]]] = []
    if business_unit:
        urls.append({f"mailto://127.0.0.1:{port}?from=bu-desk%40partnership.test&to=business_unit%40partnership.test":
                     [{"tag": "business_unit"}]})
    if chat_for_chair:
        # Never reached for a delegate: nothing listens on port 9 (the send would fail, not go elsewhere).
        urls.append({"json://127.0.0.1:9/chair-chat": [{"tag": "subgroup_chair"}]})
    path.write_text(yaml.safe_dump({"version": 1, "urls": urls}), encoding="utf-8")


def queue_for_chair(app: App, key: str) -> str:
    on(app, DAY)
    referral = make_referral(agency_reference=f"CHAIR-{key}", la_aware_date=DAY, incident_date=DAY)
    reference = referrals.register_referral(app, referral).reference
    notice = Notice(key=f"{reference}:{key}", kind="escalation", role=Role.SUBGROUP_CHAIR.value,
                    step="Rapid review", due=DAY, days_overdue=1, escalated_from=PARTNERS)
    with app.uow() as uow:
        assert messages.queue(uow, app, reference, [notice], None, app.clock.now()) == [notice.key]
        uow.commit()
    return notice.key


@pytest.mark.parametrize("chat_for_chair", [False, True])
def test_a_delegated_message_for_a_role_with_no_email_service_goes_to_the_delegate_through_the_business_units(
        settings: Settings, mailbox: LocalOutbox, chat_for_chair: bool) -> None:
    business_unit_only(settings.apprise_config_path, mailbox.port, chat_for_chair=chat_for_chair)
    app = make_app(settings, DAY)
    delegations.delegate(app, Role.SUBGROUP_CHAIR.value, "deputy.chair@partnership.test", DAY, DAY, "Leave",
                         "A. Jones")
    key = queue_for_chair(app, "delegated")

    report = messages.deliver(app)

    assert (report.sent, report.failed) == ([key], {})
    [mail] = mailbox.messages()
    assert (str(mail["To"]), str(mail["From"])) == ("deputy.chair@partnership.test", "bu-desk@partnership.test")
    body = text_of(mail)
    assert body.startswith("You receive this message for the chair of the LCSPR sub group, whose messages come to "
                           "you from 2026-11-25 to 2026-11-25")
    assert "please forward it" not in body  # it reached the person who acts on it
    [entry] = queries.outbox(app, "sent")
    assert entry.sent_to == "deputy.chair@partnership.test"


def test_without_a_delegation_a_message_for_a_role_with_no_address_is_forwarded_and_the_outbox_says_so(
        settings: Settings, mailbox: LocalOutbox) -> None:
    business_unit_only(settings.apprise_config_path, mailbox.port)
    app = make_app(settings, DAY)
    key = queue_for_chair(app, "forwarded")

    assert messages.deliver(app).sent == [key]

    [mail] = mailbox.messages()
    assert str(mail["To"]) == "business_unit@partnership.test"
    assert text_of(mail).startswith("This message is for the chair of the LCSPR sub group, who has no address")
    [entry] = queries.outbox(app, "sent")
    assert entry.sent_to == "business_unit, to forward"


def test_a_delegated_message_with_no_email_service_for_the_role_or_the_business_unit_stays_pending_saying_so(
        settings: Settings, mailbox: LocalOutbox) -> None:
    business_unit_only(settings.apprise_config_path, mailbox.port, chat_for_chair=True, business_unit=False)
    app = make_app(settings, DAY)
    delegations.delegate(app, Role.SUBGROUP_CHAIR.value, "deputy.chair@partnership.test", DAY, DAY, "Leave",
                         "A. Jones")
    key = queue_for_chair(app, "nowhere")

    report = messages.deliver(app)

    assert report.sent == [] and report.failed[key].startswith(
        "No email service is configured for role business_unit")
    [entry] = queries.outbox(app, "pending")
    assert (entry.attempts, entry.sent_to) == (1, "")
    assert mailbox.messages() == []

