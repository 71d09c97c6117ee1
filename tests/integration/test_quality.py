"""The quality of each review on the real register: ``lcspr quality`` shows and fills in a review's checklist,
``lcspr status`` and the review's summary artifact show its one-line summary, ``lcspr audit`` keeps every
assessment in the review's trail, and ``lcspr report annual`` counts the markers over the year's reviews."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from models.quality import AssessmentInput, Rating
from services import artifacts, quality, queries, reports
from services.app import App
from services.ports import Runs
from tests import report_cases as cases
from tests.fakes import FakeRuns, FrozenClock

BY = "A. Jones, Business Unit Manager"
# An LCSPR at its agency reports (terms of reference signed off on 30 Jul 2026), and the markers due there.
DUE_AT_AGENCY_REPORTS = ("referral, decision making, advising board members, informing the family, clarity of "
                         "purpose, commissioning, governance, parallel processes")


@pytest.fixture
def lcspr(settings: Settings, app: App) -> Callable[[list[str]], int]:
    return lambda args: main(args, settings=settings, app=lambda _: app)


@pytest.fixture
def clock(app: App) -> FrozenClock:
    assert isinstance(app.clock, FrozenClock)
    return app.clock


@pytest.fixture
def lcspr_at_agency_reports(app: App, clock: FrozenClock) -> str:
    reference = cases.seed(app, cases.LATE)
    clock.set(date(2026, 8, 10))
    return reference


def test_the_checklist_is_shown_filled_in_and_a_later_assessment_supersedes_the_earlier(
        lcspr, capsys, app: App, lcspr_at_agency_reports: str) -> None:
    ref = lcspr_at_agency_reports
    assert lcspr(["quality", ref]) == 0
    out = capsys.readouterr().out
    assert f"{ref}: stage agency_reports, route lcspr" in out
    assert f"Quality: 0 of 18 assessed; due now: {DUE_AT_AGENCY_REPORTS}" in out
    assert "family_involvement" in out and "from drafting" in out and "at closure" not in out

    assert lcspr(["quality", ref, "referral", "--rating", "met", "--by", BY, "--on", "2026-08-03"]) == 0
    assert f"{ref}: referral rated met on 2026-08-03 by {BY} (assessment 1)." in capsys.readouterr().out
    # A marker not due yet may be rated as the review goes; ratings and markers as people type them.
    assert lcspr(["quality", ref, "Family involvement", "--rating", "partly-met", "--by", BY,
                  "--note", "Mother has been invited; father not yet approached."]) == 0
    capsys.readouterr()
    assert lcspr(["quality", ref, "referral", "--rating", "partly_met", "--by", BY,
                  "--note", "The DSL was consulted only after the referral was sent."]) == 0
    out = capsys.readouterr().out
    assert "referral rated partly met on 2026-08-10" in out
    assert "It supersedes the assessment of 2026-08-03 (met), which is kept." in out
    assert "Quality: 2 of 18 assessed — 2 partly met; due now: decision making," in out

    assert lcspr(["quality", ref]) == 0
    out = capsys.readouterr().out
    assert "Superseded (kept)" in out and "The DSL was consulted only after" in out
    assert lcspr(["quality", ref, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"] == {
        "markers": 18, "assessed": 2, "met": 0, "partly_met": 2, "not_met": 0, "not_applicable": 0,
        "percent_met": 0.0, "due_now": ["decision_making", "advising_board_members", "informing_the_family",
                                        "clarity_of_purpose", "commissioning", "governance", "parallel_processes"],
        "line": shown["summary"]["line"]}
    referral = shown["markers"][0]
    assert (referral["key"], referral["due"], referral["current"]["rating"], referral["current"]["assessed_on"]) == (
        "referral", True, "partly_met", "2026-08-10")
    assert [(a["rating"], a["assessed_on"], a["assessed_by"]) for a in referral["earlier"]] == [
        ("met", "2026-08-03", BY)]

    # Every assessment is in the review's audit trail, which still verifies.
    events = [e for e in queries.audit_trail(app, ref) if e.event == "quality_assessed"]
    assert [(e.actor, e.detail["marker"], e.detail["rating"]) for e in events] == [
        (BY, "referral", "met"), (BY, "family_involvement", "partly_met"), (BY, "referral", "partly_met")]
    assert lcspr(["audit", ref, "--verify"]) == 0
    assert "1 review checked, all intact." in capsys.readouterr().out


def test_status_shows_the_quality_summary(lcspr, capsys, app: App, lcspr_at_agency_reports: str) -> None:
    ref = lcspr_at_agency_reports
    quality.assess(app, ref, AssessmentInput(marker="commissioning", rating="met", assessed_by=BY,
                                             assessed_on=date(2026, 8, 10)))
    assert lcspr(["status", ref]) == 0
    assert "Quality: 1 of 18 assessed — 1 met; due now: referral," in capsys.readouterr().out
    assert lcspr(["status", ref, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["quality"]
    assert (shown["assessed"], shown["met"], shown["percent_met"], len(shown["due_now"])) == (1, 1, 100.0, 7)


@pytest.mark.parametrize(("args", "says"), [
    (["referral", "--rating", "not_met", "--by", BY, "--note", "Jane Smith's school, 12 Acacia Avenue, was not told."],
     "lcspr quality: refused: Note appears to contain things that could identify a child"),
    (["referral", "--rating", "met", "--by", BY, "--on", "2026-08-11"], "is in the future; today is 2026-08-10"),
    (["referral", "--rating", "met", "--by", BY, "--on", "2026-05-31"], "before the review's referral (2026-06-01)"),
    (["tone", "--rating", "met", "--by", BY], "That is not a quality marker"),
    (["referral", "--rating", "not_met", "--by", BY], "Say why referral is rated not met"),
    (["referral", "--rating", "met"], "An assessment needs --by"),
    (["--rating", "met", "--by", BY], "give the MARKER too"),
    (["referral", "--rating", "excellent", "--by", BY], "a rating is one of met, partly_met"),
])
def test_a_refused_assessment_exits_2_with_the_reason_never_the_text_and_records_nothing(
        lcspr, capsys, app: App, lcspr_at_agency_reports: str, args: list[str], says: str) -> None:
    ref = lcspr_at_agency_reports
    trail = len(queries.audit_trail(app, ref))
    assert lcspr(["quality", ref, *args]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "Jane" not in err and "Acacia" not in err
    assert quality.review_quality(app, ref).summary.assessed == 0
    assert len(queries.audit_trail(app, ref)) == trail


def test_a_review_that_does_not_exist_is_refused(lcspr, capsys) -> None:
    assert lcspr(["quality", "LCSPR-2026-9999"]) == 2
    assert "No review with reference LCSPR-2026-9999" in capsys.readouterr().err
    assert lcspr(["quality", "LCSPR-2026-9999", "referral", "--rating", "met", "--by", BY]) == 2


def test_the_reviews_summary_artifact_shows_the_quality_line(app: App, lcspr_at_agency_reports: str) -> None:
    ref = lcspr_at_agency_reports
    runs = FakeRuns()  # Prefect's side only: the register is the real one

    @contextmanager
    def open_runs() -> Iterator[Runs]:
        yield runs

    publishing = App(config=app.config, clock=app.clock, uow=app.uow, runs=open_runs, dispatcher=app.dispatcher)
    quality.assess(app, ref, AssessmentInput(marker="governance", rating="not_met", assessed_by=BY,
                                             note="No sign-off route was agreed.", assessed_on=date(2026, 8, 10)))
    artifacts.publish_review(publishing, ref)
    summary = runs.artifacts[f"review-{ref.lower()}-summary"][-1].data
    assert isinstance(summary, str)
    assert f"Quality: 1 of 18 assessed — 1 not met; due now: {DUE_AT_AGENCY_REPORTS.replace('governance, ', '')}" \
        in summary
    # Another assessment changes the summary: a new version.
    quality.assess(app, ref, AssessmentInput(marker="governance", rating="met", assessed_by=BY,
                                             assessed_on=date(2026, 8, 10)))
    assert f"review-{ref.lower()}-summary" in artifacts.publish_review(publishing, ref)
    assert "1 of 18 assessed — 1 met;" in str(runs.artifacts[f"review-{ref.lower()}-summary"][-1].data)


# ---------------------------------------------------------------- the yearly report


@pytest.fixture
def rated_year(app: App, clock: FrozenClock) -> dict[str, str]:
    """The yearly report's reviews (``tests/report_cases.py``), some markers rated during and after 2026."""
    refs = {case.agency_reference: cases.seed(app, case) for case in cases.CASES}

    def rate(case: str, key: str, rating: str, on: date, note: str = "As the sub group found it.") -> None:
        clock.set(on)
        quality.assess(app, refs[case], AssessmentInput(marker=key, rating=rating, note=note, assessed_by=BY,
                                                        assessed_on=on))

    rate("REP-FULL", "analysis", "met", date(2026, 7, 1))
    rate("REP-FULL", "report", "not_met", date(2026, 12, 1))
    rate("REP-FULL", "report", "met", date(2027, 1, 10))  # after the year: its report counts the rating before
    rate("REP-NFR", "referral", "met", date(2026, 10, 27))
    rate("REP-LEARN", "commissioning", "not_applicable", date(2026, 10, 1), "No reviewer: a practice review.")
    rate("REP-2025", "referral", "met", date(2026, 1, 5))  # referred in 2025: not in 2026's report
    clock.set(date(2027, 1, 15))
    return refs


