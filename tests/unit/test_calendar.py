"""Due dates as iCalendar: what an event says, its stable UID, its reminder, and the step-opened attachment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar

from models.clocks import DEFAULT_RULES, Clock, ClockKind
from models.workdays import WorkingCalendar
from notifications.calendar import DueDate, clock_due_date, event_uid, role_words, to_ics
from services import answers, messages, queries, referrals
from tests.conftest import make_referral
from tests.fakes import FakeDispatcher, FrozenClock, fake_app
from tests.flows import answers as A

REF = "LCSPR-2026-0001"
LINK = "http://127.0.0.1:4200/v2/runs/flow-run/run-1"
STAMP = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def parsed(ics: str) -> Calendar:
    return Calendar.from_ical(ics)


def test_a_due_date_is_one_all_day_event_that_says_what_is_due_of_whom_and_links_to_the_run() -> None:
    due = DueDate(REF, "rapid_review", date(2026, 3, 26), "Rapid Review outcome", ("safeguarding_partners",), LINK,
                  date(2026, 3, 25))

    calendar = parsed(to_ics([due], stamp=STAMP, name="LCSPR due dates"))

    assert (str(calendar["method"]), str(calendar["version"])) == ("PUBLISH", "2.0")
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]) == "LCSPR-2026-0001-rapid_review@lcspr"
    assert str(event["summary"]) == "LCSPR-2026-0001: Rapid Review outcome due (Safeguarding partners)"
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (date(2026, 3, 26), date(2026, 3, 27))
    assert event.decoded("dtstamp") == STAMP
    assert LINK in str(event["description"]) and str(event["url"]) == LINK


def test_the_reminder_goes_off_at_nine_on_the_working_day_before_even_across_easter() -> None:
    cal = WorkingCalendar()
    clock = Clock(kind=ClockKind.AGENCY_REPORT, start=date(2026, 3, 6), rule=DEFAULT_RULES[ClockKind.AGENCY_REPORT],
                  subject="Thames Valley Police", owner_role="agency-thames-valley-police")
    due = clock_due_date(REF, clock, link=LINK, calendar=cal)
    assert due.due == date(2026, 4, 7)  # the Tuesday after Easter Monday
    assert due.remind_on == date(2026, 4, 2)  # Good Friday and Easter Monday are bank holidays

    [event] = parsed(to_ics([due], stamp=STAMP)).walk("VEVENT")
    [alarm] = event.walk("VALARM")
    assert datetime.combine(due.due, datetime.min.time()) + alarm.decoded("trigger") == datetime(2026, 4, 2, 9, 0)
    assert str(event["summary"]) == (
        "LCSPR-2026-0001: Agency report or chronology (Thames Valley Police) due (Thames Valley Police)")


def test_a_uid_is_one_plain_token_whatever_the_clock_key_holds() -> None:
    assert event_uid(REF, "agency_report:Thames Valley Police") == (
        "LCSPR-2026-0001-agency_report-thames-valley-police@lcspr")
    assert event_uid(REF, "draft_round:round-2") == "LCSPR-2026-0001-draft_round-round-2@lcspr"


def test_roles_read_as_words_and_agencies_by_their_name() -> None:
    assert role_words("safeguarding_partners") == "Safeguarding partners"
    assert role_words("agency-thames-valley-police") == "Thames Valley Police"


def test_the_events_come_in_date_order_and_a_rerun_gives_the_same_uids() -> None:
    later = DueDate(REF, "publication", date(2026, 10, 1), "Publication", ("safeguarding_partners",), LINK)
    sooner = DueDate("LCSPR-2026-0002", "rapid_review", date(2026, 3, 26), "Rapid Review outcome",
                     ("safeguarding_partners",), LINK)

    first = [str(e["uid"]) for e in parsed(to_ics([later, sooner], stamp=STAMP)).walk("VEVENT")]
    again = [str(e["uid"]) for e in parsed(to_ics([sooner, later], stamp=STAMP + timedelta(days=1))).walk("VEVENT")]

    assert first == again == ["LCSPR-2026-0002-rapid_review@lcspr", "LCSPR-2026-0001-publication@lcspr"]


def test_a_step_opened_email_carries_its_due_date_as_the_same_event_the_calendar_command_writes() -> None:
    mail = FakeDispatcher()
    app = fake_app(date(2026, 3, 3), dispatcher=mail)
    referrals.register_referral(app, make_referral())
    referrals.attach_run(app, REF, "run-1")

    messages.deliver(app)

    [(role, message)] = mail.sent
    assert role == "business_unit" and message.ics is not None
    [event] = parsed(message.ics).walk("VEVENT")
    [listed] = queries.due_dates(app)
    assert (str(event["uid"]), event.decoded("dtstart"), str(event["summary"])) == (
        listed.uid, date(2026, 3, 10), listed.summary)
    assert "Child A" not in message.ics


def test_a_message_forwarded_to_the_business_unit_keeps_its_attachment() -> None:
    mail = FakeDispatcher(roles={"business_unit"})  # nobody is configured for the safeguarding partners
    app = fake_app(date(2026, 3, 3), dispatcher=mail)
    referrals.register_referral(app, make_referral())
    referrals.attach_run(app, REF, "run-1")
    messages.deliver(app)
    assert isinstance(app.clock, FrozenClock)

    app.clock.set(date(2026, 3, 5))
    answers.record_answer(app, REF, "notification-1", A.NOTIFIED)
    messages.deliver(app)

    role, forwarded = mail.sent[-1]
    assert role == "business_unit" and "rapid" in forwarded.subject.lower()
    assert forwarded.ics is not None
    [event] = parsed(forwarded.ics).walk("VEVENT")
    assert str(event["uid"]) == "LCSPR-2026-0001-rapid_review@lcspr"
