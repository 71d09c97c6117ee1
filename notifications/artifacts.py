"""What the Prefect UI shows of the reviews as artifacts: each review's summary, timeline and
progress, and the portfolio of every open review (the sub group's start page).

Built from what ``services.queries.status`` says of a review (the register's own reading: stage,
route, open step, every clock with its state and RAG), never worked out again here. Pure: no
I/O, no clock (``status["today"]`` is the day the status was read), no settings; the links come
in as arguments. The artifacts name reviews by reference only, never by pseudonym, and carry no
case text: a step's title, a role, an agency's name, a date, a colour.

Keys (Prefect's: lowercase letters, digits and dashes) are stable, so each artifact is one
history of versions in the UI: ``review-lcspr-2026-0001-summary``, ``-timeline``, ``-progress``,
and ``lcspr-portfolio``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from models.lifecycle import Route, Stage
from models.progress import Progress, route_progress
from models.roles import describe_role
from notifications.charts import COLOURS, ClockBar, bar_chart_svg, data_uri, short_date, timeline_svg

PORTFOLIO_KEY = "lcspr-portfolio"
REVIEW_PARTS = ("summary", "timeline", "progress")
RUNNING = ("red", "amber", "green")  # the colours of a clock still running
URGENCY = ("red", "amber", "green", "paused", "-")  # how a review's RAG sorts, most urgent first

PORTFOLIO_DESCRIPTION = "Every open review, most urgent first: stage, open step, owner, due date, RAG, days late."

CLOCK_LABELS: Mapping[str, str] = {
    "serious_incident_notification": "Serious incident notification",
    "rapid_review": "Rapid review",
    "inform_bodies": "Inform DfE, Ofsted and the Panel",
    "agency_report": "Agency report: {subject}",
    "draft_round": "Draft comments ({subject})",
    "final_report_to_bodies": "Final report to Panel, DfE, Ofsted",
    "publication": "Publication",
    "deferral_review": "Deferral review ({subject})",
    "stays_published": "Stays published",
    "action": "{subject}",  # "Action 3": the action plan's, or an immediate one
}
ROUTE_NAMES: Mapping[str, str] = {
    Route.LCSPR: "LCSPR",
    Route.LEARNING_REVIEW: "Other learning review",
    Route.NO_FURTHER_REVIEW: "No further review",
    Route.NATIONAL_REVIEW: "National review",
}


@dataclass(frozen=True)
class Artifact:
    """One artifact to publish under its key: a new version only if ``data`` differs from the latest."""

    key: str
    kind: Literal["markdown", "progress"]
    data: str | float
    description: str


def review_key(reference: str, part: str) -> str:
    """``review-lcspr-2026-0001-summary``: the reference in Prefect's key alphabet."""
    return f"review-{re.sub(r'[^a-z0-9]+', '-', reference.lower()).strip('-')}-{part}"


# ---------------------------------------------------------------- words


def md(text: object) -> str:
    """Text as markdown shows it literally, on one line (a table cell stays one cell)."""
    plain = " ".join(str(text).split())
    return re.sub(r"([\\`*_\[\]<>|#!])", r"\\\1", plain)


def words(value: str | None) -> str:
    """``awaiting_decision`` as "Awaiting decision"."""
    return value.replace("_", " ").capitalize() if value else "—"


def whom(asked_of: str) -> str:
    """Who owes a step: a role in words, or the agencies still to report."""
    if asked_of.startswith("agency-"):
        agencies = [a.removeprefix("agency-").replace("-", " ") for a in asked_of.split(",")]
        return "the agencies still to report: " + ", ".join(agencies)
    return describe_role(asked_of)


def clock_label(clock: Mapping[str, Any]) -> str:
    """A clock's name, short enough for the chart: "Rapid review", "Draft circulation target (round 2)"."""
    subject = (clock["subject"] or "").replace("-", " ")
    template = CLOCK_LABELS.get(clock["kind"], words(clock["kind"]) + (" ({subject})" if subject else ""))
    label = template.format(subject=subject)
    return label[:1].upper() + label[1:]


def rag_text(rag: str) -> str:
    return f"**{rag.upper()}**" if rag in RUNNING else rag


def days_late(clock: Mapping[str, Any]) -> int:
    """Working days past the due date of a clock still running (0 if it is not overdue)."""
    left = clock["working_days_left"]
    return -left if clock["state"] == "breached" and left is not None and left < 0 else 0


def _day(value: str | None) -> str:
    return short_date(date.fromisoformat(value)) if value else "—"


# ---------------------------------------------------------------- one review


def progress_of(status: Mapping[str, Any]) -> Progress:
    return route_progress(Stage(status["stage"]), Route(status["route"]) if status["route"] else None)


def clock_bars(status: Mapping[str, Any]) -> list[ClockBar]:
    return [ClockBar(label=clock_label(c), start=date.fromisoformat(c["start"]), due=date.fromisoformat(c["due"]),
                     rag=c["rag"], ended_on=_ended(c), days_late=days_late(c))
            for c in status["clocks"]]


