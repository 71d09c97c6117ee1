"""The yearly report (``models.report``) and its Markdown, chart and CSV (``notifications.report``), over
reviews with known answers (``tests/report_cases.py``), with the day it is produced as an argument."""

from __future__ import annotations

import base64
import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date

import pytest

from models.errors import Refused
from models.lifecycle import Policy
from models.referral import Child
from models.report import AnnualReport, Timeliness, annual_report, log_as_of
from notifications.report import CSV_FIELDS, chart_svg, to_csv, to_markdown
from tests import report_cases as cases

POLICY = Policy()
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
STORED = [cases.stored_review(f"LCSPR-2026-{i:04d}", case, POLICY) for i, case in enumerate(cases.CASES, 1)]
FULL, LATE, LEARNING, NO_FURTHER, WAITING, EARLIER = (s.reference for s in STORED)


def report(start: date = YEAR[0], end: date = YEAR[1], today: date = date(2027, 1, 15)) -> AnnualReport:
    return annual_report(STORED, start, end, today=today, policy=POLICY)


def test_the_yearly_figures_count_the_reviews_referred_in_the_year_as_they_stood_at_its_end() -> None:
    r = report()
    assert (r.as_of, r.reviews) == (date(2026, 12, 31), 5)  # not the review referred in 2025
    assert [row.reference for row in r.rows] == [FULL, LATE, LEARNING, NO_FURTHER, WAITING]
    assert r.notifications == Timeliness(on_time=2, late=1, overdue=1, pending=0)
    assert r.notifications.share_on_time == pytest.approx(2 / 3)
    assert r.not_notifiable == 1
    assert r.rapid_reviews == Timeliness(on_time=2, late=1)
    assert dict(r.decisions) == {"lcspr": 2, "reflective_learning_session": 0, "practice_review": 1,
                                 "no_further_review": 1, "national_review": 0}
    assert r.awaiting_decision == 1
    assert (r.commissioned, r.converted) == (2, 2)
    assert r.publications == Timeliness(on_time=1, pending=1)  # the late LCSPR may publish until 10 Jan 2027
    assert dict(r.deferrals) == {"criminal_proceedings": 1, "inquest": 0, "other": 0}
    assert r.deferred_now == 0
    assert dict(r.recommendations) == {"completed": 2, "in_progress": 1, "no_action_yet": 1}
    assert r.actions == Timeliness(on_time=2, overdue=1)
    assert (r.notification_working_days, r.rapid_review_working_days, r.publication_months) == (5, 15, 6)


def test_each_review_is_a_row_in_the_fields_of_the_case_review_tracker() -> None:
    rows = {row.reference: row for row in report().rows}
    full, late, learning, no_further, waiting = (rows[ref] for ref in (FULL, LATE, LEARNING, NO_FURTHER, WAITING))
    assert (full.review_type, full.converted_from_rapid_review, full.stage, full.published_on, full.publication_link,
            full.published_on_time, full.deferral_reasons, full.closed_on, full.themes) == (
        "lcspr", True, "closed", date(2026, 9, 1), "https://example.org/reviews/lcspr-child-a", True,
        ("criminal_proceedings",), date(2026, 11, 2), ())
    assert (late.stage, late.stage_due, late.slippage_working_days, late.notified_on_time,
            late.rapid_review_on, late.rapid_review_on_time, late.publication_due) == (
        "agency_reports", date(2026, 8, 27), 87, False, date(2026, 7, 3), False, date(2027, 1, 10))
    assert (learning.review_type, learning.converted_from_rapid_review, learning.notified_on,
            learning.recommendations, learning.actions, learning.actions_overdue) == (
        "practice_review", False, None, 2, 1, 1)
    assert (no_further.review_type, no_further.stage, no_further.slippage_working_days) == (
        "no_further_review", "closed", None)
    assert (waiting.review_type, waiting.stage, waiting.stage_due, waiting.slippage_working_days) == (
        "referral", "referred", date(2026, 12, 30), 1)


