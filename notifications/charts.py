"""Charts as SVG text, built by hand for the Prefect UI's markdown artifacts.

The V2 UI shows an image given as a ``data:image/svg+xml;base64,...`` URI (:func:`data_uri`) as it
is, offline, and strips raw inline ``<svg>``; so each chart is a whole SVG document, drawn here
with plain strings (no plotting library, no fonts beyond the browser's sans-serif) and every
piece of text escaped. Pure: dates, including today, come in as arguments.

- :func:`timeline_svg`: a review's clocks as a Gantt chart against today: one bar a clock from
  its start to its target (a diamond at the due date: statutory, or the partnership's own),
  coloured by RAG, the part past the due date of an overdue clock hatched, a met or stopped clock
  ending where it did, and a dashed line at today.
- :func:`bar_chart_svg`: horizontal bars of counts (the portfolio's reviews by RAG).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

# GOV.UK colours: readable on white, and the ones the partnership's other reports use.
COLOURS = {
    "red": "#d4351c",
    "amber": "#f47738",
    "green": "#00703c",
    "met": "#1d70b8",
    "paused": "#b1b4b6",
    "stopped": "#505a5f",
}
# Month names written out here: ``strftime("%b")`` follows the process's locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TEXT, MUTED, GRID, TODAY = "#0b0c0c", "#505a5f", "#dfe1e2", "#d4351c"
FONT = "Arial, Helvetica, sans-serif"

WIDTH = 900
LABEL_WIDTH = 250
RIGHT_MARGIN = 24
ROW_HEIGHT = 40
BAR_HEIGHT = 14
TOP = 64  # title and the axis's date labels above the first row


@dataclass(frozen=True)
class ClockBar:
    """One clock as the timeline draws it."""

    label: str
    start: date
    due: date
    # "red", "amber", "green" while it runs; "met", "paused" or "stopped" otherwise.
    rag: str
    ended_on: date | None = None  # the day it was met or stopped
    days_late: int = 0  # working days past the due date, while it runs


def data_uri(svg: str) -> str:
    """The SVG as a self-contained image URI for a markdown ``![...](...)``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _text(x: float, y: float, text: str, *, size: int = 12, anchor: str = "start", fill: str = TEXT,
          weight: str = "normal") -> str:
    # A white outline under the letters keeps them readable where a grid or today's line crosses them.
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}" stroke="#ffffff" stroke-width="3" paint-order="stroke" '
            f'stroke-linejoin="round">{escape(text)}</text>')


