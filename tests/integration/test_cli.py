"""The lcspr command without a Prefect server: working days, the sweep and the outbox."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from models.reminders import Role
from notifications.dispatch import write_local_config
from notifications.local_smtp import LocalOutbox
from tasks.review import register_for
from tests.conftest import make_referral


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Path:
    """The CLI reads its settings from the environment, as a user's shell gives them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LCSPR_HOME", str(tmp_path))
    monkeypatch.setenv("LCSPR_DATABASE_URL", settings.register_url)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "printed"),
    [
        (["workdays", "add", "2025-12-22", "5"], "2025-12-31"),
        (["workdays", "add", "2026-03-27", "15"], "2026-04-21"),
        (["workdays", "add", "2026-12-21", "5"], "2026-12-30"),
        (["workdays", "before", "2026-04-21", "15"], "2026-03-27"),
    ],
)
def test_workdays_prints_iso_dates(home, capsys, args, printed):
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == printed


def test_sweep_sends_todays_escalations_and_the_outbox_shows_failures(home, capsys, monkeypatch, settings):
    register = register_for(settings)
    ref = register.refer(make_referral(la_aware_date=date(2026, 3, 3)), date(2026, 3, 3),
                         datetime(2026, 3, 3, tzinfo=UTC)).reference

    assert main(["sweep", "--as-of", "2026-03-11", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would queue {ref}:serious_incident_notification:escalation:rung-1:subgroup_chair" in out

    # SMTP down: nothing listens on port 1. The messages stay pending, with the reason.
    write_local_config(home / "apprise.yml", smtp_host="127.0.0.1", smtp_port=1,
                       addresses={r.value: f"{r.value}@p.test" for r in Role}, sender="x@p.test")
    assert main(["sweep", "--as-of", "2026-03-11"]) == 0
    assert "3 due, 3 newly queued, 0 sent, 3 failed" in capsys.readouterr().out
    assert main(["outbox"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("pending") == 3 and "failed" in listing.lower()

    # SMTP back: retrying now delivers each message once.
    with LocalOutbox(home / "mail") as box:
        write_local_config(home / "apprise.yml", smtp_host="127.0.0.1", smtp_port=box.port,
                           addresses={r.value: f"{r.value}@p.test" for r in Role}, sender="x@p.test")
        assert main(["outbox", "--retry-now"]) == 0
        assert "3 sent, 0 still failing" in capsys.readouterr().out
        assert main(["sweep", "--as-of", "2026-03-11"]) == 0
        assert len(box.messages()) == 3
    assert main(["outbox"]) == 0
    assert "Nothing pending" in capsys.readouterr().out


def test_a_sweep_on_a_bank_holiday_says_so_and_sends_nothing(home, capsys, settings):
    register_for(settings).refer(make_referral(la_aware_date=date(2026, 3, 3)), date(2026, 3, 3),
                                 datetime(2026, 3, 3, tzinfo=UTC))
    assert main(["sweep", "--as-of", "2026-04-06", "--dry-run"]) == 0  # Easter Monday
    out = capsys.readouterr().out
    assert "not a working day" in out and "would queue" not in out
