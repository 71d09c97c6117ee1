"""``lcspr calendar``: the open due dates as an iCalendar (.ics) file, for a team's or a person's calendar.

One all-day event per open due date (each open step's, each clock still counting), with a UID
that stays the same from one run to the next, so importing a newer file updates the events
(``notifications/calendar.py`` says what an event holds: never the pseudonym)::

    lcspr calendar > due.ics                       # every open review
    lcspr calendar LCSPR-2026-0001 --output a.ics  # one review

Standard output by default (``-``); ``--output FILE`` writes the file whole and then moves it
into place, so a calendar program reading it never sees half of one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from lcspr.console import Edge, SubParsers, UserError, parse_reference, shown_path
from notifications.calendar import to_ics
from services import queries


def add_calendar(sub: SubParsers) -> None:
    p = sub.add_parser("calendar", help="Open due dates (open steps, running clocks) as an iCalendar (.ics) file.")
    p.add_argument("reference", type=parse_reference, nargs="?", help="Only this review's due dates.")
    p.add_argument("--output", "-o", default="-", metavar="FILE",
                   help="Where to write the .ics; - (the default) is standard output.")
    p.set_defaults(handler=cmd_calendar)


def cmd_calendar(args: argparse.Namespace, edge: Edge) -> int:
    app = edge.app
    dates = queries.due_dates(app, args.reference)
    ics = to_ics(dates, stamp=app.clock.now(), name=f"LCSPR due dates — {app.config.partnership}")
    if args.output == "-":
        sys.stdout.write(ics)
        return 0
    write_whole(Path(args.output), ics)
    print(f"Wrote {len(dates)} due date{'' if len(dates) == 1 else 's'} to {shown_path(args.output)}.")
    return 0


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(temporary, 0o666 & ~mask)  # as open() would make it: mkstemp makes it owner-only
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UserError(f"Cannot write {shown_path(path)}: {exc.strerror or type(exc).__name__}.") from None


COMMANDS = [add_calendar]
