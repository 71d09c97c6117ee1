"""Meetings and events (``lcspr meeting``) on the real register, with Apprise sending to a local SMTP server:
the invitation arrives as one Outlook accepts (text/calendar; method=REQUEST, and invite.ics), a move sends the
update with SEQUENCE 1, the sweep reminds each invitee the working day before, a cancellation sends METHOD:CANCEL,
and attendance is recorded and kept in the review's verified audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from icalendar import Calendar

from lcspr.cli import main
from lcspr.settings import Settings
from notifications.local_smtp import LocalOutbox
from services import messages, queries, referrals
from services.app import App
from tests.conftest import make_app, make_referral, routed_mailbox

INVITED = ("panel_chair", "panel", "author")


@pytest.fixture
def mailbox(settings: Settings) -> Iterator[LocalOutbox]:
    with routed_mailbox(settings) as box:
        yield box


@pytest.fixture
def app(settings: Settings) -> App:
    # Friday 20 March 2026, before the clocks go forward on Sunday 29 March.
    return make_app(settings, today=date(2026, 3, 20))


@pytest.fixture
def lcspr(settings: Settings, app: App) -> Callable[..., int]:
    def run(*args: str) -> int:
        return main(list(args), settings=settings, app=lambda _: app)

    return run


@pytest.fixture
def reference(app: App) -> str:
    return referrals.register_referral(app, make_referral(la_aware_date=date(2026, 3, 19))).reference


def _meeting_mails(box: LocalOutbox, word: str) -> list[EmailMessage]:
    return [m for m in box.messages() if f"] {word}: " in str(m["Subject"])]


def _calendar_of(mail: EmailMessage) -> tuple[Any, Any, Calendar]:
    """The mail's inline text/calendar part, its invite.ics attachment, and the calendar parsed."""
    [inline] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    [attached] = [p for p in mail.walk() if p.get_filename() == "invite.ics"]
    assert inline.get_content_disposition() is None  # in the body, as Outlook looks for it
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_content() == inline.get_content().encode("utf-8")
    return inline, attached, Calendar.from_ical(inline.get_content())


