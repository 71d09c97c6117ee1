"""The yearly report (``models.report.AnnualReport``) as people take it away: Markdown with its chart, the
chart as an SVG bar chart, and CSV with one row per review in the NHS Safeguarding Case Review Tracker's
fields (``lcspr report annual``).

The chart is embedded in the Markdown as a ``data:image/svg+xml;base64`` image, so the file stands
alone (the Prefect UI renders such images in Markdown artifacts, offline); ``lcspr report`` also writes
it beside the file, to paste into a document. What is shown is what the register may say outside it:
review references, stages, dates, counts and the published report's own link; never a pseudonym or
case text. A value a person typed (the publication link) is escaped in Markdown and kept from being read
as a formula in a spreadsheet.

Pure: no clock (the report and the day it was produced are passed in), no settings, no I/O.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Sequence
from datetime import date
from xml.sax.saxutils import escape

from models.quality import MarkerFigures, QualityFigures, Rating
from models.report import AnnualReport, Timeliness, TrackerRow
from notifications.learning import learning_markdown

OUTCOME_LABELS = {
    "lcspr": "LCSPR",
    "reflective_learning_session": "Reflective learning session",
    "practice_review": "Practice review",
    "no_further_review": "No further review",
    "national_review": "National review (commissioned by the Panel)",
    "rapid_review": "Rapid review (no decision yet)",
    "referral": "Referral (no decision yet)",
}
DEFERRAL_LABELS = {"criminal_proceedings": "Criminal proceedings", "inquest": "Inquest", "other": "Other"}
RECOMMENDATION_LABELS = {"completed": "Completed (every action done)", "in_progress": "In progress",
                         "no_action_yet": "No action agreed yet"}

# The columns of ``lcspr report annual --format csv``, in order (the Tracker's fields first).
CSV_FIELDS = (
    "reference", "referred_on", "review_type", "converted_from_rapid_review", "stage", "stage_due",
    "slippage_working_days", "publication_date", "publication_link", "themes",
    "notified_on", "notified_on_time", "rapid_review_on", "rapid_review_on_time", "decision", "decided_on",
    "publication_due", "published_on_time", "deferrals", "deferral_reasons", "recommendations", "actions",
    "actions_completed", "actions_completed_on_time", "actions_overdue", "closed_on",
)

# The chart's segments: done on time, done late, not done and overdue, not done and not due yet (in the
# GOV.UK colours of the portfolio's charts, ``notifications/charts.py``).
SEGMENTS = (("on_time", "on time", "#00703c"), ("late", "late", "#d4351c"),
            ("overdue", "not done, overdue", "#f47738"), ("pending", "not done, not due yet", "#b1b4b6"))


# ---------------------------------------------------------------- CSV


def to_csv(report: AnnualReport) -> str:
    """One row per review, with a header; dates ISO, yes/no as ``yes``/``no``, nothing known as empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for row in report.rows:
        values = csv_values(row)
        writer.writerow([_spreadsheet_safe(values[f]) for f in CSV_FIELDS])
    return out.getvalue()


def csv_values(row: TrackerRow) -> dict[str, str]:
    """A review's row as text, by column name."""
    return {
        "reference": row.reference,
        "referred_on": _day(row.referred_on),
        "review_type": row.review_type,
        "converted_from_rapid_review": _yes_no(row.converted_from_rapid_review),
        "stage": row.stage,
        "stage_due": _day(row.stage_due),
        "slippage_working_days": "" if row.slippage_working_days is None else str(row.slippage_working_days),
        "publication_date": _day(row.published_on),
        "publication_link": row.publication_link,
        "themes": "; ".join(row.themes),
        "notified_on": _day(row.notified_on),
        "notified_on_time": _yes_no(row.notified_on_time),
        "rapid_review_on": _day(row.rapid_review_on),
        "rapid_review_on_time": _yes_no(row.rapid_review_on_time),
        "decision": row.decision or "",
        "decided_on": _day(row.decided_on),
        "publication_due": _day(row.publication_due),
        "published_on_time": _yes_no(row.published_on_time),
        "deferrals": str(row.deferrals),
        "deferral_reasons": "; ".join(row.deferral_reasons),
        "recommendations": str(row.recommendations),
        "actions": str(row.actions),
        "actions_completed": str(row.actions_completed),
        "actions_completed_on_time": str(row.actions_completed_on_time),
        "actions_overdue": str(row.actions_overdue),
        "closed_on": _day(row.closed_on),
    }


def _spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a typed link could start with ``=``)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---------------------------------------------------------------- chart


def chart_rows(report: AnnualReport) -> list[tuple[str, Timeliness]]:
    return [
        (f"Notifications (within {report.notification_working_days} working days)", report.notifications),
        (f"Rapid reviews (within {report.rapid_review_working_days} working days)", report.rapid_reviews),
        (f"LCSPRs published (within {report.publication_months} months)", report.publications),
        ("Actions (closed by their due date)", report.actions),
    ]


