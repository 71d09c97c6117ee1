"""``lcspr meeting``: schedule, move and cancel a review's meetings (invitations as iCalendar), record who came.

Each action calls one use case of ``services/meetings.py`` and then delivers the review's pending messages, so
the invitations go at once; one that cannot go now waits in the outbox (``lcspr outbox``) for the next sweep.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, time
from typing import Any

from lcspr.console import Edge, SubParsers, UserError, parse_date, parse_reference, table
from models.meetings import LONDON, Meeting, MeetingKind
from services import meetings, messages

KINDS = [k.value for k in MeetingKind]


def parse_time(text: str) -> time:
    """A time of day on the 24-hour clock, ``HH:MM`` (UK time)."""
    if not re.fullmatch(r"[0-9]{1,2}:[0-9]{2}", text):
        raise argparse.ArgumentTypeError("times are given as HH:MM on the 24-hour clock (e.g. 14:30)")
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise argparse.ArgumentTypeError(f"{text} is not a time of day")
    return time(hours, minutes)


def parse_minutes(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", text):
        raise argparse.ArgumentTypeError("give the length in whole minutes (e.g. 90)")
    return int(text)


def parse_id(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise argparse.ArgumentTypeError("a meeting is named by its number (`lcspr meeting list REF`)")
    return int(text)


def roles(text: str) -> list[str]:
    """A comma-separated list of roles (``panel_chair,panel,author``), checked by the domain."""
    return [part.strip() for part in text.split(",") if part.strip()]


def add_meeting(sub: SubParsers) -> None:
    p = sub.add_parser("meeting", help="A review's meetings and events: schedule (iCalendar invitations to the "
                                       "invitees' roles), move, cancel, record attendance, list.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    s = actions.add_parser("schedule", help="Schedule a meeting and send the invitations.")
    s.add_argument("reference", type=parse_reference)
    s.add_argument("--kind", required=True, choices=KINDS, help="What kind of meeting.")
    s.add_argument("--on", required=True, type=parse_date, metavar="DATE", help="The day (yyyy-mm-dd).")
    s.add_argument("--at", required=True, type=parse_time, metavar="HH:MM", help="The start, UK time.")
    s.add_argument("--minutes", required=True, type=parse_minutes, help="How long it lasts (15 to 600).")
    s.add_argument("--where", required=True, help='Where, in a few words ("Teams", "Council offices, Room 2").')
    s.add_argument("--invite", required=True, type=roles, metavar="ROLES",
                   help="The roles invited, comma-separated (e.g. panel_chair,panel,author,"
                        "agency-thames-valley-police).")
    s.add_argument("--by", required=True, help="Who schedules it (name and role).")
    s.set_defaults(handler=cmd_schedule)

    m = actions.add_parser("move", help="Move a meeting to another time (and place); sends the update.")
    m.add_argument("reference", type=parse_reference)
    m.add_argument("id", type=parse_id, help="The meeting's number (`lcspr meeting list REF`).")
    m.add_argument("--on", required=True, type=parse_date, metavar="DATE", help="The new day (yyyy-mm-dd).")
    m.add_argument("--at", required=True, type=parse_time, metavar="HH:MM", help="The new start, UK time.")
    m.add_argument("--minutes", type=parse_minutes, help="The new length (default: as it was).")
    m.add_argument("--where", help="The new place (default: as it was).")
    m.add_argument("--by", required=True, help="Who moves it.")
    m.set_defaults(handler=cmd_move)

    c = actions.add_parser("cancel", help="Cancel a meeting before it starts; sends the cancellation.")
    c.add_argument("reference", type=parse_reference)
    c.add_argument("id", type=parse_id)
    c.add_argument("--by", required=True, help="Who cancels it.")
    c.set_defaults(handler=cmd_cancel)

    a = actions.add_parser("attendance", help="Record who attended (the other invitees: apologies or absent) and "
                                              "the outcome, once the meeting has started.")
    a.add_argument("reference", type=parse_reference)
    a.add_argument("id", type=parse_id)
    a.add_argument("--attended", type=roles, default=[], metavar="ROLES", help="Roles that attended.")
    a.add_argument("--apologies", type=roles, default=[], metavar="ROLES", help="Roles that sent apologies.")
    a.add_argument("--outcome", default="", help="What was agreed, in a few sentences (no case details that "
                                                 "identify a child).")
    a.add_argument("--by", required=True, help="Who records it.")
    a.set_defaults(handler=cmd_attendance)

    li = actions.add_parser("list", help="A review's meetings, or every review's meetings from today on.")
    li.add_argument("reference", nargs="?", type=parse_reference)
    li.add_argument("--all", action="store_true", help="Without REF: past meetings too.")
    li.add_argument("--json", action="store_true", help="Machine-readable output.")
    li.set_defaults(handler=cmd_list)


def meeting_json(meeting: Meeting, now: datetime) -> dict[str, Any]:
    """A meeting as ``lcspr meeting list --json`` and ``lcspr status --json`` show it (times in UK time)."""
    return {
        "id": meeting.id,
        "reference": meeting.reference,
        "kind": meeting.kind.value,
        "starts_at": meeting.starts_at.isoformat(),
        "ends_at": meeting.ends_at.isoformat(),
        "minutes": meeting.minutes,
        "where": meeting.location,
        "invitees": list(meeting.invitees),
        "sequence": meeting.sequence,
        "state": meeting.state(now),
        "cancelled_by": meeting.cancelled_by or None,
        "attendance": {role: mark.value for role, mark in meeting.attendance.items()} or None,
        "outcome": meeting.outcome or None,
        "attendance_by": meeting.attendance_by or None,
    }


def meeting_rows(found: list[Meeting], now: datetime, with_reference: bool) -> str:
    rows = [([m.reference] if with_reference else []) + [
        str(m.id), m.kind.value, f"{m.starts_at.astimezone(LONDON):%a %Y-%m-%d %H:%M}", str(m.minutes),
        m.location[:30], ",".join(m.invitees), m.state(now)] for m in found]
    return table(rows, (["review"] if with_reference else []) +
                 ["id", "kind", "starts (UK time)", "minutes", "where", "invited", "state"])


def _delivered(edge: Edge, meeting: Meeting, what: str) -> None:
    report = messages.deliver(edge.app, meeting.reference)
    sent = [k for k in report.sent if f":meeting-{meeting.id}:seq-{meeting.sequence}:" in k]
    waiting = len(meeting.invitees) - len(sent)
    print(f"{what} sent to {len(sent)} of {len(meeting.invitees)} roles ({', '.join(meeting.invitees)})"
          + (f"; {waiting} wait in the outbox (`lcspr outbox`) and go with the next sweep." if waiting else "."))


def cmd_schedule(args: argparse.Namespace, edge: Edge) -> int:
    made = meetings.schedule(edge.app, args.reference, args.kind, args.on, args.at, args.minutes, args.where,
                             args.invite, args.by)
    print(f"{made.reference}: meeting {made.id}, {made.title.lower()}, {made.when}, at {made.location}.")
    _delivered(edge, made, "Invitations")
    return 0


def cmd_move(args: argparse.Namespace, edge: Edge) -> int:
    after = meetings.move(edge.app, args.reference, args.id, args.on, args.at, args.minutes, args.where, args.by)
    print(f"{after.reference}: meeting {after.id} moved to {after.when}, at {after.location} "
          f"(update {after.sequence}).")
    _delivered(edge, after, "Updates")
    return 0


def cmd_cancel(args: argparse.Namespace, edge: Edge) -> int:
    done = meetings.cancel(edge.app, args.reference, args.id, args.by)
    print(f"{done.reference}: meeting {done.id} ({done.when}) cancelled by {done.cancelled_by}.")
    _delivered(edge, done, "Cancellations")
    return 0


def cmd_attendance(args: argparse.Namespace, edge: Edge) -> int:
    if not args.attended and not args.apologies and not args.outcome:
        raise UserError("Say who attended (--attended ROLES), who sent apologies (--apologies ROLES) and/or the "
                        "outcome (--outcome TEXT).")
    held = meetings.record_attendance(edge.app, args.reference, args.id, args.attended, args.apologies,
                                      args.outcome, args.by)
    marks = ", ".join(f"{role} {mark.value}" for role, mark in held.attendance.items())
    print(f"{held.reference}: meeting {held.id} recorded as held: {marks}.")
    return 0


def cmd_list(args: argparse.Namespace, edge: Edge) -> int:
    found = meetings.meetings(edge.app, args.reference, include_past=args.all)
    now = edge.app.clock.now()
    if args.json:
        print(json.dumps([meeting_json(m, now) for m in found], indent=2))
        return 0
    if not found:
        print(f"{args.reference} has no meetings." if args.reference else "No meetings from today on.")
        return 0
    print(meeting_rows(found, now, with_reference=args.reference is None))
    return 0


COMMANDS = [add_meeting]