def _ended(clock: Mapping[str, Any]) -> date | None:
    ended = clock["met_on"] or clock["stopped_on"]
    return date.fromisoformat(ended) if ended else None


def summary_markdown(status: Mapping[str, Any], *, timeline_link: str, portfolio_link: str) -> str:
    """Where the review stands: stage, route, progress, the step it waits on (of whom, by when, the
    link to answer it), the last refusal, and every clock."""
    ref = status["reference"]
    progress = progress_of(status)
    route = ROUTE_NAMES.get(status["route"], words(status["route"])) if status["route"] else "not chosen yet"
    lines = [
        f"# {md(ref)}: where the review stands",
        "",
        f"As the case register has it on {_day(status['today'])}.",
        "",
        "| | |",
        "|---|---|",
        f"| Stage | {md(words(status['stage']))} |",
        f"| Route | {md(route)} |",
        f"| Progress | {progress.done} of {progress.total} steps of the route done ({progress.percent:g} %) |",
        "",
        "## Waiting on",
        "",
    ]
    step = status["open_step"]
    if step is None:
        closed = f" on {_day(status['closed_on'])}" if status["closed_on"] else ""
        lines += [f"Nothing: the review is closed{closed}.", ""]
    else:
        due = f"**{_day(step['due'])}**" if step["due"] else "no deadline"
        lines += [
            f"**{md(step['title'])}** (`{step['key']}`), asked of {md(whom(step['asked_of']))}.",
            "",
            f"Due: {due}. Open since {_day(step['opened_on'])}.",
            "",
        ]
        clock = next((c for c in status["clocks"] if c["key"] == step["clock"]), None)
        if clock is not None:
            late = days_late(clock)
            lines += [f"RAG: {rag_text(clock['rag'])}" + (f", {late} working days late." if late else "."), ""]
        if status["flow_run_url"]:
            lines += [f"[Answer it]({status['flow_run_url']}): the run's page, **Open menu** → **Resume**.", ""]
        if step["last_refusal"]:
            lines += [f"> **The last answer was refused:** {md(step['last_refusal'])}", ""]
    lines += ["## Clocks", ""]
    if status["clocks"]:
        lines += ["| Clock | Start | Due | State | RAG | Working days late |", "|---|---|---|---|---|---|"]
        for c in status["clocks"]:
            ended = c["met_on"] or c["stopped_on"]
            state = words(c["state"]) + (f" {_day(ended)}" if ended else "")
            lines.append(f"| {md(clock_label(c))} | {_day(c['start'])} | {_day(c['due'])} | {md(state)} | "
                         f"{rag_text(c['rag'])} | {days_late(c) or ''} |")
    else:
        lines.append("No clocks have started yet.")
    lines += action_lines(status["actions"])
    lines += quality_lines(status.get("quality"))
    lines += ["", f"[Timeline]({timeline_link}) · [All open reviews]({portfolio_link})"]
    return "\n".join(lines) + "\n"


ACTION_FOR = {"immediate_safety": "immediate safety action", "improvement": "improvement"}


def action_lines(actions: Sequence[Mapping[str, Any]]) -> list[str]:
    """The summary's section on the review's actions: immediate ones from the rapid review onwards and the
    action plan's. What each is for, its owner agency, due date and whether it is done; never its wording."""
    if not actions:
        return []
    lines = ["", "## Actions", "", "| Action | For | Owner agency | Due | Completed |", "|---:|---|---|---|---|"]
    for a in actions:
        purpose = ACTION_FOR.get(a["kind"], f"recommendation {a['recommendation_number']}")
        done = _day(a["completed_on"]) if a["completed_on"] else "open"
        lines.append(f"| {a['number']} | {purpose} | {md(a['owner_agency'])} | {_day(a['due_on'])} | {done} |")
    return lines


def quality_lines(quality: Mapping[str, Any] | None) -> list[str]:
    """The summary's section on the review's quality checklist (``services.quality.summary_json``), if given."""
    if not quality:
        return []
    return ["", "## Quality", "", f"Quality: {md(quality['line'])}. `lcspr quality REFERENCE` shows the checklist."]


def timeline_markdown(status: Mapping[str, Any]) -> str:
    """The review's clocks as a chart against today, as an image the UI shows offline."""
    ref = status["reference"]
    today = date.fromisoformat(status["today"])
    svg = timeline_svg(clock_bars(status), today, f"{ref}: clocks against today")
    return "\n".join([
        f"# {md(ref)}: timeline",
        "",
        f"![The clocks of {md(ref)} against {short_date(today)}]({data_uri(svg)})",
        "",
        "Each bar runs from the day a clock started to its target (the diamond: its due date, statutory or "
        "the partnership's own), "
        "or to the day it was met or stopped; the hatched part is time past the target; the dashed line is today.",
    ]) + "\n"