def test_a_report_on_a_past_period_counts_only_what_was_decided_by_its_end() -> None:
    """The first half of 2026, run in 2027: the full review had not yet been signed off, let alone published."""
    r = report(date(2026, 1, 1), date(2026, 6, 30))
    assert (r.as_of, [row.reference for row in r.rows]) == (date(2026, 6, 30), [FULL, LATE])
    assert r.notifications == Timeliness(on_time=1, late=1)
    assert r.rapid_reviews == Timeliness(on_time=1, pending=1)  # the late one was due on 1 July
    assert (r.decisions["lcspr"], r.awaiting_decision) == (1, 1)
    assert r.publications == Timeliness(pending=1)
    assert (sum(r.deferrals.values()), r.actions, r.rows[0].stage) == (0, Timeliness(), "final_report")
    assert report(date(2026, 1, 1), date(2026, 6, 30), today=date(2030, 1, 1)) == r  # whenever it is run


def test_a_period_not_yet_over_counts_up_to_today() -> None:
    r = report(today=date(2026, 7, 2))
    assert r.as_of == date(2026, 7, 2)
    late = next(row for row in r.rows if row.reference == LATE)
    assert (late.rapid_review_on, late.stage) == (None, "rapid_review")
    assert r.rapid_reviews == Timeliness(on_time=1, overdue=1)


def test_the_log_as_it_stood_stops_at_the_first_answer_dated_after_the_day() -> None:
    log = next(s for s in STORED if s.reference == LATE).log
    assert [e.key for e in log_as_of(log, date(2026, 7, 2))] == ["notification-1", "rapid-review-1"]
    assert log_as_of(log, date(2026, 6, 9)) == ()
    assert log_as_of(log, date(2027, 1, 1)) == log


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(Refused, match="ends"):
        report(date(2026, 12, 31), date(2026, 1, 1))


# ---------------------------------------------------------------- what people take away


def test_the_csv_is_one_row_per_review_read_back_by_the_csv_module() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(report()), newline="")))
    assert tuple(rows[0]) == CSV_FIELDS
    assert [r["reference"] for r in rows] == [FULL, LATE, LEARNING, NO_FURTHER, WAITING]
    assert {k: rows[0][k] for k in ("referred_on", "review_type", "converted_from_rapid_review", "stage",
                                    "publication_date", "publication_link", "themes", "deferral_reasons")} == {
        "referred_on": "2026-03-03", "review_type": "lcspr", "converted_from_rapid_review": "yes", "stage": "closed",
        "publication_date": "2026-09-01", "publication_link": "https://example.org/reviews/lcspr-child-a",
        "themes": "", "deferral_reasons": "criminal_proceedings"}
    assert {k: rows[1][k] for k in ("stage_due", "slippage_working_days", "notified_on_time", "published_on_time")} == {
        "stage_due": "2026-08-27", "slippage_working_days": "87", "notified_on_time": "no", "published_on_time": ""}


def test_a_typed_link_is_neither_a_spreadsheet_formula_nor_markdown() -> None:
    r = report()
    hostile = replace(r, rows=(replace(r.rows[0], publication_link="=HYPERLINK(\"x\")|[a](javascript:b)"),))
    row = next(csv.DictReader(io.StringIO(to_csv(hostile), newline="")))
    assert row["publication_link"].startswith("'=")
    line = next(line for line in to_markdown(hostile, partnership="P", produced=date(2027, 1, 15)).splitlines()
                if line.startswith(f"| {FULL} "))
    assert line.count(" | ") == 9  # the link's pipe does not make a column
    assert "\\[a\\]\\(javascript" in line


