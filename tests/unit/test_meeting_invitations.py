"""A meeting's iCalendar invitation, read back with the icalendar library: METHOD, UID, SEQUENCE, the times in
Europe/London across the clock changes with the VTIMEZONE that defines them; and the use cases on fakes that
queue one invitation per invitee role, an update at each move, a cancellation, and a reminder the working day
before."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from models.errors import NotFound, Refused
from models.meetings import LONDON, Meeting, MeetingKind, ends_after, local_start
from notifications.dispatch import calendar_method
from notifications.meeting_calendar import invitation_ics
from services import meetings, messages, referrals
from tests.conftest import make_referral
from tests.fakes import FakeDispatcher, fake_app

STAMP = datetime(2026, 3, 2, 9, tzinfo=UTC)


def meeting(on: date, at: time = time(10), minutes: int = 90, **changes: Any) -> Meeting:
    start = local_start(on, at)
    values: dict[str, Any] = {"reference": "LCSPR-2026-0001", "kind": MeetingKind.PANEL_MEETING, "starts_at": start,
                              "ends_at": ends_after(start, minutes), "location": "Teams",
                              "invitees": ("panel_chair", "panel"), "scheduled_by": "A. Jones", "id": 7}
    return Meeting(**{**values, **changes})


def parsed(ics: str) -> tuple[Calendar, Any]:
    cal = Calendar.from_ical(ics)
    [event] = cal.walk("VEVENT")
    return cal, event


@pytest.mark.parametrize(("on", "utc_hour"), [
    (date(2026, 3, 27), 10),  # Friday, GMT
    (date(2026, 3, 30), 9),   # Monday after the clocks went forward: BST
    (date(2026, 10, 23), 9),  # Friday, BST
    (date(2026, 10, 26), 10),  # Monday after the clocks went back: GMT
    (date(2027, 3, 29), 9),   # Monday after 28 March 2027: BST again
])
def test_the_invitation_carries_the_london_time_and_its_right_instant_across_the_clock_change(on, utc_hour):
    cal, event = parsed(invitation_ics(meeting(on), stamp=STAMP, link="http://ui/v2/runs/flow-run/1"))

    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert event["dtstart"].params["TZID"] == "Europe/London"
    assert start.tzinfo is not None and str(start.tzinfo) == "Europe/London"
    assert (start.hour, start.minute) == (10, 0)
    assert start.astimezone(UTC) == datetime(on.year, on.month, on.day, utc_hour, tzinfo=UTC)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=90)
    # The VTIMEZONE in the file defines Europe/London by itself, and gives the same instant.
    [zone] = cal.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Europe/London"
    own = zone.to_tz()
    assert datetime(on.year, on.month, on.day, 10, tzinfo=own).astimezone(UTC) == start.astimezone(UTC)


def test_an_invitation_is_a_request_with_a_stable_uid_organiser_and_attendees():
    ics = invitation_ics(meeting(date(2026, 3, 30)), stamp=STAMP, link="http://ui/v2/runs/flow-run/1",
                         organizer="business_unit@partnership.test", organizer_name="Test SCP business unit",
                         attendees={"panel_chair": ["chair@partnership.test"],
                                    "panel": ["panel1@partnership.test", "panel2@partnership.test"]})
    cal, event = parsed(ics)

    assert str(cal["method"]) == "REQUEST" and calendar_method(ics) == "REQUEST"
    assert str(event["uid"]) == "LCSPR-2026-0001-meeting-7@lcspr"
    assert event.decoded("sequence") == 0
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["summary"]) == "LCSPR-2026-0001: Panel meeting"
    assert str(event["location"]) == "Teams"
    assert str(event["organizer"]) == "mailto:business_unit@partnership.test"
    assert event["organizer"].params["CN"] == "Test SCP business unit"
    attendees = event["attendee"]
    assert [str(a) for a in attendees] == ["mailto:chair@partnership.test", "mailto:panel1@partnership.test",
                                           "mailto:panel2@partnership.test"]
    assert all(a.params["RSVP"] == "TRUE" and a.params["PARTSTAT"] == "NEEDS-ACTION" for a in attendees)
    assert event.decoded("dtstamp") == STAMP
    assert ics.endswith("\r\n") and "\r\n" in ics


def test_an_update_keeps_the_uid_with_a_higher_sequence_and_a_cancellation_is_method_cancel():
    first = meeting(date(2026, 3, 30))
    moved = meeting(date(2026, 4, 1), time(14), sequence=1)
    cancelled = meeting(date(2026, 4, 1), time(14), sequence=2, cancelled_by="A. Jones")

    _, one = parsed(invitation_ics(first, stamp=STAMP, link=""))
    update_cal, two = parsed(invitation_ics(moved, stamp=STAMP, link=""))
    cancel_cal, three = parsed(invitation_ics(cancelled, stamp=STAMP, link=""))

    assert str(one["uid"]) == str(two["uid"]) == str(three["uid"])
    assert [e.decoded("sequence") for e in (one, two, three)] == [0, 1, 2]
    assert str(update_cal["method"]) == "REQUEST"
    assert str(cancel_cal["method"]) == "CANCEL"
    assert str(three["status"]) == "CANCELLED"
    assert "url" not in one  # no link, no URL


def test_the_invitation_says_nothing_of_the_child_or_the_case():
    ics = invitation_ics(meeting(date(2026, 3, 30)), stamp=STAMP, link="http://ui/v2/runs/flow-run/1")
    _, event = parsed(ics)
    assert str(event["description"]) == (
        "Panel meeting of review LCSPR-2026-0001, Monday 30 March 2026, 10:00 to 11:30 (UK time), at Teams.\n"
        "Invited: Panel chair, Panel.\nThe review: http://ui/v2/runs/flow-run/1")


def test_a_meeting_the_register_does_not_hold_yet_has_no_invitation():
    with pytest.raises(ValueError, match="once the register holds it"):
        invitation_ics(meeting(date(2026, 3, 30), id=None), stamp=STAMP, link="")


# ---------------------------------------------------------------- the use cases, on fakes


def _review(today: date = date(2026, 3, 3), dispatcher: FakeDispatcher | None = None) -> tuple[Any, str]:
    app = fake_app(today, dispatcher=dispatcher)
    reference = referrals.register_referral(app, make_referral()).reference
    return app, reference


def _outbox(app: Any) -> dict[str, Any]:
    with app.uow() as uow:
        return {m.key: m for m in uow.outbox.messages()}


def _ics(app: Any, key: str) -> str:
    """The iCalendar queued with a message (the fake outbox keeps it with the message's claim)."""
    ics: str = app.uow.state.outbox[key].claim.ics
    return ics


def test_scheduling_queues_one_invitation_per_role_with_the_calendar_and_moving_one_update_each():
    app, reference = _review()
    made = meetings.schedule(app, reference, "panel_meeting", date(2026, 3, 30), time(10), 90, " Teams ",
                             ["panel_chair", "panel"], "A. Jones")
    assert (made.id, made.sequence, made.location) == (1, 0, "Teams")

    queued = _outbox(app)
    assert sorted(queued) == [f"{reference}:meeting-1:seq-0:panel", f"{reference}:meeting-1:seq-0:panel_chair"]
    first = queued[f"{reference}:meeting-1:seq-0:panel"]
    assert first.kind == "meeting_invitation"
    assert first.subject == f"[{reference}] Invitation: Panel meeting, Monday 30 March 2026, 10:00 to 11:30 (UK time)"

    moved = meetings.move(app, reference, 1, date(2026, 3, 31), time(14), None, None, "A. Jones")
    assert (moved.sequence, moved.minutes) == (1, 90)
    updates = {k: m for k, m in _outbox(app).items() if ":seq-1:" in k}
    assert {m.kind for m in updates.values()} == {"meeting_update"}
    assert len(updates) == 2

    sent = messages.deliver(app)
    assert len(sent.sent) == 4 and sent.failed == {}
    dispatcher = app.dispatcher()
    calendars = [Calendar.from_ical(m.ics) for _, m in dispatcher.sent]
    assert sorted(c.walk("VEVENT")[0].decoded("sequence") for c in calendars) == [0, 0, 1, 1]
    update = next(c for c in calendars if c.walk("VEVENT")[0].decoded("sequence") == 1)
    assert str(update.walk("VEVENT")[0]["organizer"]) == "mailto:business_unit@partnership.test"
    for _, message in dispatcher.sent:
        for part in (message.subject, message.text, message.html, message.ics or ""):
            assert "Child A" not in part

    trail = [e.event for e in app.uow.state.reviews[reference].audit]
    assert trail[-2:] == ["meeting_scheduled", "meeting_moved"]


def test_a_cancellation_is_queued_to_every_invitee_and_a_second_one_is_refused():
    app, reference = _review()
    meetings.schedule(app, reference, "practitioner_event", date(2026, 3, 30), time(10), 120, "Council offices",
                      ["author", "agency-thames-valley-police"], "A. Jones")
    done = meetings.cancel(app, reference, 1, "A. Jones")
    assert done.sequence == 1
    cancels = {k: m for k, m in _outbox(app).items() if ":seq-1:" in k}
    assert [m.kind for m in cancels.values()] == ["meeting_cancelled", "meeting_cancelled"]
    assert all(Calendar.from_ical(_ics(app, k))["method"] == "CANCEL" for k in cancels)
    with pytest.raises(Refused, match="cancelled again"):
        meetings.cancel(app, reference, 1, "A. Jones")
    assert meetings.meetings(app) == []  # cancelled: not among the meetings to come
    assert [m.cancelled_by for m in meetings.meetings(app, reference)] == ["A. Jones"]


def test_an_invitation_without_a_readable_notification_config_still_carries_the_time_and_waits_to_be_sent():
    dispatcher = FakeDispatcher()
    app, reference = _review(dispatcher=dispatcher)
    dispatcher.down = True
    meetings.schedule(app, reference, "panel_meeting", date(2026, 3, 30), time(10), 60, "Teams", ["panel"], "A. Jones")
    [key] = _outbox(app)
    event = Calendar.from_ical(_ics(app, key)).walk("VEVENT")[0]
    assert "organizer" not in event and "attendee" not in event
    assert event.decoded("dtstart").astimezone(UTC) == datetime(2026, 3, 30, 9, tzinfo=UTC)


def test_a_meeting_of_an_unknown_review_or_of_an_unknown_kind_is_refused():
    app, reference = _review()
    with pytest.raises(NotFound):
        meetings.schedule(app, "LCSPR-2026-9999", "panel_meeting", date(2026, 3, 30), time(10), 60, "Teams",
                          ["panel"], "A. Jones")
    with pytest.raises(Refused, match="'board' is not a kind of meeting"):
        meetings.schedule(app, reference, "board", date(2026, 3, 30), time(10), 60, "Teams", ["panel"], "A. Jones")
    with pytest.raises(NotFound, match="has no meeting 3"):
        meetings.cancel(app, reference, 3, "A. Jones")
    assert _outbox(app) == {}


def test_the_sweep_reminds_each_invitee_the_working_day_before_once():
    app, reference = _review(today=date(2026, 3, 20))
    meetings.schedule(app, reference, "panel_meeting", date(2026, 3, 30), time(10), 60, "Teams",
                      ["panel_chair", "panel"], "A. Jones")
    meetings.schedule(app, reference, "family_engagement", date(2026, 3, 31), time(10), 60, "Teams", ["author"],
                      "A. Jones")

    def reminders() -> list[str]:
        return sorted(k for k in _outbox(app) if ":reminder-" in k)

    assert meetings.queue_reminders(app, date(2026, 3, 26)) == []  # Thursday: nothing by Friday
    assert reminders() == []
    # Friday 27 March: Monday's meeting (the day before, in working days), not Tuesday's.
    new = meetings.queue_reminders(app, date(2026, 3, 27))
    assert sorted(new) == [f"{reference}:meeting-1:reminder-2026-03-30:panel",
                           f"{reference}:meeting-1:reminder-2026-03-30:panel_chair"]
    assert meetings.queue_reminders(app, date(2026, 3, 27)) == []  # once
    assert meetings.queue_reminders(app, date(2026, 3, 30)) == [f"{reference}:meeting-2:reminder-2026-03-31:author"]
    message = _outbox(app)[f"{reference}:meeting-2:reminder-2026-03-31:author"]
    assert message.kind == "meeting_reminder"
    assert message.subject == (f"[{reference}] Reminder: Family engagement meeting, Tuesday 31 March 2026, "
                               "10:00 to 11:00 (UK time)")


def test_attendance_is_recorded_and_audited_once_the_meeting_has_started():
    app, reference = _review()
    meetings.schedule(app, reference, "panel_meeting", date(2026, 3, 30), time(10), 60, "Teams",
                      ["panel_chair", "panel", "author"], "A. Jones")
    with pytest.raises(Refused, match="once it has started"):
        meetings.record_attendance(app, reference, 1, ["panel"], [], "", "A. Jones")
    app.clock.at = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # 10:00 BST
    held = meetings.record_attendance(app, reference, 1, ["panel_chair", "author"], ["panel"], "Agreed the scope.",
                                      "A. Jones")
    assert {r: m.value for r, m in held.attendance.items()} == {"panel_chair": "attended", "panel": "apologies",
                                                               "author": "attended"}
    [stored] = meetings.meetings(app, reference)
    assert stored.outcome == "Agreed the scope." and stored.state(app.clock.now()) == "held"
    entry = app.uow.state.reviews[reference].audit[-1]
    assert entry.event == "meeting_attendance_recorded"
    assert entry.detail["attendance"]["panel"] == "apologies"
    assert stored.starts_at.tzinfo is LONDON