def _document(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family={quoteattr(FONT)} role="img">')
    return "\n".join([head, f"<title>{escape(title)}</title>",
                      f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>', *body, "</svg>"]) + "\n"


def short_date(day: date) -> str:
    """"3 Mar 2026": unambiguous on both sides of the Atlantic."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _ticks(lo: date, hi: date) -> list[tuple[date, str]]:
    """Dates to mark on the axis and their labels: Mondays, the first of each month, or of each quarter."""
    span = (hi - lo).days
    ticks: list[tuple[date, str]] = []
    if span <= 62:
        day = lo + timedelta(days=(7 - lo.weekday()) % 7)
        while day <= hi:
            ticks.append((day, f"{day.day} {MONTHS[day.month - 1]}"))
            day += timedelta(days=7)
        return ticks
    step = 1 if span <= 550 else 3  # months between ticks
    months = lo.year * 12 + lo.month - 1 + (lo.day != 1)  # the first month starting on or after lo
    months += -months % step
    first = True
    while (day := date(months // 12, months % 12 + 1, 1)) <= hi:
        ticks.append((day, MONTHS[day.month - 1] + (f" {day.year}" if first or day.month == 1 else "")))
        first = False
        months += step
    return ticks


def timeline_svg(bars: Sequence[ClockBar], today: date, title: str) -> str:
    """A Gantt chart of the clocks against today (see the module docstring)."""
    dates = [today] + [d for b in bars for d in (b.start, b.due, b.ended_on) if d is not None]
    lo, hi = min(dates) - timedelta(days=3), max(dates) + timedelta(days=3)
    span = max((hi - lo).days, 1)
    left, right = LABEL_WIDTH, WIDTH - RIGHT_MARGIN
    rows_bottom = TOP + ROW_HEIGHT * max(len(bars), 1)
    height = rows_bottom + 64

    def x(day: date) -> float:
        return left + (day - lo).days / span * (right - left)

    body = [
        '<defs><pattern id="late" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6d7d2"/>'
        f'<rect width="3" height="6" fill="{COLOURS["red"]}"/></pattern></defs>',
        _text(12, 24, title, size=16, weight="bold"),
    ]
    for day, label in _ticks(lo, hi):
        body.append(f'<line x1="{x(day):.1f}" y1="{TOP - 8}" x2="{x(day):.1f}" y2="{rows_bottom}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(x(day), TOP - 14, label, size=11, anchor="middle", fill=MUTED))
    # Today, under the bars and their notes (which stay readable where it crosses them).
    body.append(f'<line x1="{x(today):.1f}" y1="{TOP - 8}" x2="{x(today):.1f}" y2="{rows_bottom}" '
                f'stroke="{TODAY}" stroke-width="2" stroke-dasharray="5 3"/>')
    body.append(_text(x(today), TOP - 28, f"today {short_date(today)}", size=11,
                      anchor=_anchor(x(today), left, right), fill=TODAY, weight="bold"))
    if not bars:
        body.append(_text(left, TOP + 24, "No clocks have started yet.", fill=MUTED))
    for i, bar in enumerate(bars):
        body += _row(bar, TOP + i * ROW_HEIGHT, today, x, left)
    body += _legend(rows_bottom + 28)
    return _document(WIDTH, height, title, body)


def _anchor(at: float, left: float, right: float) -> str:
    """Text near either edge runs inwards."""
    if at - left < 80:
        return "start"
    if right - at < 80:
        return "end"
    return "middle"


def _row(bar: ClockBar, top: int, today: date, x: Callable[[date], float], left: int) -> list[str]:
    out = [_text(12, top + 12, _fit(bar.label, 36), size=12)]
    y = top + 2
    colour = COLOURS.get(bar.rag, COLOURS["paused"])
    begin, end = min(bar.start, bar.due), max(bar.start, bar.due)
    if bar.ended_on is not None:  # met or stopped: the bar runs to the day it ended
        begin, end = min(begin, bar.ended_on), bar.ended_on
    x0, x1 = x(begin), x(end)
    out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 3):.1f}" height="{BAR_HEIGHT}" rx="2" '
               f'fill="{colour}"/>')
    if bar.ended_on is None and bar.rag == "red" and today > bar.due:  # overdue: the days past the target
        xd, xt = x(bar.due), x(today)
        out.append(f'<rect x="{xd:.1f}" y="{y}" width="{max(xt - xd, 3):.1f}" height="{BAR_HEIGHT}" '
                   f'fill="url(#late)" stroke="{COLOURS["red"]}" stroke-width="1"/>')
    # The target (statutory, or the partnership's own for a step no law times): a diamond at the due date.
    xd, mid = x(bar.due), y + BAR_HEIGHT / 2
    out.append(f'<path d="M {xd:.1f} {mid - 7:.1f} L {xd + 6:.1f} {mid:.1f} L {xd:.1f} {mid + 7:.1f} '
               f'L {xd - 6:.1f} {mid:.1f} Z" fill="{TEXT}" stroke="#ffffff" stroke-width="1"/>')
    note = f"{short_date(bar.start)} → due {short_date(bar.due)}"
    if bar.rag == "met" and bar.ended_on:
        note += f" · met {short_date(bar.ended_on)}"
    elif bar.rag == "stopped" and bar.ended_on:
        note += f" · stopped {short_date(bar.ended_on)}"
    elif bar.rag == "paused":
        note += " · paused"
    elif bar.days_late:
        note += f" · {bar.days_late} working day{'' if bar.days_late == 1 else 's'} late"
    right = WIDTH - RIGHT_MARGIN
    start_x = min(x0, xd - 6)
    if start_x > (left + right) / 2:
        out.append(_text(max(x1, xd + 6), y + BAR_HEIGHT + 13, note, size=10, anchor="end", fill=MUTED))
    else:
        out.append(_text(start_x, y + BAR_HEIGHT + 13, note, size=10, fill=MUTED))
    return out


def _legend(y: int) -> list[str]:
    out: list[str] = []
    at = 12.0
    for name, label in (("red", "overdue"), ("amber", "due soon"), ("green", "on track"), ("met", "met"),
                        ("paused", "paused"), ("stopped", "stopped")):
        out.append(f'<rect x="{at:.1f}" y="{y - 10}" width="12" height="12" rx="2" fill="{COLOURS[name]}"/>')
        out.append(_text(at + 17, y, label, size=11))
        at += 30 + 7 * len(label)
    out.append(f'<rect x="{at:.1f}" y="{y - 10}" width="22" height="12" fill="url(#late)"/>')
    out.append(_text(at + 27, y, "days past the target", size=11))
    at += 27 + 7 * 20
    out.append(f'<path d="M {at + 6:.1f} {y - 11} L {at + 12:.1f} {y - 4} L {at + 6:.1f} {y + 3} '
               f'L {at:.1f} {y - 4} Z" fill="{TEXT}"/>')
    out.append(_text(at + 17, y, "target (due date)", size=11))
    at += 17 + 7 * 17
    out.append(f'<line x1="{at + 6:.1f}" y1="{y - 12}" x2="{at + 6:.1f}" y2="{y + 4}" stroke="{TODAY}" '
               'stroke-width="2" stroke-dasharray="5 3"/>')
    out.append(_text(at + 14, y, "today", size=11))
    return out


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart_svg(counts: Sequence[tuple[str, int, str]], title: str) -> str:
    """Horizontal bars, one per ``(label, count, colour)``, longest scaled to the width."""
    width, label_width, row = 520, 150, 30
    top = 44
    height = top + row * max(len(counts), 1) + 12
    most = max((n for _, n, _ in counts), default=0)
    body = [_text(12, 24, title, size=15, weight="bold")]
    for i, (label, count, colour) in enumerate(counts):
        y = top + i * row
        length = (width - label_width - 60) * count / most if most else 0
        body.append(_text(12, y + 15, _fit(label, 22), size=12))
        body.append(f'<rect x="{label_width}" y="{y + 2}" width="{max(length, 2):.1f}" height="18" rx="2" '
                    f'fill="{colour}"/>')
        body.append(_text(label_width + max(length, 2) + 8, y + 16, str(count), size=13, weight="bold"))
    return _document(width, height, title, body)