def test_the_markdown_has_the_figures_and_the_chart_inside_it() -> None:
    text = to_markdown(report(), partnership="Anyshire Safeguarding Children Partnership", produced=date(2027, 1, 15))
    assert text.startswith("# Child safeguarding practice reviews: 2026-01-01 to 2026-12-31\n")
    assert "as they stood on **2026-12-31**" in text
    for line in ("| Reviews referred | 5 | |",
                 "| … within 5 working days of the local authority becoming aware | 2 | 67% of 3 |",
                 "| … within 15 working days of the notification | 2 | 67% of 3 |",
                 "| LCSPRs commissioned | 2 | |",
                 "| … within 6 months of the decision to hold them | 1 | 100% of 1 |",
                 "| Criminal proceedings | 1 |",
                 "| Practice review | 1 |",
                 "| Awaiting the decision | 1 |",
                 "| Open and overdue | 1 |"):
        assert line in text, line
    assert "Themes: the list's titles and #tags" in text
    svg = embedded_chart(text)
    assert svg == chart_svg(report())
    assert "Child A" not in text  # references only, never a pseudonym


def test_the_chart_is_an_svg_bar_chart_of_on_time_late_overdue_and_not_yet_due() -> None:
    svg = chart_svg(report())
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    bars = [(r.get("class"), r.findtext("s:title", namespaces=ns)) for r in root.iter("{http://www.w3.org/2000/svg}rect")
            if (r.get("class") or "").startswith("bar")]
    assert bars == [
        ("bar on_time", "Notifications (within 5 working days): 2 on time"),
        ("bar late", "Notifications (within 5 working days): 1 late"),
        ("bar overdue", "Notifications (within 5 working days): 1 not done, overdue"),
        ("bar on_time", "Rapid reviews (within 15 working days): 2 on time"),
        ("bar late", "Rapid reviews (within 15 working days): 1 late"),
        ("bar on_time", "LCSPRs published (within 6 months): 1 on time"),
        ("bar pending", "LCSPRs published (within 6 months): 1 not done, not due yet"),
        ("bar on_time", "Actions (closed by their due date): 2 on time"),
        ("bar overdue", "Actions (closed by their due date): 1 not done, overdue"),
    ]


def test_a_year_with_no_review_still_gives_a_report() -> None:
    empty = report(date(2024, 1, 1), date(2024, 12, 31))
    assert (empty.reviews, empty.notifications, empty.notifications.share_on_time) == (0, Timeliness(), None)
    text = to_markdown(empty, partnership="P", produced=date(2027, 1, 15))
    assert "No review was referred in the period." in text
    ET.fromstring(embedded_chart(text))
    assert to_csv(empty) == ",".join(CSV_FIELDS) + "\r\n"


def embedded_chart(markdown: str) -> str:
    found = re.search(r"!\[[^\n]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, "no embedded chart"
    return base64.b64decode(found.group(1)).decode("utf-8")


def test_the_year_counts_every_child_an_incident_names_by_what_happened_and_care_status() -> None:
    siblings = [{"pseudonym": "Sibling B", "harm": "died", "looked_after": True},
                {"pseudonym": "Child C", "harm": "neither", "care_leaver": True}]
    with_siblings = [replace(s, referral=s.referral.model_copy(update={
        "other_children": [Child.model_validate(c) for c in siblings]})) if s.reference == FULL else s
        for s in STORED]
    r = annual_report(with_siblings, *YEAR, today=date(2027, 1, 15), policy=POLICY)
    harms = [s.referral.harm for s in STORED if s.reference != EARLIER]
    assert dict(r.children) == {
        "children": 5 + 2, "died": harms.count("died") + 1, "seriously_harmed": harms.count("seriously_harmed"),
        "other": harms.count("neither") + 1, "looked_after": 1 + sum(s.referral.looked_after for s in STORED[:5]),
        "care_leavers": 1 + sum(s.referral.care_leaver for s in STORED[:5])}
    markdown = to_markdown(r, partnership="Test Partnership", produced=date(2027, 1, 15))
    assert f"| … children they name (died / seriously harmed / other) | 7 ({r.children['died']} / " in markdown