def test_an_invitation_arrives_as_a_meeting_request_and_a_move_sends_the_update(
        app: App, lcspr: Callable[..., int], reference: str, mailbox: LocalOutbox,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert lcspr("meeting", "schedule", reference, "--kind", "panel_meeting", "--on", "2026-03-30", "--at", "10:00",
                 "--minutes", "90", "--where", "Teams", "--invite", ",".join(INVITED), "--by",
                 "A. Jones, Manager") == 0
    out = capsys.readouterr().out
    assert f"{reference}: meeting 1, panel meeting, Monday 30 March 2026, 10:00 to 11:30 (UK time), at Teams." in out
    assert "Invitations sent to 3 of 3 roles (panel_chair, panel, author)." in out

    invitations = _meeting_mails(mailbox, "Invitation")
    assert sorted(str(m["To"]) for m in invitations) == sorted(f"{r}@partnership.test" for r in INVITED)
    for mail in invitations:
        assert mail.get_content_type() == "multipart/mixed"
        inline, _, cal = _calendar_of(mail)
        assert inline.get_param("method") == "REQUEST"
        assert str(cal["method"]) == "REQUEST"
        [event] = cal.walk("VEVENT")
        assert str(event["uid"]) == f"{reference}-meeting-1@lcspr"
        assert event.decoded("sequence") == 0
        assert event["dtstart"].params["TZID"] == "Europe/London"
        assert event.decoded("dtstart").astimezone(UTC) == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # 10:00 BST
        assert cal.walk("VTIMEZONE")
        assert str(event["organizer"]) == "mailto:business_unit@partnership.test"
        assert sorted(str(a) for a in event["attendee"]) == sorted(f"mailto:{r}@partnership.test" for r in INVITED)
        body = mail.get_body(("plain",))
        assert body is not None and "Where: Teams" in body.get_content()
        assert "Child A" not in mail.as_string()

    # Moved to the Friday before the clocks change: 10:00 is then GMT, 10:00Z.
    assert lcspr("meeting", "move", reference, "1", "--on", "2026-03-27", "--at", "10:00", "--by", "A. Jones") == 0
    assert "Updates sent to 3 of 3 roles" in capsys.readouterr().out
    updates = _meeting_mails(mailbox, "Updated")
    assert len(updates) == 3
    for mail in updates:
        _, _, cal = _calendar_of(mail)
        [event] = cal.walk("VEVENT")
        assert (str(cal["method"]), str(event["uid"]), event.decoded("sequence")) == \
            ("REQUEST", f"{reference}-meeting-1@lcspr", 1)
        assert event.decoded("dtstart").astimezone(UTC) == datetime(2026, 3, 27, 10, 0, tzinfo=UTC)
        assert event.decoded("dtend").astimezone(UTC) == datetime(2026, 3, 27, 11, 30, tzinfo=UTC)

    # Sending again changes nothing: every message is sent, once.
    assert messages.deliver(app).sent == []
    assert len(_meeting_mails(mailbox, "Invitation")) == 3


def test_the_sweep_reminds_the_invitees_the_working_day_before_and_a_cancellation_is_method_cancel(
        app: App, lcspr: Callable[..., int], reference: str, mailbox: LocalOutbox) -> None:
    # Tuesday 31 March 2026 at 14:00; reminded by Monday's sweep, not Friday's.
    assert lcspr("meeting", "schedule", reference, "--kind", "practitioner_event", "--on", "2026-03-31", "--at",
                 "14:00", "--minutes", "120", "--where", "Council offices, Room 2", "--invite",
                 "author,agency-thames-valley-police", "--by", "A. Jones") == 0

    messages.sweep(app, as_of=date(2026, 3, 27))
    assert _meeting_mails(mailbox, "Reminder") == []
    messages.sweep(app, as_of=date(2026, 3, 30))
    messages.sweep(app, as_of=date(2026, 3, 30))  # a second sweep the same day sends nothing again
    reminders = _meeting_mails(mailbox, "Reminder")
    # The agency has no address in the config: the business unit gets its reminder to forward, as any message.
    assert sorted(str(m["To"]) for m in reminders) == ["author@partnership.test", "business_unit@partnership.test"]
    assert {str(m["Subject"]) for m in reminders} == {
        f"[{reference}] Reminder: Practitioner event, Tuesday 31 March 2026, 14:00 to 16:00 (UK time)"}

    assert lcspr("meeting", "cancel", reference, "1", "--by", "B. Smith, Business Unit") == 0
    cancellations = _meeting_mails(mailbox, "Cancelled")
    assert len(cancellations) == 2
    for mail in cancellations:
        inline, _, cal = _calendar_of(mail)
        [event] = cal.walk("VEVENT")
        assert inline.get_param("method") == "CANCEL"
        assert (str(cal["method"]), str(event["status"]), event.decoded("sequence")) == ("CANCEL", "CANCELLED", 1)
    messages.sweep(app, as_of=date(2026, 3, 30))
    assert len(_meeting_mails(mailbox, "Reminder")) == 2  # nothing more for a cancelled meeting


def test_attendance_is_recorded_listed_shown_in_status_and_kept_in_the_verified_audit_trail(
        app: App, lcspr: Callable[..., int], reference: str, mailbox: LocalOutbox,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert lcspr("meeting", "schedule", reference, "--kind", "family_engagement", "--on", "2026-10-26", "--at",
                 "10:00", "--minutes", "60", "--where", "Teams", "--invite", "author,panel_chair", "--by",
                 "A. Jones") == 0
    assert lcspr("meeting", "attendance", reference, "1", "--attended", "author", "--by", "A. Jones") == 2
    assert "attendance is recorded once it has started" in capsys.readouterr().err

    app.clock.set(date(2026, 10, 26))  # 09:00 UTC: 09:00 GMT, before the start
    assert lcspr("meeting", "attendance", reference, "1", "--attended", "author", "--by", "A. Jones") == 2
    app.clock.advance(hours=1)  # 10:00 GMT: started
    assert lcspr("meeting", "attendance", reference, "1", "--attended", "author", "--apologies", "panel_chair",
                 "--outcome", "The family's views were heard; the author will share the summary.",
                 "--by", "A. Jones") == 0
    assert "recorded as held: author attended, panel_chair apologies." in capsys.readouterr().out
    assert lcspr("meeting", "attendance", reference, "1", "--outcome", "Lives at 12 High Street.",
                 "--by", "A. Jones") == 2
    err = capsys.readouterr().err
    assert "street address" in err and "High Street" not in err

    assert lcspr("meeting", "list", reference, "--json") == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["starts_at"] == "2026-10-26T10:00:00+00:00" and listed["state"] == "held"
    assert listed["attendance"] == {"author": "attended", "panel_chair": "apologies"}
    assert lcspr("meeting", "list") == 0 and "family_engagement  Mon 2026-10-26 10:00" in capsys.readouterr().out
    app.clock.set(date(2026, 10, 27))
    assert lcspr("meeting", "list") == 0 and "No meetings from today on." in capsys.readouterr().out
    assert lcspr("meeting", "list", "--all") == 0
    assert reference in capsys.readouterr().out
    assert lcspr("status", reference, "--json") == 0
    assert json.loads(capsys.readouterr().out)["meetings"][0]["outcome"].startswith("The family's views")
    assert lcspr("status", reference) == 0
    shown = capsys.readouterr().out
    assert "\nMeetings (`lcspr meeting list` for more)\n" in shown and "author,panel_chair  held" in shown

    assert queries.verify_audit(app, reference).problems == []
    events = [e.event for e in queries.audit_trail(app, reference)]
    assert events[-2:] == ["meeting_scheduled", "meeting_attendance_recorded"]


def test_refusals_exit_2_with_the_reason_and_write_nothing(
        app: App, lcspr: Callable[..., int], reference: str, mailbox: LocalOutbox,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["meeting", "schedule", reference, "--kind", "panel_meeting", "--on", "2026-03-29", "--minutes", "60",
            "--where", "Teams", "--by", "A. Jones"]
    assert lcspr(*base, "--at", "01:30", "--invite", "panel") == 2
    assert "does not exist in the UK: the clocks go forward" in capsys.readouterr().err
    assert lcspr(*base, "--at", "10:00", "--invite", "chair") == 2
    assert "'chair' is not a role" in capsys.readouterr().err
    assert lcspr(*base, "--at", "25:00", "--invite", "panel") == 2
    assert lcspr("meeting", "schedule", reference, "--kind", "panel_meeting", "--on", "2026-03-19", "--at", "10:00",
                 "--minutes", "60", "--where", "Teams", "--invite", "panel", "--by", "A. Jones") == 2
    assert "which has passed" in capsys.readouterr().err
    assert lcspr("meeting", "cancel", reference, "1", "--by", "A. Jones") == 2
    assert "has no meeting 1" in capsys.readouterr().err
    assert lcspr("meeting", "list", reference) == 0 and "has no meetings" in capsys.readouterr().out
    assert mailbox.messages() == []