def chart_svg(report: AnnualReport) -> str:
    """A horizontal stacked bar chart: for each measure, how many were on time, late, overdue, not yet due."""
    rows = chart_rows(report)
    label_w, bar_w, right_w, row_h, top = 290, 330, 200, 34, 46
    width = label_w + bar_w + right_w
    legend_y = top + row_h * len(rows) + 18
    height = legend_y + 30
    scale = bar_w / max([1, *(t.total for _, t in rows)])
    title = f"Reviews referred {report.start.isoformat()} to {report.end.isoformat()}: on time or not"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="t d" '
        'font-family="Helvetica, Arial, sans-serif" font-size="13">',
        f'<title id="t">{escape(title)}</title>',
        f'<desc id="d">{escape(describe_chart(report))}</desc>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="8" y="24" font-size="15" font-weight="bold" fill="#202124">{escape(title)}</text>',
    ]
    for i, (label, counts) in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="8" y="{y + 17}" fill="#202124">{escape(label)}</text>')
        x = float(label_w)
        for field, name, colour in SEGMENTS:
            n = getattr(counts, field)
            if not n:
                continue
            w = n * scale
            parts.append(f'<rect class="bar {field}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 10}" '
                         f'fill="{colour}"><title>{escape(f"{label}: {n} {name}")}</title></rect>')
            if w >= 18:
                parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 18}" text-anchor="middle" fill="#ffffff">{n}</text>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 17}" fill="#5f6368">{escape(_bar_note(counts))}</text>')
    x = 8
    for _, name, colour in SEGMENTS:
        parts.append(f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 17}" y="{legend_y + 11}" fill="#202124">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def describe_chart(report: AnnualReport) -> str:
    """The chart in words (its alternative text)."""
    return "; ".join(f"{label}: {c.on_time} on time, {c.late} late, {c.overdue} overdue, {c.pending} not due yet"
                     for label, c in chart_rows(report))


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _bar_note(counts: Timeliness) -> str:
    """What a bar adds up to: "2 of 3 done on time, 1 to do"."""
    if not counts.total:
        return "none"
    parts = [f"{counts.on_time} of {counts.done} done on time" if counts.done else "none done yet"]
    if counts.overdue + counts.pending:
        parts.append(f"{counts.overdue + counts.pending} to do")
    return ", ".join(parts)


# ---------------------------------------------------------------- Markdown


def to_markdown(report: AnnualReport, *, partnership: str, produced: date, chart: str | None = None) -> str:
    """The report as Markdown: how it was counted, the chart, the figures, then one row per review.

    ``chart`` is the image's address (default: the chart itself, embedded as a data URI)."""
    image = chart or data_uri(chart_svg(report))
    n, r, m = report.notification_working_days, report.rapid_review_working_days, report.publication_months
    lines = [
        f"# Child safeguarding practice reviews: {report.start.isoformat()} to {report.end.isoformat()}",
        "",
        f"{_md(partnership)}. Reviews **referred** in the period (the local authority became aware of the "
        f"incident between {report.start.isoformat()} and {report.end.isoformat()}), as they stood on "
        f"**{report.as_of.isoformat()}**: decisions dated later are not counted. On time means within the rule "
        "itself, before any pause or agreed extension (a deferred publication counts as late; deferrals are "
        f"listed with their reasons). Produced {produced.isoformat()} from the case register.",
        "",
        f"![{_md(describe_chart(report))}]({image})",
        "",
        "## Figures",
        "",
        "| Figure | Number | Share |",
        "|---|---:|---:|",
        f"| Reviews referred | {report.reviews} | |",
        f"| … children they name (died / seriously harmed / other) | {report.children.get('children', 0)} "
        f"({report.children.get('died', 0)} / {report.children.get('seriously_harmed', 0)} / "
        f"{report.children.get('other', 0)}) | |",
        f"| … of them looked after / care leavers | {report.children.get('looked_after', 0)} / "
        f"{report.children.get('care_leavers', 0)} | |",
        f"| Serious incident notifications made | {report.notifications.done} | |",
        f"| … within {n} working days of the local authority becoming aware | {report.notifications.on_time} "
        f"| {_share(report.notifications)} |",
        f"| Notifications still to make (overdue / not yet due) | {report.notifications.overdue} / "
        f"{report.notifications.pending} | |",
        f"| Not notifiable | {report.not_notifiable} | |",
        f"| Rapid reviews completed | {report.rapid_reviews.done} | |",
        f"| … within {r} working days of the notification | {report.rapid_reviews.on_time} "
        f"| {_share(report.rapid_reviews)} |",
        f"| Rapid reviews in progress (overdue / not yet due) | {report.rapid_reviews.overdue} / "
        f"{report.rapid_reviews.pending} | |",
        f"| LCSPRs commissioned | {report.commissioned} | |",
        f"| … converted from a rapid review | {report.converted} | |",
        f"| LCSPRs published | {report.publications.done} | |",
        f"| … within {m} months of the decision to hold them | {report.publications.on_time} "
        f"| {_share(report.publications)} |",
        f"| LCSPRs not yet published (past {m} months / within) | {report.publications.overdue} / "
        f"{report.publications.pending} | |",
        f"| Publications deferred (deferrals recorded) | {sum(report.deferrals.values())} | |",
        f"| Recommendations | {sum(report.recommendations.values())} | |",
        f"| Actions | {report.actions.total} | |",
        f"| … closed by their due date | {report.actions.on_time} | {_share(report.actions)} |",
        "",
        "## Decisions by outcome",
        "",
        "| Decision | Reviews |",
        "|---|---:|",
        *(f"| {OUTCOME_LABELS[o]} | {count} |" for o, count in report.decisions.items()),
        f"| Awaiting the decision | {report.awaiting_decision} |",
        "",
        "## Publication deferrals",
        "",
        "| Reason | Deferrals |",
        "|---|---:|",
        *(f"| {DEFERRAL_LABELS.get(reason, reason)} | {count} |" for reason, count in report.deferrals.items()),
        "",
        f"Deferred and not yet published on {report.as_of.isoformat()}: {report.deferred_now}.",
        "",
        "## Recommendations and actions",
        "",
        "| Recommendations | Number |",
        "|---|---:|",
        *(f"| {RECOMMENDATION_LABELS[s]} | {count} |" for s, count in report.recommendations.items()),
        "",
        "| Actions | Number |",
        "|---|---:|",
        f"| Closed by their due date | {report.actions.on_time} |",
        f"| Closed after their due date | {report.actions.late} |",
        f"| Open and overdue | {report.actions.overdue} |",
        f"| Open, not yet due | {report.actions.pending} |",
        "",
        *(learning_markdown(report.learning) if report.learning is not None else []),
        "## Reviews (NHS Safeguarding Case Review Tracker fields)",
        "",
        *(_tracker_table(report.rows) if report.rows else ["No review was referred in the period."]),
        "",
        "Themes: the list's titles and #tags given to the review's recommendations (`lcspr themes REF`). "
        "`--format csv` gives these rows with every date behind the figures.",
        "",
    ]
    return "\n".join(lines)


