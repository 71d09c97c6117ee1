"""The pure rules of a review's meetings and events (``models.meetings``): times in England across the clock
changes, what may be scheduled, moved, cancelled and recorded, and which meetings the sweep reminds of."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from models.errors import IdentifierFound, Refused
from models.meetings import (
    LONDON,
    Attendance,
    Meeting,
    MeetingKind,
    attendance_of,
    cancel,
    ends_after,
    local_start,
    move,
    real_time,
    record_attendance,
    reminder_window,
    schedule,
)
from models.workdays import WorkingCalendar

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def panel(on: date = date(2026, 3, 30), at: time = time(10), minutes: int = 90, **changes: object) -> Meeting:
    start = local_start(on, at)
    meeting = Meeting("LCSPR-2026-0001", MeetingKind.PANEL_MEETING, start, ends_after(start, minutes), "Teams",
                      ("panel_chair", "panel", "author"), "A. Jones, Manager", id=1)
    return replace(meeting, **changes)  # type: ignore[arg-type]


def test_a_local_time_is_the_right_instant_on_both_sides_of_each_clock_change():
    assert local_start(date(2026, 3, 27), time(10)).astimezone(UTC) == datetime(2026, 3, 27, 10, tzinfo=UTC)
    assert local_start(date(2026, 3, 30), time(10)).astimezone(UTC) == datetime(2026, 3, 30, 9, tzinfo=UTC)
    assert local_start(date(2026, 10, 23), time(10)).astimezone(UTC) == datetime(2026, 10, 23, 9, tzinfo=UTC)
    assert local_start(date(2026, 10, 26), time(10)).astimezone(UTC) == datetime(2026, 10, 26, 10, tzinfo=UTC)
    assert local_start(date(2027, 3, 29), time(10)).astimezone(UTC) == datetime(2027, 3, 29, 9, tzinfo=UTC)
    assert local_start(date(2026, 3, 30), time(10)).tzinfo is LONDON


@pytest.mark.parametrize(("on", "says"), [
    (date(2026, 3, 29), "does not exist in the UK: the clocks go forward"),
    (date(2027, 3, 28), "does not exist in the UK: the clocks go forward"),
    (date(2026, 10, 25), "happens twice in the UK: the clocks go back"),
])
def test_a_time_the_clocks_skip_or_repeat_is_refused_rather_than_guessed(on, says):
    with pytest.raises(Refused, match=says):
        local_start(on, time(1, 30))


def test_a_meeting_across_a_clock_change_lasts_its_real_minutes():
    start = local_start(date(2026, 3, 29), time(0, 30))  # GMT; the clocks go forward at 01:00
    end = ends_after(start, 120)
    assert f"{end:%H:%M %Z}" == "03:30 BST"
    assert real_time(start, end) == timedelta(hours=2)
    assert end - start == timedelta(hours=3)  # why real_time exists: Python subtracts one zone's wall times
    assert panel(on=date(2026, 3, 29), at=time(0, 30), minutes=120).minutes == 120


def test_a_meeting_reads_as_its_day_and_times_in_uk_time():
    assert panel().when == "Monday 30 March 2026, 10:00 to 11:30 (UK time)"
    assert panel(at=time(23, 30), minutes=60).when == \
        "Monday 30 March 2026, 23:30 to Tuesday 31 March 2026, 00:30 (UK time)"
    assert panel().uid == "LCSPR-2026-0001-meeting-1@lcspr"
    assert panel().title == "Panel meeting"


def test_a_meeting_that_can_be_held_is_scheduled_at_sequence_zero_with_each_role_once():
    made = schedule(panel(invitees=("panel", " author", "panel", "agency-thames-valley-police"), sequence=4), NOW)
    assert made.invitees == ("panel", "author", "agency-thames-valley-police")
    assert made.sequence == 0
    assert made.state(NOW) == "scheduled"


@pytest.mark.parametrize(("changes", "says"), [
    ({"starts_at": datetime(2026, 3, 2, 8, 59, tzinfo=UTC)}, "which has passed"),
    ({"starts_at": datetime(2028, 4, 1, 10, tzinfo=LONDON), "ends_at": datetime(2028, 4, 1, 11, tzinfo=LONDON)},
     "more than two years"),
    ({"ends_at": local_start(date(2026, 3, 30), time(9))}, "must end after it starts"),
    ({"ends_at": local_start(date(2026, 3, 30), time(10))}, "must end after it starts"),
    ({"ends_at": local_start(date(2026, 3, 30), time(10, 10))}, "at least 15 minutes"),
    ({"ends_at": local_start(date(2026, 3, 30), time(20, 1))}, "at most 10 hours"),
    ({"invitees": ()}, "Invite at least one role"),
    ({"invitees": ("panel", "chair")}, "'chair' is not a role"),
    ({"invitees": ("agency:police",)}, "is not a role"),
    ({"location": "  "}, "Say where"),
    ({"location": "x" * 121}, "one line of at most 120"),
    ({"scheduled_by": ""}, "Say who records it"),
])
def test_a_meeting_that_cannot_be_held_is_refused_with_the_reason(changes, says):
    with pytest.raises(Refused, match=says):
        schedule(panel(**changes), NOW)


@pytest.mark.parametrize("where", ["12 High Street", "HP19 8FF"])
def test_a_place_that_could_identify_someone_is_refused_without_echoing_it(where):
    with pytest.raises(IdentifierFound) as refused:
        schedule(panel(location=where), NOW)
    assert where not in str(refused.value)


def test_a_move_is_one_more_sequence_with_the_same_identity():
    meeting = schedule(panel(), NOW)
    start = local_start(date(2026, 4, 1), time(14))
    moved = move(meeting, start, ends_after(start, 60), "A. Jones", NOW, "Council offices, Room 2")
    assert (moved.sequence, moved.id, moved.uid) == (1, meeting.id, meeting.uid)
    assert moved.when == "Wednesday 1 April 2026, 14:00 to 15:00 (UK time)"
    assert moved.location == "Council offices, Room 2"
    again = move(moved, start, ends_after(start, 90), "A. Jones", NOW)
    assert again.sequence == 2 and again.location == "Council offices, Room 2"


def test_a_move_that_changes_nothing_or_comes_too_late_is_refused():
    meeting = schedule(panel(), NOW)
    with pytest.raises(Refused, match="already at that time and place"):
        move(meeting, meeting.starts_at, meeting.ends_at, "A. Jones", NOW)
    with pytest.raises(Refused, match="has started already"):
        move(meeting, local_start(date(2026, 4, 2), time(9)), local_start(date(2026, 4, 2), time(10)), "A. Jones",
             meeting.starts_at)
    with pytest.raises(Refused, match="which has passed"):
        move(meeting, local_start(date(2026, 3, 1), time(9)), local_start(date(2026, 3, 1), time(10)), "A. Jones",
             NOW)
    with pytest.raises(Refused, match=r"cancelled by A\. Jones; it cannot be moved"):
        move(cancel(meeting, "A. Jones", NOW), meeting.starts_at + timedelta(days=1),
             meeting.ends_at + timedelta(days=1), "A. Jones", NOW)


def test_a_cancellation_is_one_more_sequence_and_only_before_the_meeting_once():
    meeting = schedule(panel(), NOW)
    done = cancel(meeting, " B. Smith, Business Unit ", NOW)
    assert (done.cancelled, done.cancelled_by, done.sequence) == (True, "B. Smith, Business Unit", 1)
    assert done.state(NOW) == "cancelled"
    with pytest.raises(Refused, match="cannot be cancelled again"):
        cancel(done, "A. Jones", NOW)
    with pytest.raises(Refused, match="has started already; record who attended"):
        cancel(meeting, "A. Jones", meeting.starts_at)
    with pytest.raises(Refused, match="Say who records it"):
        cancel(meeting, " ", NOW)


def test_attendance_is_recorded_once_the_meeting_has_started_and_the_rest_were_absent():
    meeting = schedule(panel(), NOW)
    with pytest.raises(Refused, match="attendance is recorded once it has started"):
        record_attendance(meeting, {}, "", "A. Jones", meeting.starts_at - timedelta(minutes=1))
    held = record_attendance(meeting, attendance_of(["panel_chair", "author"], []), " Agreed the chronology. ",
                             "A. Jones", meeting.starts_at)
    assert held.attendance == {"panel_chair": Attendance.ATTENDED, "panel": Attendance.ABSENT,
                               "author": Attendance.ATTENDED}
    assert (held.outcome, held.attendance_by, held.state(meeting.ends_at)) == ("Agreed the chronology.", "A. Jones",
                                                                              "held")
    corrected = record_attendance(held, attendance_of(["panel_chair"], ["panel"]), "", "A. Jones", meeting.ends_at)
    assert corrected.attendance["panel"] is Attendance.APOLOGIES


def test_attendance_names_only_invitees_once_and_an_outcome_that_identifies_a_child_is_refused():
    meeting = schedule(panel(), NOW)
    later = meeting.ends_at
    with pytest.raises(Refused, match="'subgroup_chair' was not invited"):
        record_attendance(meeting, attendance_of(["subgroup_chair"], []), "", "A. Jones", later)
    with pytest.raises(Refused, match="both attended and apologies"):
        attendance_of(["panel"], ["panel"])
    with pytest.raises(Refused, match="'nobody' is not a role"):
        attendance_of(["nobody"], [])
    with pytest.raises(IdentifierFound):
        record_attendance(meeting, {}, "The family live at 12 High Street.", "A. Jones", later)
    with pytest.raises(Refused, match="cannot be recorded as held"):
        record_attendance(replace(meeting, cancelled_by="A. Jones"), {}, "", "A. Jones", later)


def test_the_sweep_reminds_of_the_meetings_up_to_the_end_of_the_next_working_day():
    calendar = WorkingCalendar()
    # A Tuesday: Wednesday's meetings.
    assert reminder_window(date(2026, 3, 24), calendar) == (datetime(2026, 3, 25, tzinfo=LONDON),
                                                            datetime(2026, 3, 26, tzinfo=LONDON))
    # A Friday: Saturday's, Sunday's and Monday's (the clocks go forward on the Sunday).
    start, end = reminder_window(date(2026, 3, 27), calendar)
    assert (start, end) == (datetime(2026, 3, 28, tzinfo=LONDON), datetime(2026, 3, 31, tzinfo=LONDON))
    assert local_start(date(2026, 3, 30), time(10)) < end
    # The Thursday before Easter: Good Friday to Easter Monday are not working days, so Tuesday's too.
    assert reminder_window(date(2026, 4, 2), calendar) == (datetime(2026, 4, 3, tzinfo=LONDON),
                                                           datetime(2026, 4, 8, tzinfo=LONDON))
