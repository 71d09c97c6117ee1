"""Meetings and events of a review (``lcspr meeting``): scheduled, moved, cancelled, held, and reminded of.

Each change is judged by the domain (``models.meetings``), written to the register with an entry in the review's
audit trail, and announced in the same unit of work: one message per invitee role in the outbox, with the
meeting's iCalendar (``notifications/meeting_calendar.py``) attached. The outbox key names the meeting, its
sequence and the role (``LCSPR-2026-0001:meeting-3:seq-1:panel``), so a move sends again (a new sequence) and a
retry or a second delivery never doubles a message. The caller delivers afterwards (``messages.deliver``); a
message that cannot go now stays pending for the sweep.

The daily sweep (``services.messages.sweep``) calls :func:`queue_reminders`: a reminder to each invitee role of
the meetings starting after today and by the end of the next working day, once per meeting, day and role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

from models.errors import LcsprError, Refused
from models.meetings import (
    LONDON,
    Meeting,
    MeetingKind,
    attendance_of,
    ends_after,
    local_start,
    reminder_window,
)
from models.meetings import cancel as cancelled
from models.meetings import move as moved
from models.meetings import record_attendance as held
from models.meetings import schedule as scheduled
from models.roles import Role
from notifications.meeting_calendar import invitation_ics
from notifications.render import render
from services.app import App
from services.ports import UnitOfWork


def _kind(kind: str) -> MeetingKind:
    try:
        return MeetingKind(kind)
    except ValueError:
        raise Refused(f"'{kind[:40]}' is not a kind of meeting ({', '.join(k.value for k in MeetingKind)}).") from None


def _detail(meeting: Meeting) -> dict[str, Any]:
    """What the audit trail keeps of a meeting at each change."""
    return {"meeting": meeting.id, "kind": meeting.kind.value, "starts_at": meeting.starts_at.isoformat(),
            "ends_at": meeting.ends_at.isoformat(), "where": meeting.location, "invitees": list(meeting.invitees),
            "sequence": meeting.sequence}


def schedule(app: App, reference: str, kind: str, on: date, at: time, minutes: int, where: str,
             invite: Iterable[str], by: str) -> Meeting:
    """Schedule a meeting of the review and queue its invitations; the meeting as recorded."""
    now = app.clock.now()
    starts_at = local_start(on, at)
    wanted = scheduled(Meeting(reference, _kind(kind), starts_at, ends_after(starts_at, minutes), where.strip(),
                               tuple(invite), by.strip()), now)
    addresses = _addresses(app, wanted.invitees)
    with app.uow() as uow:
        if uow.reviews.projected_step(reference).closed:
            raise Refused(f"Review {reference} is closed; its meetings are over.")
        meeting = replace(wanted, id=uow.meetings.add(wanted, now))
        uow.reviews.audit(reference, now, meeting.scheduled_by, "meeting_scheduled", _detail(meeting))
        _queue_invitations(uow, app, meeting, now, addresses)
        uow.commit()
    return meeting


def move(app: App, reference: str, meeting_id: int, on: date, at: time, minutes: int | None, where: str | None,
         by: str) -> Meeting:
    """Move a meeting to another time (and place) and queue the update to every invitee (its sequence one more)."""
    now = app.clock.now()
    starts_at = local_start(on, at)
    addresses = _addresses(app, _invitees(app, reference, meeting_id))
    with app.uow() as uow:
        before = uow.meetings.get(reference, meeting_id, lock=True)
        length = before.minutes if minutes is None else minutes
        after = moved(before, starts_at, ends_after(starts_at, length), by, now,
                      None if where is None else where.strip())
        uow.meetings.save(after, now)
        uow.reviews.audit(reference, now, by.strip(), "meeting_moved",
                          {**_detail(after), "was": before.starts_at.isoformat()})
        _queue_invitations(uow, app, after, now, addresses)
        uow.commit()
    return after


def cancel(app: App, reference: str, meeting_id: int, by: str) -> Meeting:
    """Cancel a meeting before it starts and queue the cancellation to every invitee."""
    now = app.clock.now()
    addresses = _addresses(app, _invitees(app, reference, meeting_id))
    with app.uow() as uow:
        meeting = cancelled(uow.meetings.get(reference, meeting_id, lock=True), by, now)
        uow.meetings.save(meeting, now)
        uow.reviews.audit(reference, now, meeting.cancelled_by, "meeting_cancelled", _detail(meeting))
        _queue_invitations(uow, app, meeting, now, addresses)
        uow.commit()
    return meeting


def record_attendance(app: App, reference: str, meeting_id: int, attended: Iterable[str], apologies: Iterable[str],
                      outcome: str, by: str) -> Meeting:
    """Record who attended, sent apologies or was absent (any invitee not named), and the outcome."""
    now = app.clock.now()
    with app.uow() as uow:
        meeting = held(uow.meetings.get(reference, meeting_id, lock=True), attendance_of(attended, apologies),
                       outcome, by, now)
        uow.meetings.save(meeting, now)
        uow.reviews.audit(reference, now, meeting.attendance_by, "meeting_attendance_recorded",
                          {"meeting": meeting.id, "attendance": {r: m.value for r, m in meeting.attendance.items()},
                           "outcome": meeting.outcome})
        uow.commit()
    return meeting


def meetings(app: App, reference: str | None = None, include_past: bool = False) -> list[Meeting]:
    """The review's meetings (every one, cancelled and past too), or every review's meetings not cancelled from
    today on (``include_past``: from the first)."""
    with app.uow() as uow:
        if reference is not None:
            return uow.meetings.of_review(reference)
        since = datetime(1990, 1, 1, tzinfo=LONDON) if include_past else \
            datetime.combine(app.clock.today(), time(0), tzinfo=LONDON)
        return uow.meetings.starting(since)


def queue_reminders(app: App, today: date) -> list[str]:
    """Queue a reminder to each invitee role of the meetings starting after ``today`` and by the end of the
    next working day (``models.meetings.reminder_window``); the keys newly queued."""
    start, end = reminder_window(today, app.config.policy.calendar)
    now, new = app.clock.now(), []
    with app.uow() as uow:
        due = uow.meetings.starting(start, end)
        runs = {p.reference: p.flow_run_id
                for p in uow.reviews.run_pointers(sorted({m.reference for m in due}), include_closed=True)}
        for meeting in due:
            link = app.config.run_link(runs.get(meeting.reference))
            day = meeting.starts_at.date().isoformat()
            for role in meeting.invitees:
                key = f"{meeting.reference}:meeting-{meeting.id}:reminder-{day}:{role}"
                if not uow.outbox.has(key) and _add(uow, app, meeting, "meeting_reminder", role, key, link, now):
                    new.append(key)
        uow.commit()
    return new


def _invitees(app: App, reference: str, meeting_id: int) -> tuple[str, ...]:
    """A meeting's invitee roles (they never change once it is scheduled)."""
    with app.uow() as uow:
        return uow.meetings.get(reference, meeting_id).invitees


