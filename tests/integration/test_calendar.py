"""Due dates in calendars: ``lcspr calendar`` on the register, and the .ics a step-opened email
carries through real SMTP to the local outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from icalendar import Calendar

from lcspr.cli import main
from lcspr.settings import Settings
from models.reminders import Role
from notifications.dispatch import AppriseDispatcher, write_local_config
from notifications.local_smtp import LocalOutbox
from notifications.render import RenderedMessage
from services import answers, messages, referrals, reviews
from services.app import App
from tests.conftest import make_referral
from tests.fakes import FrozenClock
from tests.flows import answers as A

FIRST, SECOND = "LCSPR-2026-0001", "LCSPR-2026-0002"


@pytest.fixture
def lcspr(settings: Settings, app: App) -> Callable[[list[str]], int]:
    """``lcspr ARGS`` in this process, on the test's settings and App."""
    return lambda args: main(args, settings=settings, app=lambda _: app)


@pytest.fixture
def mailbox(settings: Settings) -> Iterator[LocalOutbox]:
    """The local SMTP outbox, with every role of the Apprise config pointed at it."""
    with LocalOutbox(settings.home / "mail") as box:
        addresses = {r.value: f"{r.value}@p.test" for r in Role}
        addresses["agency-thames-valley-police"] = "police@p.test"
        write_local_config(settings.apprise_config_path, smtp_host="127.0.0.1", smtp_port=box.port,
                           addresses=addresses, sender="lcspr@p.test")
        yield box


def answer(app: App, reference: str, key: str, payload: dict[str, object]) -> None:
    """Record an answer on the day it says it was decided."""
    assert isinstance(app.clock, FrozenClock)
    app.clock.set(date.fromisoformat(str(payload["decided_on"])))
    assert answers.record_answer(app, reference, key, payload).accepted


def two_reviews(app: App) -> None:
    """LCSPR-2026-0001 waits on the serious incident notification (due 2026-03-10); LCSPR-2026-0002,
    decided on as an LCSPR, waits on informing the national bodies, its publication clock counting."""
    referrals.register_referral(app, make_referral(agency_reference="POL-1"))
    referrals.register_referral(app, make_referral(agency_reference="POL-2"))
    referrals.attach_run(app, FIRST, "run-1")
    referrals.attach_run(app, SECOND, "run-2")
    for key, payload in [("notification-1", A.NOTIFIED), ("rapid-review-1", A.RAPID_REVIEW),
                         ("chair-decision-1", A.LCSPR)]:
        answer(app, SECOND, key, payload)


def events(ics: str) -> dict[str, tuple[date, str, str]]:
    """UID -> (date, summary, description) of each event of a calendar that must parse."""
    calendar = Calendar.from_ical(ics)
    assert str(calendar["method"]) == "PUBLISH"
    return {str(e["uid"]): (e.decoded("dtstart"), str(e["summary"]), str(e["description"]))
            for e in calendar.walk("VEVENT")}


