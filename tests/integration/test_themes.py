"""``lcspr themes``, ``lcspr report annual``'s learning by theme and ``lcspr briefing`` on the real register:
reviews with known answers recorded through the use cases (``tests/report_cases.py``), themes given through the
command line, then what the register keeps, the audit trail, the report and the briefing files."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from services import reports
from services.app import App
from services.ports import Runs
from tests import report_cases as cases
from tests.fakes import FakeRuns, FrozenClock

BY = ["--by", "A. Jones, Partnership Manager"]


@pytest.fixture
def seeded(app: App) -> dict[str, str]:
    """The full LCSPR (published, closed), the late one (no recommendations yet) and the practice review
    (two recommendations, one action open), then the clock at mid-January 2027."""
    references = {case.agency_reference: cases.seed(app, case) for case in (cases.FULL, cases.LATE, cases.LEARNING)}
    assert isinstance(app.clock, FrozenClock)
    app.clock.set(date(2027, 1, 15))
    return references


@pytest.fixture
def lcspr(settings: Settings, app: App) -> Callable[..., int]:
    return lambda *args: main(list(args), settings=settings, app=lambda _: app)


def test_themes_are_given_listed_removed_and_kept_with_who_and_when(lcspr, capsys, app: App,
                                                                     seeded: dict[str, str]) -> None:
    full = seeded["REP-FULL"]
    assert lcspr("themes", full.lower(), "--recommendation", "2", "--add", "neglect,information_sharing",
                 "--tag", "Pre birth", *BY) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{full}, recommendation 2: added neglect; added information_sharing; added pre-birth.\n")
    assert "2. Train staff on bruising in non-mobile babies\n   themes: Neglect (neglect), Information sharing " \
           "(information_sharing)\n   tags: pre-birth\n" in out
    assert "1. Share information at strategy meetings\n   themes: none yet\n" in out

    assert lcspr("themes", full, "--recommendation", "2", "--add", "neglect", "--remove", "information_sharing",
                 *BY) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{full}, recommendation 2: removed information_sharing; neglect was there already.\n")
    assert "   themes: Neglect (neglect)\n   tags: pre-birth\n" in out

    assert lcspr("themes", full, "--history") == 0
    history = capsys.readouterr().out
    assert "information_sharing  2027-01-15  A. Jones, Partnership Manager  2027-01-15 by A. Jones" in history
    assert history.count("\n2    ") == 3  # every assignment kept, the removed one too

    with app.uow() as uow:
        trail = [e for e in uow.reviews.audit_trail(full) if e.event == "themes_changed"]
        assert [e.detail for e in trail] == [
            {"recommendation": 2, "added": ["controlled:neglect", "controlled:information_sharing", "tag:pre-birth"],
             "removed": []},
            {"recommendation": 2, "added": [], "removed": ["controlled:information_sharing"]}]
        assert trail[0].actor == "A. Jones, Partnership Manager"
        assert uow.reviews.verify_audit(full).problems == ()


def test_the_list_of_themes_is_the_partnerships(lcspr, capsys, app: App) -> None:
    assert lcspr("themes", "--list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["key", "title"]
    assert [line.split()[0] for line in out[2:]] == list(app.config.themes.keys)
    assert "voice_of_the_child" in app.config.themes


@pytest.mark.parametrize(("args", "says"), [
    (["--recommendation", "3", "--add", "neglect", *BY], "Recommendation 3 does not exist: the review has 2"),
    (["--recommendation", "1", "--add", "not_a_theme", *BY], "Theme 1 of --add is not in the partnership's list; "
                                                              "the themes are: neglect, domestic_abuse"),
    (["--recommendation", "1", "--tag", "jane-smith", *BY], "tag 1 appears to contain something that could identify"),
    (["--recommendation", "1", "--remove", "neglect", *BY], "Item 1 of --remove is not on recommendation 1"),
    (["--recommendation", "1", "--add", "neglect"], "A change needs --recommendation N, --add/--tag/--remove and --by"),
])
def test_a_refused_change_is_one_line_exit_2_writing_nothing(lcspr, capsys, app: App, seeded: dict[str, str],
                                                             args: list[str], says: str) -> None:
    full = seeded["REP-FULL"]
    assert lcspr("themes", full, *args) == 2
    captured = capsys.readouterr()
    assert says in captured.err and captured.err.count("\n") == 1 and captured.out == ""
    assert "not_a_theme" not in captured.err and "jane" not in captured.err.lower()
    with app.uow() as uow:
        assert uow.themes.history(full) == []


def test_a_review_without_recommendations_takes_no_themes(lcspr, capsys, seeded: dict[str, str]) -> None:
    late = seeded["REP-LATE"]
    assert lcspr("themes", late) == 0
    assert capsys.readouterr().out.startswith(f"{late}: no recommendations yet (stage agency reports)")
    assert lcspr("themes", late, "--recommendation", "1", "--add", "neglect", *BY) == 2
    assert "has no recommendations yet" in capsys.readouterr().err
    assert lcspr("themes", "LCSPR-2026-9999") == 2


def test_the_yearly_report_groups_by_the_themes_in_the_register(lcspr, capsys, app: App,
                                                                seeded: dict[str, str]) -> None:
    full, learning = seeded["REP-FULL"], seeded["REP-LEARN"]
    for reference, number, add in ((full, "1", "multi_agency_working,information_sharing"),
                                   (learning, "1", "multi_agency_working"), (full, "2", "non_accidental_injury")):
        assert lcspr("themes", reference, "--recommendation", number, "--add", add, *BY) == 0
    assert lcspr("themes", learning, "--recommendation", "2", "--tag", "supervision", *BY) == 0
    capsys.readouterr()

    section = reports.annual(app, date(2026, 1, 1), date(2026, 12, 31)).learning
    assert section is not None
    assert [(t.key, t.reviews, t.recommendations, t.actions_completed, t.actions_open, t.actions_overdue)
            for t in section.themes] == [("multi_agency_working", 2, 2, 1, 1, 1),
                                         ("non_accidental_injury", 1, 1, 1, 0, 0),
                                         ("information_sharing", 1, 1, 1, 0, 0)]
    assert [(t.title, t.recommendations) for t in section.tags] == [("#supervision", 1)]
    assert (section.recommendations, section.without_theme) == (4, 1)

    year = ["--from", "2026-01-01", "--to", "2026-12-31"]
    assert lcspr("report", "annual", *year) == 0
    text = capsys.readouterr().out
    assert "## Learning by theme" in text
    assert "| Multi-agency working and escalation | 2 | 2 | 2 | 1 | 1 | 1 |" in text
    assert "| \\#supervision | 1 | 1 | 0 | 0 | 0 | 0 |" in text
    assert lcspr("report", "annual", *year, "--format", "csv") == 0
    rows = {r["reference"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out, newline=""))}
    assert rows[full]["themes"] == ("Non-accidental injury in infants; Information sharing; "
                                    "Multi-agency working and escalation")
    assert rows[learning]["themes"] == "Multi-agency working and escalation; #supervision"
    assert rows[seeded["REP-LATE"]]["themes"] == ""


def test_a_briefing_is_written_for_a_published_review_only(lcspr, capsys, tmp_path: Path,
                                                           seeded: dict[str, str]) -> None:
    full, learning = seeded["REP-FULL"], seeded["REP-LEARN"]
    assert lcspr("briefing", learning) == 2
    err = capsys.readouterr().err
    assert f"refused: A learning briefing is for published reviews only; {learning} is at stage action plan." in err

    assert lcspr("themes", full, "--recommendation", "1", "--add", "information_sharing", *BY) == 0
    capsys.readouterr()
    assert lcspr("briefing", full) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# Learning briefing: review {full}\n")
    assert "1. Share information at strategy meetings *(Information sharing)*" in text
    assert "| 1 | 1 | Thames Valley Police | 2026-12-01 | completed on 2026-10-01 |" in text
    assert "published 2026-09-01" in text and "https://example.org/reviews/lcspr-child-a" in text

    page = tmp_path / "briefing.html"
    assert lcspr("briefing", full, "--output", str(page)) == 0
    assert capsys.readouterr().out == f"Wrote the learning briefing of {full} to {page}.\n"
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<li>Share information at strategy meetings" in html
    for written in (text, html):
        assert "Child A" not in written and "POL-2026" not in written and "infant at home" not in written
    assert lcspr("briefing", full, "--output", str(tmp_path / "briefing.pdf")) == 2


def test_a_briefing_is_published_as_an_artifact_once_per_change(settings: Settings, app: App, capsys,
                                                                 seeded: dict[str, str]) -> None:
    runs = FakeRuns()

    @contextmanager
    def open_runs() -> Iterator[Runs]:
        yield runs

    with_runs = App(config=app.config, clock=app.clock, uow=app.uow, runs=open_runs, dispatcher=app.dispatcher)
    full = seeded["REP-FULL"]

    def lcspr(*args: str) -> int:
        return main(list(args), settings=settings, app=lambda _: with_runs)

    out = settings.home / "b.md"
    assert lcspr("briefing", full, "--publish", "--output", str(out)) == 0
    key = f"lcspr-briefing-{full.lower()}"
    assert capsys.readouterr().out.splitlines()[1] == f"Briefing published: http://127.0.0.1:4200/v2/artifacts/key/{key}"
    assert [v.data for v in runs.artifacts[key]] == [out.read_text(encoding="utf-8")]
    assert lcspr("briefing", full, "--publish") == 0
    assert capsys.readouterr().err.startswith("Briefing unchanged (no new version)")
    assert lcspr("themes", full, "--recommendation", "2", "--tag", "bruising", *BY) == 0
    assert lcspr("briefing", full, "--publish") == 0
    assert len(runs.artifacts[key]) == 2 and "#bruising" in str(runs.artifacts[key][-1].data)
