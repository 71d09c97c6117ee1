"""``lcspr report portfolio`` on a real register: the markdown on stdout, or published as the artifact."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from lcspr.cli import main
from lcspr.settings import Settings
from services import referrals
from services.app import App
from services.ports import Runs
from tests.conftest import make_app, make_referral
from tests.fakes import FakeRuns


def with_runs(app: App, runs: FakeRuns) -> App:
    """The same App, its Prefect replaced by the fake (no server in this tier)."""

    @contextmanager
    def open_runs() -> Iterator[Runs]:
        yield runs

    return App(config=app.config, clock=app.clock, uow=app.uow, runs=open_runs, dispatcher=app.dispatcher)


def test_report_portfolio_prints_the_markdown_and_publish_makes_one_version(settings: Settings, capsys):
    runs = FakeRuns()
    app = with_runs(make_app(settings, today=date(2026, 3, 3)), runs)
    first = referrals.register_referral(app, make_referral()).reference
    second = referrals.register_referral(app, make_referral(agency_reference="POL-2026-0077")).reference

    def lcspr(*args: str) -> int:
        return main(list(args), settings=settings, app=lambda _: app)

    assert lcspr("report", "portfolio") == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Open reviews: ")
    assert "**2 open reviews**" in printed and first in printed and second in printed
    assert runs.artifacts == {}

    assert lcspr("report", "portfolio", "--publish") == 0
    assert capsys.readouterr().out == (
        "Portfolio published: http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio\n")
    assert lcspr("report", "portfolio", "--publish") == 0
    assert capsys.readouterr().out.startswith("Portfolio unchanged")
    assert [v.data for v in runs.artifacts["lcspr-portfolio"]] == [printed]


def test_publish_publishes_a_reviews_artifacts_and_the_portfolio_as_its_run_does(settings: Settings, capsys):
    runs = FakeRuns()
    app = with_runs(make_app(settings, today=date(2026, 3, 3)), runs)
    reference = referrals.register_referral(app, make_referral()).reference

    def lcspr(*args: str) -> int:
        return main(list(args), settings=settings, app=lambda _: app)

    assert lcspr("publish", reference) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{reference}: 3 artifact(s) with a new version (")
    assert out[1].startswith("Portfolio published: ")
    assert set(runs.artifacts) == {"lcspr-portfolio", *(f"review-{reference.lower()}-{part}" for part in
                                                        ("summary", "timeline", "progress"))}
    assert lcspr("publish", reference) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{reference}: 0 artifact(s) with a new version",
        "Portfolio unchanged (no new version): http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio"]
    assert lcspr("publish") == 0 and capsys.readouterr().out.startswith("Portfolio unchanged")
    assert lcspr("publish", "LCSPR-2026-9999") == 2
    assert (settings.home / "publish.lock").exists()


def test_report_needs_a_report_name(settings: Settings, capsys):
    assert main(["report"], settings=settings) == 2
    assert "report" in capsys.readouterr().err
