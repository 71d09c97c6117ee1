"""Meetings and events of a review: panel meetings, practitioner events, family engagement, rapid review meetings.

The business unit schedules a meeting for a review at a local date and time in Europe/London, for a number of
minutes, at a place named in a few words ("Teams", "Council offices, Room 2"), inviting roles (the Apprise tags
messages are routed by: ``panel``, ``panel_chair``, ``author``, ``agency-<name>``...). Each invitee role gets
an iCalendar invitation; moving the meeting sends an update (the ``sequence`` goes up by one, as RFC 5545 has
it), cancelling it a cancellation. Once the meeting has started, who attended (or sent apologies, or did not
come) and an outcome note are recorded.

Times are aware datetimes in :data:`LONDON`. A wall-clock time that does not exist (01:30 on the last Sunday of
March, when the clocks go forward) or happens twice (01:30 on the last Sunday of October) is refused rather
than guessed; a duration is real time, so a meeting across a clock change still lasts its minutes.

Pure rules: no clock (``now`` is an argument), no register, no email.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from models.errors import Refused
from models.identifiers import ensure_no_identifiers
from models.roles import Role
from models.workdays import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
SHORTEST = timedelta(minutes=15)
LONGEST = timedelta(hours=10)  # a full-day practitioner event at most
FURTHEST = timedelta(days=731)  # scheduled at most two years ahead: a later date is a typing slip
LONGEST_LOCATION = 120
LONGEST_OUTCOME = 4000

_AGENCY_ROLE = re.compile(r"^agency-[a-z0-9-]{1,100}$")


class MeetingKind(StrEnum):
    PANEL_MEETING = "panel_meeting"
    PRACTITIONER_EVENT = "practitioner_event"
    FAMILY_ENGAGEMENT = "family_engagement"
    RAPID_REVIEW_MEETING = "rapid_review_meeting"


MEETING_TITLES: dict[MeetingKind, str] = {
    MeetingKind.PANEL_MEETING: "Panel meeting",
    MeetingKind.PRACTITIONER_EVENT: "Practitioner event",
    MeetingKind.FAMILY_ENGAGEMENT: "Family engagement meeting",
    MeetingKind.RAPID_REVIEW_MEETING: "Rapid review meeting",
}


class Attendance(StrEnum):
    ATTENDED = "attended"
    APOLOGIES = "apologies"
    ABSENT = "absent"


@dataclass(frozen=True)
class Meeting:
    """One meeting of a review, as scheduled (and moved, cancelled, held)."""

    reference: str
    kind: MeetingKind
    starts_at: datetime  # aware, Europe/London
    ends_at: datetime  # aware, Europe/London
    location: str
    invitees: tuple[str, ...]  # roles, in the order given
    scheduled_by: str
    id: int | None = None
    sequence: int = 0  # RFC 5545 SEQUENCE: 0 when scheduled, one more at each move and at the cancellation
    cancelled_by: str = ""  # who cancelled it ("" while it stands)
    attendance: Mapping[str, Attendance] = field(default_factory=dict)  # by role, once held
    outcome: str = ""
    attendance_by: str = ""  # who recorded the attendance ("" until recorded)

    @property
    def cancelled(self) -> bool:
        return bool(self.cancelled_by)

    @property
    def held(self) -> bool:
        return bool(self.attendance_by)

    @property
    def title(self) -> str:
        return MEETING_TITLES[self.kind]

    @property
    def minutes(self) -> int:
        return int(real_time(self.starts_at, self.ends_at).total_seconds() // 60)

    @property
    def uid(self) -> str:
        """The iCalendar UID, the same for the invitation, every update and the cancellation."""
        return f"{self.reference}-meeting-{self.id}@lcspr"

    @property
    def when(self) -> str:
        """The meeting's time as a message says it: "Monday 30 March 2026, 10:00 to 11:30 (UK time)"."""
        start, end = self.starts_at.astimezone(LONDON), self.ends_at.astimezone(LONDON)
        day = f"{start:%A} {start.day} {start:%B %Y}"
        if end.date() != start.date():
            return f"{day}, {start:%H:%M} to {end:%A} {end.day} {end:%B %Y}, {end:%H:%M} (UK time)"
        return f"{day}, {start:%H:%M} to {end:%H:%M} (UK time)"

    def state(self, now: datetime) -> str:
        """"cancelled", "held", "started" (not yet recorded) or "scheduled"."""
        if self.cancelled:
            return "cancelled"
        if self.held:
            return "held"
        return "started" if now >= self.starts_at else "scheduled"


