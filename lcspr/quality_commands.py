"""``lcspr quality``: a review's checklist of the SCIE/NSPCC quality markers, shown and filled in.

::

    lcspr quality LCSPR-2026-0001                        # every marker: rating, note, who and when, due or not
    lcspr quality LCSPR-2026-0001 family_involvement --rating partly_met \\
        --note "Mother was seen once; father was not approached." --by "A. Jones, Business Unit Manager"
    lcspr quality LCSPR-2026-0001 analysis --rating met --by "A. Jones, Business Unit Manager" --on 2026-09-14
    lcspr quality LCSPR-2026-0001 --json

The rules are ``models.quality``'s; the use cases ``services.quality``'s.
"""

from __future__ import annotations

import argparse
import json

from lcspr.console import Edge, SubParsers, UserError, parse_date, parse_reference, table
from lcspr.review_commands import show_in_prefect
from models.lifecycle import Stage
from models.quality import MARKER_KEYS, AssessmentInput, MarkerStatus, Rating, assessed_from
from services import quality

RATINGS = tuple(r.value for r in Rating)


def _rating(text: str) -> str:
    """A rating as typed: ``partly_met``, ``partly-met`` or "partly met"."""
    value = "_".join(text.strip().lower().replace("-", " ").split())
    if value not in RATINGS:
        raise argparse.ArgumentTypeError(f"a rating is one of {', '.join(RATINGS)}")
    return value


def add_quality(sub: SubParsers) -> None:
    p = sub.add_parser(
        "quality", help="A review's quality checklist (the 18 SCIE/NSPCC markers): show it, or rate one marker.",
        description="Without MARKER: every quality marker of the review with its latest rating, note, who and "
                    "when, and which are due at the stage it has reached. With MARKER: record an assessment "
                    "(it supersedes the marker's earlier one, which is kept).")
    p.add_argument("reference", type=parse_reference)
    p.add_argument("marker", nargs="?", help=f"The marker to rate: {', '.join(MARKER_KEYS)}.")
    p.add_argument("--rating", type=_rating, metavar="RATING", help=f"One of {', '.join(RATINGS)}.")
    p.add_argument("--note", default="", help="Why, briefly (needed unless met); no names or identifying details.")
    p.add_argument("--by", help="Who assessed it (name and role).")
    p.add_argument("--on", type=parse_date, metavar="DATE", help="The day it was assessed (yyyy-mm-dd; default today).")
    p.add_argument("--json", action="store_true", help="Machine-readable output (stable field names).")
    p.set_defaults(handler=cmd_quality)


def cmd_quality(args: argparse.Namespace, edge: Edge) -> int:
    if args.marker is None:
        if args.rating or args.note or args.by or args.on:
            raise UserError("--rating, --note, --by and --on record an assessment: give the MARKER too.")
        return show(args, edge)
    missing = [flag for flag, value in (("--rating", args.rating), ("--by", args.by)) if value is None]
    if missing:
        raise UserError(f"An assessment needs {' and '.join(missing)}.")
    app = edge.app
    given = AssessmentInput(marker=args.marker, rating=args.rating, note=args.note, assessed_by=args.by,
                            assessed_on=args.on or app.clock.today())
    made = quality.assess(app, args.reference, given)
    show_in_prefect(app, args.reference)
    now = quality.review_quality(app, args.reference)
    status = next(s for s in now.markers if s.marker.key == made.marker)
    if args.json:
        print(json.dumps({"reference": args.reference, "marker": made.marker,
                          "assessment": quality.assessment_json(made), "in_force": status.current == made,
                          "summary": quality.summary_json(now.summary)}, indent=2))
        return 0
    print(f"{args.reference}: {status.marker.title.lower()} rated {made.rating.words} on "
          f"{made.assessed_on.isoformat()} by {made.assessed_by} (assessment {made.id}).")
    earlier = [a for a in status.earlier if a != made]
    if status.current != made and status.current is not None:
        print(f"The assessment of {status.current.assessed_on.isoformat()} ({status.current.rating.words}) stays in "
              "force: it is the later one. Both are kept.")
    elif earlier:
        print(f"It supersedes the assessment of {earlier[0].assessed_on.isoformat()} ({earlier[0].rating.words}), "
              "which is kept.")
    print(f"Quality: {now.summary.line()}")
    return 0


def show(args: argparse.Namespace, edge: Edge) -> int:
    found = quality.review_quality(edge.app, args.reference)
    if args.json:
        print(json.dumps(quality.quality_json(found), indent=2))
        return 0
    route = f", route {found.route.value}" if found.route else ""
    print(f"{found.reference}: stage {found.stage.value}{route}")
    print(f"Quality: {found.summary.line()}")
    if found.summary.percent_met is not None:
        print(f"Met: {found.summary.percent_met:g} % of the markers rated (not counting not applicable).")
    print()
    print(table([_row(s, found) for s in found.markers],
                ["marker", "due", "rating", "assessed on", "by", "note"]))
    history = [(s, a) for s in found.markers for a in s.earlier]
    if history:
        print("\nSuperseded (kept)")
        print(table([[s.marker.key, a.rating.words, a.assessed_on.isoformat(), a.assessed_by, _short(a.note)]
                     for s, a in history], ["marker", "rating", "assessed on", "by", "note"]))
    return 0


def _row(s: MarkerStatus, found: quality.ReviewQuality) -> list[str]:
    a = s.current
    return [s.marker.key, _due(s, found), a.rating.words if a else "-", a.assessed_on.isoformat() if a else "",
            a.assessed_by if a else "", _short(a.note) if a else ""]


def _due(s: MarkerStatus, found: quality.ReviewQuality) -> str:
    if s.due:
        return "due"
    stage = assessed_from(s.marker, found.route)
    if stage is None:
        return "not on route"
    return "at closure" if stage is Stage.CLOSED else f"from {stage.value}"


def _short(text: str, width: int = 50) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


COMMANDS = [add_quality]
