"""``lcspr themes`` and ``lcspr briefing``: learning that spreads.

::

    lcspr themes --list                                        # the partnership's list of themes
    lcspr themes LCSPR-2026-0001                               # its recommendations and their themes
    lcspr themes LCSPR-2026-0001 --recommendation 2 --add neglect,information_sharing --tag pre-birth \\
        --by "A. Jones, Partnership Manager"
    lcspr themes LCSPR-2026-0001 --recommendation 2 --remove neglect --by "A. Jones, Partnership Manager"
    lcspr themes LCSPR-2026-0001 --history                     # every change, removed ones too
    lcspr briefing LCSPR-2026-0001                             # a published review's learning briefing (Markdown)
    lcspr briefing LCSPR-2026-0001 --output briefing.html      # as an HTML page (.md: Markdown)
    lcspr briefing LCSPR-2026-0001 --publish                   # as the lcspr-briefing-<ref> artifact in the UI
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lcspr.calendar_command import write_whole
from lcspr.console import Edge, SubParsers, UserError, parse_reference, shown_path, table
from models.themes import ThemeChange, ThemeKind, current_by_recommendation
from services import themes


def _items(values: list[str] | None) -> tuple[str, ...]:
    """Repeated options, each a comma list: ``--add a,b --add c`` → (a, b, c)."""
    return tuple(item.strip() for value in values or () for item in value.split(",") if item.strip())


def add_themes(sub: SubParsers) -> None:
    p = sub.add_parser(
        "themes", help="The themes of a review's recommendations: list them, add or remove some (--list: the "
                       "partnership's themes).",
        description="Give each recommendation themes of the partnership's list (LCSPR_THEMES) and free tags; the "
                    "yearly report groups reviews, recommendations and actions by them. A removed theme stays in "
                    "the register, with who removed it.")
    p.add_argument("reference", type=parse_reference, nargs="?", help="The review (e.g. LCSPR-2026-0001).")
    p.add_argument("--list", action="store_true", help="The partnership's themes: key and title.")
    p.add_argument("--recommendation", type=int, metavar="N", help="The recommendation to change (1 the first).")
    p.add_argument("--add", action="append", metavar="KEYS", help="Themes of the list to add, by key, comma-separated.")
    p.add_argument("--tag", action="append", metavar="TAGS",
                   help="Free tags to add: short lowercase words with hyphens (e.g. pre-birth), comma-separated.")
    p.add_argument("--remove", action="append", metavar="KEYS_OR_TAGS", help="Themes or tags to remove.")
    p.add_argument("--by", help="Who records the change (a professional's name and role).")
    p.add_argument("--history", action="store_true", help="Every theme and tag given, removed ones too.")
    p.set_defaults(handler=cmd_themes)


def cmd_themes(args: argparse.Namespace, edge: Edge) -> int:
    if args.list:
        controlled = edge.app.config.themes
        print(table([(t.key, t.title) for t in controlled.themes], ("key", "title")))
        return 0
    if args.reference is None:
        raise UserError("Name a review (lcspr themes REF), or use --list for the partnership's themes.")
    reference = args.reference
    changing = args.add or args.tag or args.remove
    if args.history:
        return _history(edge, reference)
    if changing or args.recommendation is not None:
        if args.recommendation is None or args.by is None or not changing:
            raise UserError("A change needs --recommendation N, --add/--tag/--remove and --by NAME.")
        plan = themes.change(edge.app, reference, ThemeChange(args.recommendation, _items(args.add),
                                                              _items(args.tag), _items(args.remove), args.by))
        done = [*(f"added {v}" for _, v in plan.add), *(f"removed {a.value}" for a in plan.remove),
                *(f"{v} was there already" for v in plan.already)]
        print(f"{reference}, recommendation {args.recommendation}: {'; '.join(done)}.")
    return _show(edge, reference)


def _show(edge: Edge, reference: str) -> int:
    found = themes.of_review(edge.app, reference)
    controlled = edge.app.config.themes
    review, carried = found.review, current_by_recommendation(found.standing)
    count = len(review.recommendations)
    if not count:
        print(f"{reference}: no recommendations yet (stage {review.stage.value.replace('_', ' ')}); themes are "
              "given once the final report (or the learning review) records them.")
        return 0
    print(f"{reference}: {count} recommendation{'' if count == 1 else 's'}")
    for n, text in enumerate(review.recommendations, start=1):
        items = carried.get(n, ())
        print(f"\n{n}. {text}")
        print("   themes: " + (", ".join(f"{controlled.title(a.value)} ({a.value})" for a in items
                                        if a.kind is ThemeKind.CONTROLLED) or "none yet"))
        tags = [a.value for a in items if a.kind is ThemeKind.TAG]
        if tags:
            print("   tags: " + ", ".join(tags))
    return 0


def _history(edge: Edge, reference: str) -> int:
    every = themes.history(edge.app, reference)
    if not every:
        print(f"{reference}: no theme or tag given yet.")
        return 0
    print(table([(str(a.recommendation), a.kind.value, a.value, a.assigned_at.date().isoformat(), a.assigned_by,
                  f"{a.removed_at.date().isoformat()} by {a.removed_by}" if a.removed_at else "")
                 for a in every], ("rec", "kind", "theme or tag", "given", "by", "removed")))
    return 0


def add_briefing(sub: SubParsers) -> None:
    p = sub.add_parser(
        "briefing", help="A published review's one-page learning briefing (Markdown, or HTML with --output x.html).",
        description="The reference, the kind of review, when and where it was published, its recommendations with "
                    "their themes (what practitioners should do differently) and its actions' owners and status. "
                    "Never the pseudonym or case facts. Published reviews only.")
    p.add_argument("reference", type=parse_reference, help="The review (e.g. LCSPR-2026-0001).")
    p.add_argument("--output", "-o", default="-", metavar="FILE",
                   help="Where to write it: FILE.md (Markdown) or FILE.html (an HTML page); - (the default) is "
                        "standard output, in Markdown.")
    p.add_argument("--publish", action="store_true",
                   help="Also publish it in the Prefect UI as the markdown artifact lcspr-briefing-<reference>.")
    p.set_defaults(handler=cmd_briefing)


def cmd_briefing(args: argparse.Namespace, edge: Edge) -> int:
    app, reference = edge.app, args.reference
    if args.output == "-":
        sys.stdout.write(themes.briefing_page(app, reference))
    else:
        path = Path(args.output)
        suffix = path.suffix.lower()
        if suffix not in (".md", ".html", ".htm"):
            raise UserError("--output must end in .md (Markdown) or .html (an HTML page).")
        text = themes.briefing_page(app, reference, "md" if suffix == ".md" else "html")
        write_whole(path, text)
        print(f"Wrote the learning briefing of {reference} to {shown_path(path)}.")
    if args.publish:
        key, made = themes.publish_briefing(app, reference)
        # Beside a page written to standard output, the note goes to standard error.
        print(f"Briefing {'published' if made else 'unchanged (no new version)'}: {app.config.artifact_link(key)}",
              file=sys.stderr if args.output == "-" else sys.stdout)
    return 0


COMMANDS = [add_themes, add_briefing]