def local_start(day: date, at: time) -> datetime:
    """``day`` at ``at`` on the clocks in England, refused if the clocks skip or repeat that time that day."""
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first, second = naive.replace(tzinfo=LONDON, fold=0), naive.replace(tzinfo=LONDON, fold=1)
    if first.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != naive:
        raise Refused(f"{at:%H:%M} on {day.isoformat()} does not exist in the UK: the clocks go forward that "
                      "night; choose another time.")
    if first.utcoffset() != second.utcoffset():
        raise Refused(f"{at:%H:%M} on {day.isoformat()} happens twice in the UK: the clocks go back that night; "
                      "choose another time.")
    return first


def real_time(start: datetime, end: datetime) -> timedelta:
    """The time that passes from ``start`` to ``end``. Python subtracts two times of one zone as wall-clock
    times (an hour too many across the spring change), so both go to UTC first."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def ends_after(start: datetime, minutes: int) -> datetime:
    """The end of a meeting of ``minutes`` real minutes from ``start``, on the clocks in England (a meeting
    across a clock change still lasts its minutes: aware arithmetic in one zone would add wall time)."""
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(LONDON)


def known_role(role: str) -> bool:
    return role in {r.value for r in Role} or bool(_AGENCY_ROLE.match(role))


def invitee_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles given (``chair,panel`` split already), stripped, each once, in their order; unknown ones refused."""
    found: list[str] = []
    for raw in roles:
        role = raw.strip()
        if not role:
            continue
        if not known_role(role):
            known = ", ".join(r.value for r in Role)
            raise Refused(f"'{role[:60]}' is not a role ({known}, or agency-<name>).")
        if role not in found:
            found.append(role)
    return tuple(found)


def _check_person(field_name: str, by: str) -> None:
    if not by.strip():
        raise Refused(f"Say who records it ({field_name}).")
    ensure_no_identifiers(field_name, by, names_allowed=True)


