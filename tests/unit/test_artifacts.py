"""The artifacts' content, built from a review's status: summary, timeline chart, progress, portfolio."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

import pytest

from models.lifecycle import Route, Stage
from models.progress import ROUTE_STAGES, route_progress
from notifications.artifacts import (
    PORTFOLIO_KEY,
    PortfolioRow,
    by_urgency,
    portfolio_markdown,
    portfolio_row,
    review_artifacts,
    review_key,
    summary_markdown,
    timeline_markdown,
)
from notifications.charts import ClockBar, bar_chart_svg, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
RUN = "http://127.0.0.1:4200/v2/runs/flow-run/run-1"


def clock(kind: str, start: str, due: str, state: str, rag: str, *, subject: str = "", left: int | None = 0,
          met_on: str | None = None, stopped_on: str | None = None) -> dict[str, Any]:
    """A clock as ``services.queries.status`` lists it."""
    return {"key": f"{kind}:{subject}" if subject else kind, "kind": kind, "subject": subject or None,
            "owner_role": "business_unit", "start": start, "due": due, "state": state, "rag": rag,
            "working_days_left": left, "met_on": met_on, "stopped_on": stopped_on, "paused": state == "paused",
            "extensions": 0}


def status(**overrides: Any) -> dict[str, Any]:
    """A review waiting on its inform-bodies step, 6 working days late, as the status query gives it."""
    value: dict[str, Any] = {
        "reference": "LCSPR-2026-0001",
        "pseudonym": "Child A",
        "stage": "informing_bodies",
        "route": "lcspr",
        "today": "2026-04-20",
        "flow_run_id": "run-1",
        "flow_run_url": RUN,
        "open_step": {"key": "inform-bodies-1", "kind": "inform_bodies", "title": "Inform DfE, Ofsted and the Panel",
                      "asked_of": "business_unit", "opened_on": "2026-04-01", "due": "2026-04-10",
                      "clock": "inform_bodies", "last_refusal": None},
        "clocks": [
            clock("serious_incident_notification", "2026-03-03", "2026-03-10", "met", "met", left=None,
                  met_on="2026-03-05"),
            clock("rapid_review", "2026-03-05", "2026-03-26", "met", "met", left=None, met_on="2026-03-20"),
            clock("inform_bodies", "2026-04-01", "2026-04-10", "breached", "red", left=-6),
            clock("publication", "2026-04-01", "2026-10-01", "running", "green", left=114),
        ],
        "agency_requests": [],
        "recommendations": [],
        "actions": [],
        "closed_on": None,
    }
    value.update(overrides)
    return value


def link(key: str) -> str:
    return f"http://ui/v2/artifacts/key/{key}"


def images(markdown: str) -> list[ET.Element]:
    """Every image of the markdown, decoded from its data URI and parsed as XML."""
    found = re.findall(r"!\[[^\]]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    return [ET.fromstring(base64.b64decode(data).decode("utf-8")) for data in found]


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


# ---------------------------------------------------------------- keys


@pytest.mark.parametrize(("reference", "key"), [
    ("LCSPR-2026-0001", "review-lcspr-2026-0001-summary"),
    ("BANES-2027-000123", "review-banes-2027-000123-summary"),
])
def test_a_reviews_artifact_key_is_its_reference_in_prefects_key_alphabet(reference: str, key: str) -> None:
    assert review_key(reference, "summary") == key
    assert re.fullmatch(r"[a-z0-9-]+", key)


def test_a_review_has_a_summary_a_timeline_and_a_progress_artifact() -> None:
    made = review_artifacts(status(), link=link)

    assert [(a.key, a.kind) for a in made] == [
        ("review-lcspr-2026-0001-summary", "markdown"),
        ("review-lcspr-2026-0001-timeline", "markdown"),
        ("review-lcspr-2026-0001-progress", "progress"),
    ]
    assert made[2].data == 18.8  # 3 of the LCSPR route's 16 steps
    for artifact in made:
        assert "Child A" not in str(artifact.data) + artifact.description


# ---------------------------------------------------------------- summary


def test_the_summary_says_the_stage_route_step_owner_due_date_link_and_every_clock() -> None:
    text = summary_markdown(status(), timeline_link=link("t"), portfolio_link=link(PORTFOLIO_KEY))

    assert "| Stage | Informing bodies |" in text
    assert "| Route | LCSPR |" in text
    assert "3 of 16 steps" in text
    assert "**Inform DfE, Ofsted and the Panel** (`inform-bodies-1`), asked of the safeguarding partnership " \
           "business unit." in text
    assert "Due: **10 Apr 2026**. Open since 1 Apr 2026." in text
    assert "RAG: **RED**, 6 working days late." in text
    assert f"[Answer it]({RUN})" in text
    assert "| Inform DfE, Ofsted and the Panel | 1 Apr 2026 | 10 Apr 2026 | Breached | **RED** | 6 |" in text
    assert "| Rapid review | 5 Mar 2026 | 26 Mar 2026 | Met 20 Mar 2026 | met |  |" in text
    assert "| Publication | 1 Apr 2026 | 1 Oct 2026 | Running | **GREEN** |  |" in text
    assert f"[All open reviews]({link(PORTFOLIO_KEY)})" in text
    assert "Child A" not in text
    assert "refused" not in text


def test_the_summary_shows_the_last_refusal_escaped_so_it_cannot_break_the_page() -> None:
    step = {**status()["open_step"], "last_refusal": "decided_on | must not be *in the future*"}

    text = summary_markdown(status(open_step=step), timeline_link="t", portfolio_link="p")

    assert r"> **The last answer was refused:** decided\_on \| must not be \*in the future\*" in text


def test_the_summary_of_a_step_owed_by_agencies_names_them() -> None:
    step = {**status()["open_step"], "asked_of": "agency-thames-valley-police,agency-frimley-icb", "clock": ""}

    text = summary_markdown(status(open_step=step), timeline_link="t", portfolio_link="p")

    assert "asked of the agencies still to report: thames valley police, frimley icb." in text


def test_the_summary_of_a_closed_review_says_so() -> None:
    text = summary_markdown(status(stage="closed", open_step=None, closed_on="2026-11-02"),
                            timeline_link="t", portfolio_link="p")

    assert "Nothing: the review is closed on 2 Nov 2026." in text
    assert "16 of 16 steps" in text


# ---------------------------------------------------------------- timeline


def test_the_timeline_is_an_svg_data_uri_that_parses_and_draws_every_clock_against_today() -> None:
    text = timeline_markdown(status())

    (svg,) = images(text)
    assert svg.tag == f"{SVG}svg"
    labels = texts(svg)
    for name in ("Serious incident notification", "Rapid review", "Inform DfE, Ofsted and the Panel", "Publication"):
        assert name in labels
    assert "today 20 Apr 2026" in labels
    assert "1 Apr 2026 → due 10 Apr 2026 · 6 working days late" in labels
    assert "3 Mar 2026 → due 10 Mar 2026 · met 5 Mar 2026" in labels
    # One bar a clock and the hatched days past the overdue one's target; one diamond a target (and the legend's).
    assert len([r for r in svg.iter(f"{SVG}rect") if r.get("height") == "14"]) == 4 + 1
    assert len(list(svg.iter(f"{SVG}path"))) == 4 + 1


def test_the_timeline_colours_bars_by_rag_and_hatches_the_days_past_the_target() -> None:
    svg = ET.fromstring(timeline_svg([ClockBar("late", date(2026, 4, 1), date(2026, 4, 10), "red", days_late=6),
                                      ClockBar("soon", date(2026, 4, 15), date(2026, 4, 22), "amber"),
                                      ClockBar("fine", date(2026, 4, 1), date(2026, 10, 1), "green")],
                                     date(2026, 4, 20), "t"))
    fills = [r.get("fill") for r in svg.iter(f"{SVG}rect") if r.get("height") == "14"]

    assert fills == ["#d4351c", "url(#late)", "#f47738", "#00703c"]


def test_the_timeline_escapes_its_text() -> None:
    bar = ClockBar('Agency report: Smith & Co <"Ltd">', date(2026, 4, 1), date(2026, 4, 10), "green")

    svg = timeline_svg([bar], date(2026, 4, 2), "A & B")

    assert 'Agency report: Smith &amp; Co &lt;"Ltd"&gt;' in svg
    assert 'Agency report: Smith & Co <"Ltd">' in texts(ET.fromstring(svg))


@pytest.mark.parametrize(("start", "due", "expected"), [
    (date(2026, 4, 1), date(2026, 4, 22), {"6 Apr", "13 Apr", "20 Apr"}),  # weeks
    (date(2026, 3, 3), date(2026, 10, 1), {"Mar 2026", "May", "Sep"}),  # months
    (date(2026, 3, 3), date(2028, 3, 1), {"Apr 2026", "Jan 2027", "Oct"}),  # quarters
])
def test_the_timelines_axis_marks_weeks_months_or_quarters_by_its_span(start: date, due: date,
                                                                       expected: set[str]) -> None:
    svg = ET.fromstring(timeline_svg([ClockBar("c", start, due, "green")], start, "t"))

    assert expected <= set(texts(svg))


def test_a_timeline_with_no_clocks_says_so() -> None:
    svg = ET.fromstring(timeline_svg([], date(2026, 4, 2), "t"))

    assert "No clocks have started yet." in texts(svg)


# ---------------------------------------------------------------- progress


@pytest.mark.parametrize(("stage", "route", "done", "total"), [
    (Stage.REFERRED, None, 0, 16),
    (Stage.AWAITING_DECISION, None, 2, 16),
    (Stage.INFORMING_BODIES, Route.LCSPR, 3, 16),
    (Stage.CLOSURE, Route.LCSPR, 15, 16),
    (Stage.LEARNING_REVIEW, Route.LEARNING_REVIEW, 3, 7),
    (Stage.CLOSED, Route.NO_FURTHER_REVIEW, 3, 3),
    (Stage.CLOSED, Route.LCSPR, 16, 16),
])
def test_progress_is_the_share_of_the_routes_steps_done(stage: Stage, route: Route | None, done: int,
                                                        total: int) -> None:
    progress = route_progress(stage, route)

    assert (progress.done, progress.total) == (done, total)
    assert progress.percent == round(100 * done / total, 1)


def test_every_stage_but_closed_is_on_some_route() -> None:
    assert set(Stage) - {Stage.CLOSED} == {s for stages in ROUTE_STAGES.values() for s in stages}


# ---------------------------------------------------------------- portfolio


def row(reference: str, rag: str, days_late: int = 0, due: date | None = None) -> PortfolioRow:
    return PortfolioRow(reference, "rapid_review", "rapid-review-1", "Rapid Review outcome",
                        "the three safeguarding partners", due, rag, days_late, link(reference.lower()), RUN)


def test_the_portfolio_puts_red_first_then_the_most_days_late_then_the_nearest_due_date() -> None:
    rows = [row("G", "green", due=date(2026, 5, 1)), row("R1", "red", 2, date(2026, 4, 1)),
            row("A2", "amber", due=date(2026, 4, 24)), row("R2", "red", 9, date(2026, 3, 20)),
            row("A1", "amber", due=date(2026, 4, 22)), row("R3", "red", 2, date(2026, 3, 30)),
            row("P", "paused"), row("N", "-"), row("A0", "amber")]

    assert [r.reference for r in by_urgency(rows)] == ["R2", "R3", "R1", "A1", "A2", "A0", "G", "P", "N"]


def test_a_portfolio_row_has_the_worst_rag_and_the_most_days_late_of_the_running_clocks() -> None:
    made = portfolio_row(status(), summary_link=link("s"))

    assert (made.reference, made.stage, made.step_key, made.owner, made.due, made.rag, made.days_late) == (
        "LCSPR-2026-0001", "informing_bodies", "inform-bodies-1", "the safeguarding partnership business unit",
        date(2026, 4, 10), "red", 6)
    assert (made.summary_link, made.run_link) == (link("s"), RUN)


def test_a_review_whose_clocks_are_all_paused_or_met_has_no_colour() -> None:
    paused = clock("publication", "2026-04-01", "2026-10-01", "paused", "paused", left=100)
    met = clock("rapid_review", "2026-03-05", "2026-03-26", "met", "met", left=None, met_on="2026-03-20")

    assert portfolio_row(status(clocks=[met, paused]), summary_link="s").rag == "paused"
    assert portfolio_row(status(clocks=[met]), summary_link="s").rag == "-"


def test_the_portfolio_lists_every_open_review_in_urgency_order_with_counts_and_a_chart() -> None:
    rows = [row("LCSPR-2026-0003", "green", due=date(2026, 5, 1)), row("LCSPR-2026-0001", "red", 6, date(2026, 4, 10)),
            row("LCSPR-2026-0002", "amber", due=date(2026, 4, 22)), row("LCSPR-2026-0004", "red", 2, date(2026, 4, 16))]

    text = portfolio_markdown(rows, today=date(2026, 4, 20), partnership="Test & Co Partnership")

    assert "# Open reviews: Test & Co Partnership" in text
    assert "**4 open reviews** (2 red, 1 amber, 1 green)." in text
    table = [line for line in text.splitlines() if line.startswith("| [")]
    assert [re.match(r"\| \[([^\]]+)\]", line).group(1) for line in table] == [  # type: ignore[union-attr]
        "LCSPR-2026-0001", "LCSPR-2026-0004", "LCSPR-2026-0002", "LCSPR-2026-0003"]
    assert table[0] == (f"| [LCSPR-2026-0001]({link('lcspr-2026-0001')}) | Rapid review | Rapid Review outcome "
                        f"(`rapid-review-1`) [answer]({RUN}) | the three safeguarding partners | 10 Apr 2026 | "
                        "**RED** | 6 |")
    (chart,) = images(text)
    labels = texts(chart)
    assert "Open reviews by RAG: 4" in labels
    assert labels[labels.index("Red (overdue)"):] == ["Red (overdue)", "2", "Amber (due soon)", "1",
                                                      "Green (on track)", "1"]


def test_an_empty_portfolio_says_there_is_no_open_review() -> None:
    text = portfolio_markdown([], today=date(2026, 4, 20), partnership="P")

    assert "**0 open reviews**." in text
    assert "|" not in text and "data:image" not in text


def test_a_bar_chart_parses_and_scales_the_longest_bar_to_the_width() -> None:
    svg = ET.fromstring(bar_chart_svg([("a", 3, "#000000"), ("b", 0, "#000000"), ("c", 6, "#000000")], "t"))

    widths = [float(r.get("width") or 0) for r in svg.iter(f"{SVG}rect") if r.get("height") == "18"]
    assert widths[2] == 2 * widths[0] and widths[1] == 2.0
