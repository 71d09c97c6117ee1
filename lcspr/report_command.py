"""``lcspr report``: figures to take away from the register, one subcommand per report.

::

    lcspr report annual --from 2025-04-01 --to 2026-03-31                    # Markdown, chart embedded
    lcspr report annual --from 2025-04-01 --to 2026-03-31 --output year.md   # + the chart as year-chart.svg
    lcspr report annual --from 2025-04-01 --to 2026-03-31 --format csv -o reviews.csv
    lcspr report portfolio                                                  # every open review, most urgent first
    lcspr report portfolio --publish                                        # publish it as the lcspr-portfolio artifact
    lcspr publish LCSPR-2026-0001                                           # that review's artifacts and the portfolio

``annual`` gives the figures of the partnership's yearly report over the reviews referred in the
period (``models/report.py`` says exactly how each is counted); ``--format csv`` gives one row per review
in the fields of the NHS Safeguarding Case Review Tracker. Standard output by default; ``--output FILE``
writes the file whole, then moves it into place. ``portfolio`` gives every open review as Markdown, most
urgent first (``services/artifacts.py``), or publishes it now as the ``lcspr-portfolio`` artifact.

Another report is one more ``add_<name>(reports)`` in :data:`REPORTS`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import sys
from collections.abc import Iterator
from pathlib import Path

from lcspr.calendar_command import write_whole
from lcspr.console import Edge, SubParsers, parse_date, shown_path
from notifications.report import chart_svg, quality_markdown, to_csv, to_markdown
from services import artifacts, reports


def add_report(sub: SubParsers) -> None:
    p = sub.add_parser("report", help="Figures to take away from the register (e.g. for the yearly report).",
                       description="Figures to take away from the register, one subcommand per report.")
    kinds = p.add_subparsers(dest="report", required=True, metavar="REPORT")
    for add in REPORTS:
        add(kinds)


def add_annual(reports: SubParsers) -> None:
    p = reports.add_parser(
        "annual", help="The yearly report's figures over the reviews referred in a period, and one row per review.",
        description="Notifications and rapid reviews (and the share on time), decisions by outcome, LCSPRs "
                    "commissioned and published within the months allowed, deferrals and their reasons, "
                    "recommendations and actions, the quality markers rated: over the reviews referred in the "
                    "period (the local authority became aware between --from and --to), as they stood on --to "
                    "(or today, if earlier).")
    p.add_argument("--from", dest="start", type=parse_date, required=True, metavar="DATE",
                   help="First day of the period (yyyy-mm-dd).")
    p.add_argument("--to", dest="end", type=parse_date, required=True, metavar="DATE",
                   help="Last day of the period (yyyy-mm-dd), included.")
    p.add_argument("--format", choices=("md", "csv"), default="md",
                   help="md (the default): the figures, a bar chart and one row per review; csv: one row per review.")
    p.add_argument("--output", "-o", default="-", metavar="FILE",
                   help="Where to write it; - (the default) is standard output. With md, the chart is also "
                        "written beside it as FILE's name with -chart.svg.")
    p.set_defaults(handler=cmd_annual)


def cmd_annual(args: argparse.Namespace, edge: Edge) -> int:
    app = edge.app
    report = reports.annual(app, args.start, args.end)
    if args.format == "csv":
        text = to_csv(report)
    else:
        text = to_markdown(report, partnership=app.config.partnership, produced=app.clock.today())
        text += "\n" + quality_markdown(reports.annual_quality(app, report))
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    write_whole(path, text)
    written = [shown_path(path)]
    if args.format == "md":
        chart = chart_path(path)
        write_whole(chart, chart_svg(report))
        written.append(shown_path(chart))
    print(f"Wrote {' and '.join(written)}: {report.reviews} review{'' if report.reviews == 1 else 's'} referred "
          f"{report.start.isoformat()} to {report.end.isoformat()}, as they stood on {report.as_of.isoformat()}.")
    return 0


def chart_path(markdown: Path) -> Path:
    """Where the chart of a Markdown report goes: beside it, ``year.md`` → ``year-chart.svg``."""
    return markdown.with_name(f"{markdown.stem}-chart.svg")


def add_portfolio(reports: SubParsers) -> None:
    p = reports.add_parser("portfolio", help="Every open review, most urgent first, as Markdown (the lcspr-portfolio "
                                             "artifact); --publish publishes it now.")
    p.add_argument("--publish", action="store_true",
                   help="Publish it as the lcspr-portfolio artifact now (a new version only if it changed) and "
                        "print the artifact's page.")
    p.set_defaults(handler=cmd_portfolio)


def cmd_portfolio(args: argparse.Namespace, edge: Edge) -> int:
    app = edge.app
    if args.publish:
        changed = artifacts.publish_portfolio(app)
        print(f"Portfolio {'published' if changed else 'unchanged (no new version)'}: {app.config.portfolio_link}")
        return 0
    text = artifacts.portfolio(app)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def add_publish(sub: SubParsers) -> None:
    p = sub.add_parser("publish", help="Publish the portfolio in the Prefect UI now, and with a reference that "
                                      "review's summary, timeline and progress, as its run does after every answer.")
    p.add_argument("reference", nargs="?", help="The review whose artifacts to publish too.")
    p.set_defaults(handler=cmd_publish)


def cmd_publish(args: argparse.Namespace, edge: Edge) -> int:
    app = edge.app
    # One publisher at a time per home (the review runs hand theirs to the command server, many at once under
    # load): each reads the register once it holds the lock, so the last version published is the newest.
    with publishing_lock(edge.settings.home):
        made = artifacts.publish_review(app, args.reference) if args.reference else []
        changed = artifacts.publish_portfolio(app)
    if args.reference:
        print(f"{args.reference}: {len(made)} artifact(s) with a new version"
              + (f" ({', '.join(made)})" if made else ""))
    print(f"Portfolio {'published' if changed else 'unchanged (no new version)'}: {app.config.portfolio_link}")
    return 0


@contextlib.contextmanager
def publishing_lock(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "publish.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# The reports `lcspr report` offers, in the order of its --help.
REPORTS = [add_annual, add_portfolio]
COMMANDS = [add_report, add_publish]
