"""A meeting as an iCalendar invitation (RFC 5545, iTIP RFC 5546): the attachment of a meeting email.

One VEVENT whose UID names the review and the meeting (``LCSPR-2026-0001-meeting-3@lcspr``) and whose SEQUENCE is
the meeting's (0 when scheduled, one more at each move and at the cancellation), so a mail program updates the
event in its calendar rather than adding a second one. METHOD:REQUEST for the invitation and each update,
METHOD:CANCEL with STATUS:CANCELLED for the cancellation. DTSTART and DTEND carry TZID=Europe/London with the
VTIMEZONE that defines it (icalendar's own, from the zone database, for the years around the meeting), so the
time is right on both sides of a clock change whatever the reader's calendar assumes.

ORGANIZER is the business unit's address and each ATTENDEE an invitee role's address, where the notification
config gives them (``Dispatcher.addresses``); without them the invitation still carries the time and place.
The event says what every message may say (``notifications/render.py``): the review reference, the kind of
meeting, when, where and the link to the review. Never the pseudonym or case text.
Pure: no clock (the stamp is passed in), no settings, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from models.meetings import Meeting
from notifications.calendar import PRODUCT, role_words


def invitation_ics(meeting: Meeting, *, stamp: datetime, link: str, organizer: str | None = None,
                   organizer_name: str = "", attendees: Mapping[str, Sequence[str]] | None = None) -> str:
    """The meeting's invitation (or update) as METHOD:REQUEST, or its cancellation as METHOD:CANCEL if it is
    cancelled. ``organizer``: the business unit's address (``organizer_name`` its name); ``attendees``: the
    addresses of each invitee role. CRLF line ends, as RFC 5545 has them."""
    # Imported here, as in notifications/calendar.py: only the emails that carry a calendar need it.
    from icalendar import Calendar, Event, vCalAddress

    if meeting.id is None:
        raise ValueError("a meeting gets an invitation once the register holds it (its id names the event)")
    cal = Calendar()
    cal.add("prodid", PRODUCT)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if meeting.cancelled else "REQUEST")
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at)
    event.add("summary", f"{meeting.reference}: {meeting.title}")
    event.add("location", meeting.location)
    event.add("description", f"{meeting.title} of review {meeting.reference}, {meeting.when}, at "
                             f"{meeting.location}.\nInvited: {', '.join(role_words(r) for r in meeting.invitees)}."
                             + (f"\nThe review: {link}" if link else ""))
    if link:
        event.add("url", link)
    event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")  # a meeting makes its invitees busy
    if organizer:
        who = vCalAddress(f"mailto:{organizer}")
        if organizer_name:
            who.params["CN"] = organizer_name
        event.add("organizer", who)
    for role in meeting.invitees:
        for address in (attendees or {}).get(role, ()):
            attendee = vCalAddress(f"mailto:{address}")
            attendee.params["CN"] = role_words(role)
            attendee.params["ROLE"] = "REQ-PARTICIPANT"
            attendee.params["PARTSTAT"] = "NEEDS-ACTION"
            attendee.params["RSVP"] = "TRUE"
            event.add("attendee", attendee)
    cal.add_component(event)
    # The VTIMEZONE for Europe/London from the zone database, for the meeting's year and the next: its
    # clock changes as dates (a few lines), which every calendar program reads.
    first, last = meeting.starts_at.year, meeting.ends_at.year + 1
    cal.add_missing_timezones(first_date=date(first, 1, 1), last_date=date(last, 12, 31))
    ical: bytes = cal.to_ical()  # unannotated in icalendar 7.3
    return ical.decode("utf-8")