def test_the_years_figures_count_each_marker_as_rated_on_the_last_day(app: App, rated_year: dict[str, str]) -> None:
    report = reports.annual(app, date(2026, 1, 1), date(2026, 12, 31))
    figures = reports.annual_quality(app, report)
    by_key = {f.marker.key: f for f in figures.markers}
    assert (figures.reviews, figures.as_of, figures.assessed) == (5, date(2026, 12, 31), 4)

    def counts(key: str) -> tuple[int, ...]:
        f = by_key[key]
        return (*(f.rated[r] for r in Rating), f.not_assessed, f.not_due)

    # FULL closed, LATE at agency reports, LEARN a practice review at its action plan, NFR closed at the decision,
    # WAIT just referred.
    assert counts("analysis") == (1, 0, 0, 0, 1, 3)  # LEARN has its findings; LATE, NFR, WAIT: not due
    assert counts("report") == (0, 0, 1, 0, 1, 3)  # the met of 2027 is not counted
    assert counts("referral") == (1, 0, 0, 0, 3, 1)  # WAIT: not due
    assert counts("commissioning") == (0, 0, 0, 1, 2, 2)  # FULL and LATE due; NFR and WAIT not


def test_lcspr_report_annual_has_the_quality_section(lcspr, capsys, rated_year: dict[str, str]) -> None:
    assert lcspr(["report", "annual", "--from", "2026-01-01", "--to", "2026-12-31"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("## Quality of each review (SCIE/NSPCC quality markers)"):]
    assert "Over the 5 reviews above, each marker as its latest assessment on 2026-12-31 rated it." in section
    assert "| Marker | Met | Partly met | Not met | Not applicable | Not assessed | Not due |" in section
    assert "| Referral | 1 | 0 | 0 | 0 | 3 | 1 |" in section
    assert "| Analysis | 1 | 0 | 0 | 0 | 1 | 3 |" in section
    assert "| Report | 0 | 0 | 1 | 0 | 1 | 3 |" in section
    assert "| Implementation and evaluation | 0 | 0 | 0 | 0 | 1 | 4 |" in section  # only FULL has closed
    # Every review counted once per marker: 18 markers x 5 reviews.
    assert section.count("\n| ") == 1 + 18 + 1  # the header, a row a marker, the totals
    totals = next(line for line in section.splitlines() if line.startswith("| **Every marker**"))
    assert sum(int(n.strip("* ")) for n in totals.split("|")[2:-1]) == 90
    # The CSV (the Tracker's fields, one row per review) is unchanged.
    assert lcspr(["report", "annual", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "csv"]) == 0
    assert "quality" not in capsys.readouterr().out.lower()


def test_a_year_with_no_review_says_so_in_the_quality_section(lcspr, capsys) -> None:
    assert lcspr(["report", "annual", "--from", "2020-01-01", "--to", "2020-12-31"]) == 0
    out = capsys.readouterr().out
    assert "## Quality of each review (SCIE/NSPCC quality markers)\n\nNo review was referred in the period." in out
