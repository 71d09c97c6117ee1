"""The quality of each review: the markers, the rules of an assessment, the checklist and its summary, the
year's figures (``models.quality``), and the use cases on fakes (``services.quality``)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.errors import IdentifierFound, NotFound, Refused
from models.lifecycle import Route, Stage
from models.progress import ROUTE_STAGES
from models.quality import (
    MARKER_KEYS,
    MARKERS,
    Assessment,
    AssessmentInput,
    Rating,
    ReviewAsOf,
    assessed_from,
    check_assessment,
    checklist,
    is_due,
    latest,
    marker,
    quality_figures,
    summarise,
)
from services import quality, referrals
from tests.conftest import make_referral
from tests.fakes import fake_app

TODAY = date(2026, 6, 1)
REFERRED = date(2026, 3, 3)


def given(**changes: object) -> AssessmentInput:
    values: dict[str, object] = dict(marker="family_involvement", rating="partly_met",
                                     note="Mother was seen once; father was not approached.",
                                     assessed_by="A. Jones, Business Unit Manager", assessed_on=date(2026, 5, 20))
    values.update(changes)
    return AssessmentInput.model_validate(values)


def rated(key: str, rating: Rating, on: date = date(2026, 5, 1), id: int | None = None) -> Assessment:
    return Assessment(key, rating, "A note.", "A. Jones, Manager", on, id)


# ---------------------------------------------------------------- the markers


def test_the_checklist_has_the_eighteen_scie_nspcc_markers_in_their_order():
    assert MARKER_KEYS == (
        "referral", "decision_making", "advising_board_members", "informing_the_family", "clarity_of_purpose",
        "commissioning", "governance", "review_management", "parallel_processes", "assembling_information",
        "practitioner_involvement", "family_involvement", "analysis", "report", "improvement_action",
        "written_response", "publication", "implementation_and_evaluation")
    assert all(m.title and m.good.endswith(".") and len(m.good) <= 110 for m in MARKERS)
    assert all(m.from_stage in ROUTE_STAGES[Route.LCSPR] for m in MARKERS)


@pytest.mark.parametrize("typed", ["family_involvement", "Family involvement", "family-involvement",
                                   "  FAMILY  INVOLVEMENT "])
def test_a_marker_is_found_by_its_key_or_title_in_any_case(typed):
    assert marker(typed).key == "family_involvement"


def test_an_unknown_marker_is_refused_without_echoing_what_was_typed():
    with pytest.raises(Refused) as refused:
        marker("Jane Smith's involvement")
    assert "Jane" not in refused.value.reason and "family_involvement" in refused.value.reason


# ---------------------------------------------------------------- due


def test_on_an_lcspr_a_marker_is_due_from_its_stage_on():
    analysis = marker("analysis")  # assessed from the draft review
    assert [s for s in (*ROUTE_STAGES[Route.LCSPR], Stage.CLOSED) if is_due(analysis, s, Route.LCSPR)] == [
        Stage.DRAFT_REVIEW, Stage.FINAL_REPORT, Stage.SENDING_FINAL_REPORT, Stage.PUBLICATION, Stage.ACTION_PLAN,
        Stage.ACTION_MONITORING, Stage.CLOSURE, Stage.CLOSED]
    # Before the Chair decides, the route is taken to be an LCSPR's: the referral is due from the rapid review.
    assert not is_due(marker("referral"), Stage.REFERRED, None)
    assert is_due(marker("referral"), Stage.RAPID_REVIEW, None)
    assert is_due(marker("referral"), Stage.AWAITING_DECISION, None)  # not notifiable: no rapid review


def test_an_other_learning_review_has_the_set_up_markers_due_during_it_and_the_findings_after_it():
    assert assessed_from(marker("commissioning"), Route.LEARNING_REVIEW) is Stage.LEARNING_REVIEW
    assert assessed_from(marker("analysis"), Route.LEARNING_REVIEW) is Stage.ACTION_PLAN
    assert is_due(marker("commissioning"), Stage.LEARNING_REVIEW, Route.LEARNING_REVIEW)
    assert not is_due(marker("analysis"), Stage.LEARNING_REVIEW, Route.LEARNING_REVIEW)
    assert is_due(marker("analysis"), Stage.CLOSURE, Route.LEARNING_REVIEW)  # no recommendations: straight on
    assert not is_due(marker("implementation_and_evaluation"), Stage.ACTION_MONITORING, Route.LEARNING_REVIEW)


@pytest.mark.parametrize("route", [Route.NO_FURTHER_REVIEW, Route.NATIONAL_REVIEW])
def test_a_review_ended_at_the_decision_is_due_only_the_markers_up_to_the_decision(route):
    due = [m.key for m in MARKERS if is_due(m, Stage.CLOSED, route)]
    assert due == ["referral", "decision_making", "advising_board_members", "informing_the_family"]
    assert assessed_from(marker("report"), route) is None


# ---------------------------------------------------------------- an assessment


def test_an_assessment_that_can_be_kept_is_accepted_as_given():
    made = check_assessment(given(), today=TODAY, referred_on=REFERRED)
    assert made == Assessment("family_involvement", Rating.PARTLY_MET, "Mother was seen once; father was not "
                              "approached.", "A. Jones, Business Unit Manager", date(2026, 5, 20))
    # Met needs no note; today and the referral's day are both possible.
    assert check_assessment(given(rating="met", note="", assessed_on=TODAY), today=TODAY, referred_on=REFERRED).note \
        == ""
    check_assessment(given(marker="Analysis", assessed_on=REFERRED), today=TODAY, referred_on=REFERRED)


@pytest.mark.parametrize(("changes", "says"), [
    ({"marker": "tone"}, "not a quality marker"),
    ({"assessed_on": date(2026, 6, 2)}, r"\(2026-06-02\) is in the future; today is 2026-06-01"),
    ({"assessed_on": date(2026, 3, 2)}, r"before the review's referral \(2026-03-03\)"),
    ({"note": ""}, "Say why family involvement is rated partly met"),
    ({"rating": "not_applicable", "note": "n/a"}, "rated not applicable"),
])
def test_an_assessment_that_cannot_be_kept_is_refused_with_the_reason(changes, says):
    with pytest.raises(Refused, match=says):
        check_assessment(given(**changes), today=TODAY, referred_on=REFERRED)


def test_a_note_that_identifies_someone_is_refused_without_echoing_it():
    with pytest.raises(IdentifierFound) as refused:
        check_assessment(given(note="Jane Smith (NHS 943 476 5919) was never asked."), today=TODAY,
                         referred_on=REFERRED)
    assert "943" not in str(refused.value) and "Jane" not in str(refused.value) and "Note" in str(refused.value)


def test_an_assessment_is_refused_a_rating_outside_the_four_and_fields_it_does_not_have():
    with pytest.raises(ValidationError):
        given(rating="excellent")
    with pytest.raises(ValidationError):
        given(score=5)


def test_a_later_assessment_supersedes_the_earlier_and_both_are_kept_as_history():
    first = rated("analysis", Rating.NOT_MET, date(2026, 5, 1), id=1)
    second = rated("analysis", Rating.MET, date(2026, 5, 9), id=2)
    backdated = rated("analysis", Rating.PARTLY_MET, date(2026, 5, 4), id=3)  # recorded last, dated between
    same_day = rated("analysis", Rating.PARTLY_MET, date(2026, 5, 9), id=4)
    assert latest([first, second, backdated])["analysis"] is second
    assert latest([first, second, backdated, same_day])["analysis"] is same_day
    [status] = [s for s in checklist([first, second, backdated], Stage.CLOSED, Route.LCSPR)
                if s.marker.key == "analysis"]
    assert status.current is second and status.earlier == (backdated, first)


# ---------------------------------------------------------------- the summary


def test_the_summary_counts_each_rating_the_markers_due_and_not_assessed_and_the_share_met():
    found = [rated("referral", Rating.MET, id=1), rated("decision_making", Rating.MET, id=2),
             rated("advising_board_members", Rating.PARTLY_MET, id=3), rated("informing_the_family", Rating.NOT_MET,
                                                                            id=4),
             rated("commissioning", Rating.NOT_APPLICABLE, id=5), rated("commissioning", Rating.MET, id=6),
             rated("parallel_processes", Rating.NOT_APPLICABLE, id=7)]
    summary = summarise(checklist(found, Stage.DRAFTING, Route.LCSPR))
    assert (summary.markers, summary.assessed) == (18, 6)
    assert dict(summary.counts) == {Rating.MET: 3, Rating.PARTLY_MET: 1, Rating.NOT_MET: 1, Rating.NOT_APPLICABLE: 1}
    assert [m.key for m in summary.due_not_assessed] == [
        "clarity_of_purpose", "governance", "review_management", "assembling_information",
        "practitioner_involvement", "family_involvement"]
    assert summary.percent_met == 60.0  # 3 of the 5 rated met, partly met or not met
    assert summary.line() == (
        "6 of 18 assessed — 3 met, 1 partly met, 1 not met, 1 not applicable; due now: clarity of purpose, "
        "governance, review management, assembling information, practitioner involvement, family involvement")


def test_a_review_with_nothing_rated_has_no_share_met_and_says_what_is_due():
    summary = summarise(checklist([], Stage.AWAITING_DECISION, None))
    assert summary.percent_met is None
    assert summary.line() == "0 of 18 assessed; due now: referral"
    assert summarise(checklist([], Stage.REFERRED, None)).line() == "0 of 18 assessed; due now: none"


# ---------------------------------------------------------------- the year's figures


def test_the_years_figures_count_each_marker_over_the_reviews_as_they_stood_on_the_day():
    reviews = [ReviewAsOf("A", Stage.CLOSED, Route.LCSPR), ReviewAsOf("B", Stage.DRAFTING, Route.LCSPR),
               ReviewAsOf("C", Stage.CLOSED, Route.NO_FURTHER_REVIEW)]
    assessments = {
        "A": [rated("analysis", Rating.NOT_MET, date(2026, 9, 1), 1),
              rated("analysis", Rating.MET, date(2026, 10, 1), 2),
              rated("report", Rating.PARTLY_MET, date(2027, 1, 5), 3)],  # after the day: not counted
        "C": [rated("referral", Rating.NOT_APPLICABLE, date(2026, 11, 1), 4)],
    }
    figures = quality_figures(reviews, assessments, date(2026, 12, 31))
    by_key = {f.marker.key: f for f in figures.markers}
    assert (figures.reviews, figures.assessed, len(figures.markers)) == (3, 2, 18)
    analysis = by_key["analysis"]
    assert (analysis.rated[Rating.MET], analysis.rated[Rating.NOT_MET], analysis.not_assessed, analysis.not_due) == (
        1, 0, 0, 2)  # B has not reached the draft review; C ended at the decision
    report = by_key["report"]
    assert (sum(report.rated.values()), report.not_assessed, report.not_due) == (0, 1, 2)
    referral = by_key["referral"]
    assert (referral.rated[Rating.NOT_APPLICABLE], referral.not_assessed, referral.not_due, referral.reviews) == (
        1, 2, 0, 3)


# ---------------------------------------------------------------- the use cases, on fakes


def test_recording_an_assessment_keeps_it_audits_it_and_shows_it_on_the_checklist():
    app = fake_app(date(2026, 5, 20))
    ref = referrals.register_referral(app, make_referral()).reference
    made = quality.assess(app, ref, given(marker="referral", rating="met", note=""))
    assert made.id == 1
    later = quality.assess(app, ref, given(marker="referral", rating="partly_met", note="The DSL was not consulted."))
    found = quality.review_quality(app, ref)
    [status] = [s for s in found.markers if s.marker.key == "referral"]
    assert status.current == later and status.earlier == (made,)
    assert found.stage is Stage.REFERRED and status.due is False
    with app.uow() as uow:
        trail = uow.reviews.audit_trail(ref)
    assert [(e.event, e.detail["marker"], e.detail["rating"]) for e in trail[-2:]] == [
        ("quality_assessed", "referral", "met"), ("quality_assessed", "referral", "partly_met")]
    assert quality.quality_json(found)["summary"]["partly_met"] == 1


def test_an_assessment_refused_or_of_an_unknown_review_records_nothing():
    app = fake_app(date(2026, 5, 20))
    ref = referrals.register_referral(app, make_referral()).reference
    with pytest.raises(IdentifierFound):
        quality.assess(app, ref, given(note="Seen at 12 Acacia Avenue, HP19 8FF."))
    with pytest.raises(NotFound):
        quality.assess(app, "LCSPR-2026-9999", given())
    assert quality.review_quality(app, ref).summary.assessed == 0


# ---------------------------------------------------------------- as shown


def test_the_review_summary_shows_the_quality_line_only_when_given():
    from notifications.artifacts import quality_lines

    assert quality_lines(None) == []
    shown = quality_lines({"line": "1 of 18 assessed — 1 met; due now: referral"})
    assert "Quality: 1 of 18 assessed — 1 met; due now: referral. `lcspr quality REFERENCE` shows the checklist." \
        in shown


def test_the_yearly_reports_quality_section_has_a_row_a_marker_and_the_totals():
    from notifications.report import quality_markdown

    figures = quality_figures([ReviewAsOf("A", Stage.CLOSED, Route.LCSPR)],
                              {"A": [rated("analysis", Rating.PARTLY_MET, date(2026, 5, 1), 1)]}, date(2026, 12, 31))
    text = quality_markdown(figures)
    assert "| Analysis | 0 | 1 | 0 | 0 | 0 | 0 |" in text
    assert "| Referral | 0 | 0 | 0 | 0 | 1 | 0 |" in text
    assert "| **Every marker** | **0** | **1** | **0** | **0** | **17** | **0** |" in text
    empty = quality_markdown(quality_figures([], {}, date(2026, 12, 31)))
    assert "No review was referred in the period." in empty and "| Marker |" not in empty