def _check_time(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("meeting times must be aware datetimes")  # a programming error, not a person's
    if starts_at <= now:
        raise Refused(f"The meeting would start at {starts_at.astimezone(LONDON):%Y-%m-%d %H:%M}, which has "
                      "passed; a meeting is scheduled before it happens.")
    if starts_at - now > FURTHEST:
        raise Refused(f"The meeting would start more than two years from now ({starts_at:%Y-%m-%d}); check the "
                      "year.")
    length = real_time(starts_at, ends_at)
    if length <= timedelta(0):
        raise Refused("The meeting must end after it starts.")
    if length < SHORTEST:
        raise Refused(f"A meeting lasts at least {SHORTEST.seconds // 60} minutes.")
    if length > LONGEST:
        raise Refused(f"A meeting lasts at most {LONGEST.seconds // 3600} hours; schedule a longer event as "
                      "several meetings.")


def check_meeting(meeting: Meeting, now: datetime) -> None:
    """Refuse a meeting that cannot be scheduled: in the past or over two years ahead, ending before it starts,
    shorter than 15 minutes or longer than 10 hours, no invitee or an unknown role, no place, or a place, or a
    name of who schedules it, that could identify a child."""
    _check_time(meeting.starts_at, meeting.ends_at, now)
    if not meeting.invitees:
        raise Refused("Invite at least one role (--invite panel,author).")
    invitee_roles(meeting.invitees)
    check_location(meeting.location)
    _check_person("by", meeting.scheduled_by)


def check_location(location: str) -> None:
    """A place in a few words ("Teams", "Council offices, Room 2"): never a home address or anything that
    identifies a child (the invitation leaves the building)."""
    if not location.strip():
        raise Refused("Say where the meeting is (--where \"Teams\", or a room).")
    if len(location) > LONGEST_LOCATION or "\n" in location:
        raise Refused(f"Say where in one line of at most {LONGEST_LOCATION} characters (a room, or \"Teams\").")
    ensure_no_identifiers("where", location)


def schedule(meeting: Meeting, now: datetime) -> Meeting:
    """The meeting as first scheduled (sequence 0), once :func:`check_meeting` accepts it."""
    check_meeting(meeting, now)
    return replace(meeting, invitees=invitee_roles(meeting.invitees), sequence=0, cancelled_by="",
                   attendance={}, outcome="", attendance_by="")


def _standing(meeting: Meeting, what: str) -> None:
    if meeting.cancelled:
        raise Refused(f"Meeting {meeting.id} was cancelled by {meeting.cancelled_by}; it cannot be {what}.")


def move(meeting: Meeting, starts_at: datetime, ends_at: datetime, by: str, now: datetime,
         location: str | None = None) -> Meeting:
    """The meeting at a new time (and place, if given), moved by ``by``: its sequence one more, so calendars
    update it."""
    _standing(meeting, "moved")
    _check_person("by", by)
    if meeting.starts_at <= now:
        raise Refused(f"Meeting {meeting.id} has started already; schedule another one instead.")
    _check_time(starts_at, ends_at, now)
    if location is not None:
        check_location(location)
    moved = replace(meeting, starts_at=starts_at, ends_at=ends_at,
                    location=meeting.location if location is None else location)
    if (moved.starts_at, moved.ends_at, moved.location) == (meeting.starts_at, meeting.ends_at, meeting.location):
        raise Refused(f"Meeting {meeting.id} is already at that time and place.")
    return replace(moved, sequence=meeting.sequence + 1)


def cancel(meeting: Meeting, by: str, now: datetime) -> Meeting:
    """The meeting cancelled by ``by`` before it starts: its sequence one more, so calendars remove it."""
    _standing(meeting, "cancelled again")
    if meeting.starts_at <= now:
        raise Refused(f"Meeting {meeting.id} has started already; record who attended instead (nobody, if it did "
                      "not take place) and say so in the outcome.")
    _check_person("by", by)
    return replace(meeting, cancelled_by=by.strip(), sequence=meeting.sequence + 1)


def record_attendance(meeting: Meeting, attendance: Mapping[str, Attendance], outcome: str, by: str,
                      now: datetime) -> Meeting:
    """Who attended, sent apologies or was absent, and what came of it, once the meeting has started.

    Roles must be invitees, each named once; an invitee not named was absent. Recording again corrects the
    record (the audit trail keeps every version)."""
    _standing(meeting, "recorded as held")
    if now < meeting.starts_at:
        raise Refused(f"Meeting {meeting.id} starts at {meeting.starts_at.astimezone(LONDON):%Y-%m-%d %H:%M}; "
                      "attendance is recorded once it has started.")
    for role in attendance:
        if role not in meeting.invitees:
            raise Refused(f"'{role[:60]}' was not invited to meeting {meeting.id} "
                          f"(invited: {', '.join(meeting.invitees)}).")
    if len(outcome) > LONGEST_OUTCOME:
        raise Refused(f"The outcome note is longer than {LONGEST_OUTCOME} characters; keep it to what was agreed.")
    ensure_no_identifiers("outcome", outcome)
    _check_person("by", by)
    complete = {role: attendance.get(role, Attendance.ABSENT) for role in meeting.invitees}
    return replace(meeting, attendance=complete, outcome=outcome.strip(), attendance_by=by.strip())


def attendance_of(attended: Iterable[str], apologies: Iterable[str]) -> dict[str, Attendance]:
    """Attendance by role from the two lists a person gives; a role in both is refused."""
    chosen: dict[str, Attendance] = {}
    for roles, mark in ((attended, Attendance.ATTENDED), (apologies, Attendance.APOLOGIES)):
        for role in invitee_roles(roles):
            if role in chosen:
                raise Refused(f"{role} is given as both attended and apologies; choose one.")
            chosen[role] = mark
    return chosen


def reminder_window(today: date, calendar: WorkingCalendar) -> tuple[datetime, datetime]:
    """The meetings to remind of today: those starting after today and up to the end of the next working day.

    The daily sweep runs on working days, so a Friday's sweep reminds of Saturday's, Sunday's and Monday's
    meetings (and, before a bank holiday Monday, Tuesday's): "the day before" in working days, so no meeting
    goes unreminded because the day before it was a weekend."""
    first = today + timedelta(days=1)
    last = calendar.next_working_day(first)
    start = datetime.combine(first, time(0), tzinfo=LONDON)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=LONDON)
    return start, end