def review_artifacts(status: Mapping[str, Any], *, link: Callable[[str], str]) -> list[Artifact]:
    """The summary, timeline and progress of one review; ``link(key)`` is an artifact's page in the UI."""
    ref = status["reference"]
    progress = progress_of(status)
    return [
        Artifact(review_key(ref, "summary"), "markdown",
                 summary_markdown(status, timeline_link=link(review_key(ref, "timeline")),
                                  portfolio_link=link(PORTFOLIO_KEY)),
                 f"{ref}: stage, route, the step it waits on, every clock, the quality checklist."),
        Artifact(review_key(ref, "timeline"), "markdown", timeline_markdown(status),
                 f"{ref}: its clocks against today and their targets."),
        Artifact(review_key(ref, "progress"), "progress", progress.percent,
                 f"{ref}: {progress.done} of {progress.total} steps of its route done."),
    ]


# ---------------------------------------------------------------- the portfolio


@dataclass(frozen=True)
class PortfolioRow:
    """One open review as the portfolio lists it."""

    reference: str
    stage: str
    step_key: str | None
    step_title: str | None
    owner: str
    due: date | None
    rag: str  # the worst colour of its running clocks; "paused" or "-" when none runs
    days_late: int  # the most working days any running clock is overdue
    summary_link: str
    run_link: str | None


def portfolio_row(status: Mapping[str, Any], *, summary_link: str) -> PortfolioRow:
    clocks = status["clocks"]
    running = [c["rag"] for c in clocks if c["rag"] in RUNNING]
    idle = "paused" if any(c["rag"] == "paused" for c in clocks) else "-"
    rag = min(running, key=URGENCY.index) if running else idle
    step = status["open_step"]
    return PortfolioRow(
        reference=status["reference"],
        stage=status["stage"],
        step_key=step["key"] if step else None,
        step_title=step["title"] if step else None,
        owner=whom(step["asked_of"]) if step else "",
        due=date.fromisoformat(step["due"]) if step and step["due"] else None,
        rag=rag,
        days_late=max((days_late(c) for c in clocks), default=0),
        summary_link=summary_link,
        run_link=status["flow_run_url"],
    )


def by_urgency(rows: Iterable[PortfolioRow]) -> list[PortfolioRow]:
    """Red first, then the most working days late, then the nearest due date (none last)."""
    return sorted(rows, key=lambda r: (URGENCY.index(r.rag), -r.days_late, r.due or date.max, r.reference))


def rag_counts(rows: Sequence[PortfolioRow]) -> dict[str, int]:
    return {colour: sum(r.rag == colour for r in rows) for colour in URGENCY}


def portfolio_chart(rows: Sequence[PortfolioRow]) -> str:
    counts = rag_counts(rows)
    bars = [("Red (overdue)", counts["red"], COLOURS["red"]), ("Amber (due soon)", counts["amber"], COLOURS["amber"]),
            ("Green (on track)", counts["green"], COLOURS["green"])]
    if counts["paused"] or counts["-"]:
        bars.append(("No clock running", counts["paused"] + counts["-"], COLOURS["paused"]))
    return bar_chart_svg(bars, f"Open reviews by RAG: {len(rows)}")


def portfolio_markdown(rows: Iterable[PortfolioRow], *, today: date, partnership: str) -> str:
    """Every open review, most urgent first, with the counts by RAG and their chart."""
    ordered = by_urgency(rows)
    counts = rag_counts(ordered)
    idle = counts["paused"] + counts["-"]
    tally = f"{counts['red']} red, {counts['amber']} amber, {counts['green']} green" + (
        f", {idle} with no clock running" if idle else "")
    lines = [
        f"# Open reviews: {md(partnership)}",
        "",
        f"As the case register has it on {short_date(today)}: **{len(ordered)} open "
        f"review{'' if len(ordered) == 1 else 's'}**" + (f" ({tally})." if ordered else "."),
        "",
    ]
    if not ordered:
        return "\n".join(lines) + "\n"
    lines += [
        f"![Open reviews by RAG: {tally}]({data_uri(portfolio_chart(ordered))})",
        "",
        "| Review | Stage | Open step | Owner | Due | RAG | Working days late |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ordered:
        step = "—"
        if r.step_key:
            step = f"{md(r.step_title)} (`{r.step_key}`)"
            if r.run_link:
                step += f" [answer]({r.run_link})"
        lines.append(f"| [{md(r.reference)}]({r.summary_link}) | {md(words(r.stage))} | {step} | {md(r.owner)} | "
                     f"{short_date(r.due) if r.due else '—'} | {rag_text(r.rag) if r.rag != '-' else '—'} | "
                     f"{r.days_late or ''} |")
    lines += [
        "",
        "Most urgent first: red, then the most working days late, then the nearest due date. A reference opens "
        "the review's summary; *answer* opens its run, where **Open menu** → **Resume** takes the answer.",
    ]
    return "\n".join(lines) + "\n"