def _queue_invitations(uow: UnitOfWork, app: App, meeting: Meeting, now: datetime,
                       addresses: tuple[str | None, dict[str, list[str]]]) -> list[str]:
    """One message per invitee role with the meeting's iCalendar, keyed by meeting, sequence and role."""
    kind = "meeting_cancelled" if meeting.cancelled else "meeting_invitation" if meeting.sequence == 0 \
        else "meeting_update"
    link = app.config.run_link(uow.reviews.get(meeting.reference).flow_run_id)
    organizer, attendees = addresses
    ics = invitation_ics(meeting, stamp=now, link=link, organizer=organizer,
                         organizer_name=f"{app.config.partnership} business unit", attendees=attendees)
    new = []
    for role in meeting.invitees:
        key = f"{meeting.reference}:meeting-{meeting.id}:seq-{meeting.sequence}:{role}"
        if _add(uow, app, meeting, kind, role, key, link, now, ics):
            new.append(key)
    return new


def _addresses(app: App, roles: Iterable[str]) -> tuple[str | None, dict[str, list[str]]]:
    """The business unit's first address (the organiser) and each role's addresses, as the notification config
    has them; none if it cannot be read now (the invitation then carries the time and place alone, and the
    messages wait in the outbox for the config to be fixed). Read before the unit of work that writes, so the
    register is not held while Apprise loads."""
    try:
        dispatcher = app.dispatcher()
        business_unit = dispatcher.addresses(Role.BUSINESS_UNIT.value)
        return (business_unit[0] if business_unit else None), {role: dispatcher.addresses(role) for role in roles}
    except LcsprError:
        return None, {}


def _add(uow: UnitOfWork, app: App, meeting: Meeting, kind: str, role: str, key: str, link: str, now: datetime,
         ics: str | None = None) -> bool:
    message = render(kind, {"reference": meeting.reference, "meeting": meeting.title, "when": meeting.when,
                            "where": meeting.location, "recipient_role": role, "link": link,
                            "portfolio_link": app.config.portfolio_link, "partnership": app.config.partnership})
    return uow.outbox.add(key, meeting.reference, kind, role, message.subject, message.text, message.html, now,
                          ics=ics)