def _tracker_table(rows: Sequence[TrackerRow]) -> list[str]:
    return [
        "| Reference | Referred | Review type | Converted from rapid review | Stage | Stage due | Slippage "
        "(working days) | Published | Link | Themes |",
        "|---|---|---|---|---|---|---:|---|---|---|",
        *(_tracker_line(row) for row in rows),
    ]


def _tracker_line(row: TrackerRow) -> str:
    values = csv_values(row)
    cells: Sequence[str] = (
        row.reference, values["referred_on"], OUTCOME_LABELS.get(row.review_type, row.review_type),
        values["converted_from_rapid_review"], row.stage.replace("_", " "), values["stage_due"] or "–",
        values["slippage_working_days"] or "–", values["publication_date"] or "–",
        row.publication_link or "–", values["themes"],
    )
    return "| " + " | ".join(_md(c) for c in cells) + " |"


_MARKDOWN_SPECIAL = "\\`*_{}[]<>()#+!|"


def _md(text: str) -> str:
    """Text as Markdown shows it literally: special characters escaped, on one line."""
    flat = " ".join(text.split())
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in flat)


def _share(counts: Timeliness) -> str:
    share = counts.share_on_time
    return "–" if share is None else f"{share:.0%} of {counts.done}"


def _day(day: date | None) -> str:
    return day.isoformat() if day else ""


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


# ---------------------------------------------------------------- quality markers (``models.quality``)


def quality_markdown(figures: QualityFigures) -> str:
    """The yearly report's section on the quality of each review: per marker, how many of the reviews were
    rated each way by the assessment in force on the report's day, and how many were not."""
    lines = [
        "## Quality of each review (SCIE/NSPCC quality markers)",
        "",
    ]
    if not figures.reviews:
        return "\n".join([*lines, "No review was referred in the period.", ""])
    lines += [
        f"Over the {figures.reviews} review{'' if figures.reviews == 1 else 's'} above, each marker as its latest "
        f"assessment on {figures.as_of.isoformat()} rated it. *Not assessed*: the review had reached the stage the "
        "marker is assessed from, but nobody had rated it; *not due*: it had not, or the marker is not on its "
        "route (a review that ended at the Chair's decision).",
        "",
        "| Marker | Met | Partly met | Not met | Not applicable | Not assessed | Not due |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures.markers:
        lines.append(f"| {_md(f.marker.title)} | " + " | ".join(str(n) for n in _quality_counts(f)) + " |")
    totals = [sum(column) for column in zip(*(_quality_counts(f) for f in figures.markers), strict=True)]
    lines += [
        "| **Every marker** | " + " | ".join(f"**{n}**" for n in totals) + " |",
        "",
        "`lcspr quality REFERENCE` shows a review's checklist, with each marker's notes and history.",
        "",
    ]
    return "\n".join(lines)


def _quality_counts(f: MarkerFigures) -> tuple[int, ...]:
    return (*(f.rated.get(r, 0) for r in Rating), f.not_assessed, f.not_due)