def test_the_calendar_lists_each_open_step_and_running_clock_once_with_a_link_and_no_pseudonym(
    app: App, lcspr: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    two_reviews(app)

    assert lcspr(["calendar"]) == 0
    ics = capsys.readouterr().out

    found = events(ics)
    assert {uid: (day, summary) for uid, (day, summary, _) in found.items()} == {
        f"{FIRST}-serious_incident_notification@lcspr":
            (date(2026, 3, 10), f"{FIRST}: Serious incident notification due (Business unit)"),
        f"{SECOND}-inform_bodies@lcspr":
            (date(2026, 4, 10), f"{SECOND}: Inform DfE, Ofsted and the National Panel due (Business unit)"),
        f"{SECOND}-publication@lcspr":
            (date(2026, 10, 1),
             f"{SECOND}: Publication within 6 calendar months of the decision due (Safeguarding partners)"),
    }
    assert app.config.run_link("run-1") in found[f"{FIRST}-serious_incident_notification@lcspr"][2]
    assert app.config.run_link("run-2") in found[f"{SECOND}-publication@lcspr"][2]
    assert "Child A" not in ics
    assert "\r\n" in ics  # RFC 5545 line ends


def test_the_calendar_of_one_review_written_to_a_file(
    app: App, lcspr: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    two_reviews(app)
    path = tmp_path / "due.ics"

    assert lcspr(["calendar", SECOND.lower(), "--output", str(path)]) == 0

    assert capsys.readouterr().out.strip() == f"Wrote 2 due dates to {path}."
    assert sorted(events(path.read_text(encoding="utf-8"))) == [
        f"{SECOND}-inform_bodies@lcspr", f"{SECOND}-publication@lcspr"]
    assert list(tmp_path.glob(".*.part")) == []


def test_the_calendar_of_an_unknown_review_is_refused(
    app: App, lcspr: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert lcspr(["calendar", "LCSPR-2026-0404"]) == 2
    assert capsys.readouterr().out == ""


def _calendar_parts(mail: EmailMessage) -> list[str]:
    return [part.get_content() for part in mail.walk() if part.get_content_type() == "text/calendar"]


def test_a_step_opened_email_carries_the_steps_due_date_as_a_calendar_attachment(
    app: App, mailbox: LocalOutbox
) -> None:
    referrals.register_referral(app, make_referral())
    referrals.attach_run(app, FIRST, "run-1")

    assert messages.deliver(app).sent == [f"{FIRST}:step:notification-1:business_unit"]

    [mail] = mailbox.messages()
    assert mail.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["multipart/alternative", "text/calendar"]
    [attachment] = [p for p in mail.iter_parts() if p.get_content_type() == "text/calendar"]
    assert (attachment.get_content_disposition(), attachment.get_param("method")) == ("attachment", "PUBLISH")
    assert attachment.get_filename() == "due-date.ics"
    [ics] = _calendar_parts(mail)
    found = events(ics)
    assert list(found) == [f"{FIRST}-serious_incident_notification@lcspr"]
    day, summary, description = found[f"{FIRST}-serious_incident_notification@lcspr"]
    assert day == date(2026, 3, 10)
    assert summary == f"{FIRST}: Serious incident notification due (Business unit)"
    assert app.config.run_link("run-1") in description
    body = mail.get_body(("plain",))
    assert body is not None and app.config.run_link("run-1") in body.get_content()


def test_a_step_timed_by_a_local_target_sends_its_target_as_a_calendar_event(app: App, mailbox: LocalOutbox) -> None:
    referrals.register_referral(app, make_referral())
    referrals.attach_run(app, FIRST, "run-1")
    answer(app, FIRST, "notification-1", A.NOTIFIED)
    answer(app, FIRST, "rapid-review-1", A.RAPID_REVIEW)  # opens the Chair's decision: a local target

    messages.deliver(app)

    to = {str(m["To"]): m for m in mailbox.messages()}  # each step is asked of one role here
    # 10 working days from Fri 20 Mar 2026, Good Friday and Easter Monday skipped.
    [ics] = _calendar_parts(to["independent_chair@p.test"])
    assert {uid: day for uid, (day, _, _) in events(ics).items()} == {
        f"{FIRST}-chair_decision_target@lcspr": date(2026, 4, 7)}
    [ics] = _calendar_parts(to["safeguarding_partners@p.test"])
    assert [day for day, _, _ in events(ics).values()] == [date(2026, 3, 26)]


def test_a_step_with_no_due_date_sends_its_email_without_a_calendar(app: App, mailbox: LocalOutbox) -> None:
    """Every step the lifecycle opens has a due date (a statutory clock or a local target), so the
    step without one is made here by hand."""
    referrals.register_referral(app, make_referral())
    referrals.attach_run(app, FIRST, "run-1")
    messages.deliver(app)
    with app.uow() as uow:
        step = reviews.current_step(uow, app, FIRST)
        assert step is not None
        undated = replace(step, key="notification-1-retry-2", attempt=2, due=None, clock_key="")
        messages.queue_step_opened(uow, app, FIRST, undated, "run-1", app.clock.now())
        uow.commit()

    assert messages.deliver(app).sent == [f"{FIRST}:step:notification-1-retry-2:business_unit"]

    undated_mail = mailbox.messages()[-1]
    assert undated_mail.get_content_type() == "multipart/alternative"
    assert _calendar_parts(undated_mail) == []


def test_an_email_url_asking_for_plain_text_gets_the_text_and_the_calendar(tmp_path: Path) -> None:
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n"
    with LocalOutbox(tmp_path / "box") as box:
        config = tmp_path / "apprise.yml"
        config.write_text(f'version: 1\nurls:\n  - "mailto://127.0.0.1:{box.port}?from=x%40p.test&to=bu%40p.test'
                          '&format=text":\n      - tag: business_unit\n')
        message = RenderedMessage("Subject", "Text.\n", "<p>Text.</p>\n", ics=ics)

        AppriseDispatcher(config, environ={}).send(role="business_unit", message=message)

        [mail] = box.messages()
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/calendar"]
    [attached] = _calendar_parts(mail)
    assert attached == ics  # base64: the CRLF line ends arrive as sent
