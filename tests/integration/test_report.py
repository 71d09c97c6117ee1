"""``lcspr report annual`` on the real register: reviews with known answers recorded through the use cases
(``tests/report_cases.py``), then the exact figures, the CSV read back by the csv module, the Markdown
with its chart, and the chart beside the file."""

from __future__ import annotations

import base64
import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from notifications.report import CSV_FIELDS
from services import reports
from services.app import App
from tests import report_cases as cases
from tests.fakes import FrozenClock

YEAR = ["--from", "2026-01-01", "--to", "2026-12-31"]


@pytest.fixture
def seeded(app: App) -> dict[str, str]:
    """Every case recorded, then the clock at mid-January 2027 (when the year's report is written)."""
    references = {case.agency_reference: cases.seed(app, case) for case in cases.CASES}
    assert isinstance(app.clock, FrozenClock)
    app.clock.set(date(2027, 1, 15))
    return references


@pytest.fixture
def lcspr(settings: Settings, app: App) -> Callable[[list[str]], int]:
    return lambda args: main(args, settings=settings, app=lambda _: app)


def test_the_figures_come_from_the_register_through_the_use_case(app: App, seeded: dict[str, str]) -> None:
    r = reports.annual(app, date(2026, 1, 1), date(2026, 12, 31))
    assert [row.reference for row in r.rows] == [seeded[c.agency_reference] for c in cases.CASES[:5]]
    assert (r.reviews, r.as_of, r.not_notifiable, r.awaiting_decision, r.commissioned, r.converted) == (
        5, date(2026, 12, 31), 1, 1, 2, 2)
    assert (r.notifications.on_time, r.notifications.late, r.notifications.overdue) == (2, 1, 1)
    assert (r.rapid_reviews.on_time, r.rapid_reviews.late) == (2, 1)
    assert (r.publications.on_time, r.publications.pending) == (1, 1)
    assert dict(r.decisions) == {"lcspr": 2, "reflective_learning_session": 0, "practice_review": 1,
                                 "no_further_review": 1, "national_review": 0}
    assert dict(r.deferrals) == {"criminal_proceedings": 1, "inquest": 0, "other": 0}
    assert dict(r.recommendations) == {"completed": 2, "in_progress": 1, "no_action_yet": 1}
    assert (r.actions.on_time, r.actions.late, r.actions.overdue, r.actions.pending) == (2, 0, 1, 0)


def test_csv_gives_one_row_per_review_referred_in_the_period(lcspr, capsys, seeded: dict[str, str]) -> None:
    assert lcspr(["report", "annual", *YEAR, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out, newline="")))
    assert tuple(rows[0]) == CSV_FIELDS
    assert [r["reference"] for r in rows] == [seeded[c.agency_reference] for c in cases.CASES[:5]]
    assert seeded["REP-2025"] not in {r["reference"] for r in rows}
    by_type = [(r["review_type"], r["converted_from_rapid_review"], r["stage"]) for r in rows]
    assert by_type == [("lcspr", "yes", "closed"), ("lcspr", "yes", "agency_reports"),
                       ("practice_review", "no", "action_plan"), ("no_further_review", "no", "closed"),
                       ("referral", "no", "referred")]
    full, late = rows[0], rows[1]
    assert (full["publication_date"], full["publication_link"], full["published_on_time"], full["deferral_reasons"]) \
        == ("2026-09-01", "https://example.org/reviews/lcspr-child-a", "yes", "criminal_proceedings")
    assert (late["notified_on_time"], late["rapid_review_on"], late["rapid_review_on_time"], late["stage_due"],
            late["slippage_working_days"], late["publication_due"]) == (
        "no", "2026-07-03", "no", "2026-08-27", "87", "2027-01-10")
    assert all(r["themes"] == "" for r in rows)


def test_markdown_to_a_file_embeds_the_chart_and_writes_it_beside(lcspr, capsys, tmp_path: Path,
                                                                   seeded: dict[str, str]) -> None:
    out = tmp_path / "year.md"
    assert lcspr(["report", "annual", *YEAR, "--output", str(out)]) == 0
    said = capsys.readouterr().out
    assert "5 reviews referred 2026-01-01 to 2026-12-31, as they stood on 2026-12-31" in said
    text = out.read_text(encoding="utf-8")
    assert "| Reviews referred | 5 | |" in text
    assert "| … within 5 working days of the local authority becoming aware | 2 | 67% of 3 |" in text
    assert "| LCSPRs commissioned | 2 | |" in text
    found = re.search(r"\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", text)
    assert found is not None
    chart = (tmp_path / "year-chart.svg").read_text(encoding="utf-8")
    assert base64.b64decode(found.group(1)).decode("utf-8") == chart
    assert ET.fromstring(chart).tag == "{http://www.w3.org/2000/svg}svg"
    assert "Child A" not in text and "Child A" not in chart


@pytest.mark.parametrize("args", [
    ["report"],
    ["report", "annual", "--from", "2026-01-01"],
    ["report", "annual", "--from", "01/01/2026", "--to", "2026-12-31"],
    ["report", "annual", *YEAR, "--format", "xlsx"],
    ["report", "annual", "--from", "2026-12-31", "--to", "2026-01-01"],
])
def test_a_mistake_in_the_arguments_is_one_line_and_exit_2(lcspr, capsys, args: list[str]) -> None:
    assert lcspr(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
