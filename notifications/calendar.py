"""Due dates as iCalendar (RFC 5545): the file ``lcspr calendar`` writes and the attachment of a
step-opened email.

Each due date is one all-day VEVENT whose UID names the review and the clock that sets the date
(``LCSPR-2026-0001-rapid_review@lcspr``), so importing the file again, or opening a later email's
attachment for the same clock (a step asked again, a date extended), updates the event instead of
adding a second one. An open step's due date is its clock's, so the step and its clock are one event,
worded as the step. A VALARM reminds at 09:00 on the working day before (the partnership's working
calendar; 09:00 in the reader's own time, as the event is a floating all-day date).

An event says what every message may say (see ``notifications/render.py``): the review reference,
what is due, of whom, the date and the link to the review's run. Never the pseudonym or case text.
Pure: no clock (the stamp is passed in), no settings, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from models.clocks import Clock
from models.lifecycle import OpenStep
from models.notices import clock_title
from models.workdays import WorkingCalendar

if TYPE_CHECKING:
    from icalendar import Event

PRODUCT = "-//LCSPR//Local Child Safeguarding Practice Reviews//EN"
UID_DOMAIN = "lcspr"
REMIND_AT = timedelta(hours=9)  # on the working day before the due date

_AGENCY_PREFIX = "agency-"  # an agency's role (models.reminders.agency_role)
_NOT_UID_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class DueDate:
    """One open due date of a review, ready to become a calendar event."""

    reference: str
    key: str  # the clock that sets the date (the step's own key if none does): the event's identity
    due: date
    what: str  # "Rapid Review outcome"
    owed_by: tuple[str, ...]  # roles
    link: str  # the review's run, where its open step is answered
    remind_on: date | None = None  # the working day before ``due``

    @property
    def uid(self) -> str:
        return event_uid(self.reference, self.key)

    @property
    def summary(self) -> str:
        return f"{self.reference}: {self.what} due ({owed_by_words(self.owed_by)})"


def event_uid(reference: str, key: str) -> str:
    """A due date's UID, the same wherever it is written: ``<reference>-<clock key>@lcspr``.

    A clock key may hold an agency's name (``agency_report:Thames Valley Police``): spaces, colons
    and the like become ``-`` so the UID is one plain token."""
    return f"{reference}-{_NOT_UID_SAFE.sub('-', key).strip('-').lower()}@{UID_DOMAIN}"


def role_words(role: str) -> str:
    """A role as a calendar line names it: "Safeguarding partners", an agency by its name."""
    if role.startswith(_AGENCY_PREFIX):
        return role.removeprefix(_AGENCY_PREFIX).replace("-", " ").title()
    return role.replace("_", " ").capitalize()


def owed_by_words(roles: Iterable[str]) -> str:
    return ", ".join(role_words(r) for r in roles) or "nobody named"


def step_due_date(reference: str, step: OpenStep, *, link: str, calendar: WorkingCalendar) -> DueDate | None:
    """The open step's due date (None if it has none), worded as the step, named by its clock."""
    if step.due is None:
        return None
    roles = tuple(r for r in step.asked_of.split(",") if r)
    return DueDate(reference, step.clock_key or step.key, step.due, step.title, roles, link,
                   calendar.before(step.due, 1))


def clock_due_date(reference: str, clock: Clock, *, link: str, calendar: WorkingCalendar) -> DueDate:
    """A clock's current due date, worded as the clock, owed by its owner."""
    due = clock.due(calendar)
    owner = (clock.owner_role,) if clock.owner_role else ()
    return DueDate(reference, clock.key, due, clock_title(clock), owner, link, calendar.before(due, 1))


def to_ics(dates: Iterable[DueDate], *, stamp: datetime, name: str = "") -> str:
    """An iCalendar (METHOD:PUBLISH) of ``dates``, in date order; ``stamp`` (aware) is when it was made.

    CRLF line ends, as RFC 5545 has them. ``name`` titles the calendar in the programs that show one."""
    # Imported here: the due dates above are read by every `lcspr list` and `status`, the file only by
    # `lcspr calendar` and the emails' attachments.
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", PRODUCT)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    stamp = stamp.astimezone(UTC)
    for due_date in sorted(dates, key=lambda d: (d.due, d.uid)):
        cal.add_component(_event(due_date, stamp))
    ical: bytes = cal.to_ical()  # unannotated in icalendar 7.3
    return ical.decode("utf-8")


def _event(d: DueDate, stamp: datetime) -> Event:
    from icalendar import Alarm, Event

    event = Event()
    event.add("uid", d.uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", d.due)
    event.add("dtend", d.due + timedelta(days=1))
    event.add("summary", d.summary)
    event.add("description", f"{d.what} for review {d.reference} is due on {d.due.isoformat()}, "
                             f"owed by {owed_by_words(d.owed_by)}.\n"
                             f"The review's run, where its open step is answered: {d.link}")
    event.add("url", d.link)
    event.add("transp", "TRANSPARENT")  # a due date, not a meeting: it does not make anyone busy
    if d.remind_on is not None and d.remind_on < d.due:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Due the next working day: {d.summary}")
        # Relative to the (floating, midnight) start: 09:00 on the working day before.
        alarm.add("trigger", -(timedelta(days=(d.due - d.remind_on).days) - REMIND_AT))
        event.add_component(alarm)
    return event
