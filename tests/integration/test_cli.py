"""The lcspr command without a Prefect server: working days, the sweep and the outbox.

In-process calls give ``main`` the test's settings and App; the subprocess calls run the
installed command with its environment, as a user's shell does."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from models.reminders import Role
from notifications.dispatch import write_local_config
from notifications.local_smtp import LocalOutbox
from services import referrals
from services.app import App
from tests.conftest import make_referral


@pytest.fixture
def home(settings: Settings) -> Path:
    return settings.home


@pytest.fixture
def lcspr(settings: Settings, app: App) -> Callable[[list[str]], int]:
    """``lcspr ARGS`` in this process, on the test's settings and App."""
    return lambda args: main(args, settings=settings, app=lambda _: app)


def found(app: App, agency_reference: str) -> bool:
    with app.uow() as uow:
        return uow.reviews.find("Thames Valley Police", agency_reference) is not None


@pytest.mark.parametrize(
    ("args", "printed"),
    [
        (["workdays", "add", "2025-12-22", "5"], "2025-12-31"),
        (["workdays", "add", "2026-03-27", "15"], "2026-04-21"),
        (["workdays", "add", "2026-12-21", "5"], "2026-12-30"),
        (["workdays", "before", "2026-04-21", "15"], "2026-03-27"),
    ],
)
def test_workdays_prints_iso_dates(lcspr, capsys, args, printed):
    assert lcspr(args) == 0
    assert capsys.readouterr().out.strip() == printed


def test_sweep_sends_todays_escalations_and_the_outbox_shows_failures(home, capsys, app, lcspr):
    ref = referrals.register_referral(app, make_referral(la_aware_date=date(2026, 3, 3))).reference

    assert lcspr(["sweep", "--as-of", "2026-03-11", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would queue {ref}:serious_incident_notification:escalation:rung-1:subgroup_chair" in out

    # SMTP down: nothing listens on port 1. The messages stay pending, with the reason.
    write_local_config(home / "apprise.yml", smtp_host="127.0.0.1", smtp_port=1,
                       addresses={r.value: f"{r.value}@p.test" for r in Role}, sender="x@p.test")
    assert lcspr(["sweep", "--as-of", "2026-03-11"]) == 0
    assert "3 due, 3 newly queued, 0 sent, 3 failed" in capsys.readouterr().out
    assert lcspr(["outbox"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("pending") == 3 and "failed" in listing.lower()
    # Sending again at once sends nothing: each failure waits its backed-off time.
    assert lcspr(["outbox", "--send", "--reference", ref]) == 0
    assert "0 sent, 0 failed" in capsys.readouterr().out
    assert lcspr(["outbox", "--reference", ref]) == 2
    assert "--reference goes with --send" in capsys.readouterr().err

    # SMTP back: retrying now delivers each message once.
    with LocalOutbox(home / "mail") as box:
        write_local_config(home / "apprise.yml", smtp_host="127.0.0.1", smtp_port=box.port,
                           addresses={r.value: f"{r.value}@p.test" for r in Role}, sender="x@p.test")
        assert lcspr(["outbox", "--retry-now"]) == 0
        assert "3 sent, 0 still failing" in capsys.readouterr().out
        assert lcspr(["sweep", "--as-of", "2026-03-11"]) == 0
        assert len(box.messages()) == 3
    assert lcspr(["outbox"]) == 0
    assert "Nothing pending" in capsys.readouterr().out


def test_a_sweep_on_a_bank_holiday_says_so_and_sends_nothing(capsys, app, lcspr):
    referrals.register_referral(app, make_referral(la_aware_date=date(2026, 3, 3)))
    assert lcspr(["sweep", "--as-of", "2026-04-06", "--dry-run"]) == 0  # Easter Monday
    out = capsys.readouterr().out
    assert "not a working day" in out and "would queue" not in out


def _refer_file(folder: Path) -> Path:
    path = folder / "referral.json"
    path.write_text(make_referral(agency_reference="CLI-NO-API").model_dump_json())
    return path


def _run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed `lcspr` command in its own process: Prefect reads PREFECT_* when it is imported."""
    command = [str(Path(sys.executable).with_name("lcspr")), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _cli_env(home: Path, settings: Settings, api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LCSPR_"))}
    env.update({"LCSPR_HOME": str(home), "LCSPR_DATABASE_URL": settings.register_url, "PREFECT_API_URL": api_url,
                "PREFECT_HOME": str(home / "prefect"), "PREFECT_CLIENT_MAX_RETRIES": "0"})
    return env


def test_refer_with_prefect_unreachable_registers_nothing_and_says_so_in_one_line(home, settings, app):
    closed = f"http://127.0.0.1:{_free_port()}/api"
    result = _run_cli(["refer", str(_refer_file(home))], _cli_env(home, settings, closed), home)
    assert result.returncode == 1
    assert f"Cannot reach the Prefect API at {closed}" in result.stderr and "lcspr up" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not found(app, "CLI-NO-API")


# What `lcspr list`, `status` and `decide` must not load: Prefect's client (about 1.5 s to import), Apprise,
# Jinja2 and icalendar (no message is sent, no calendar written), Alembic (the register is at head) and httpx
# (0.1 s, with the command-line tool its __init__ loads: adapters/http_json.py speaks to Prefect's API instead).
SLOW_TO_LOAD = {"prefect", "apprise", "jinja2", "icalendar", "alembic", "httpx", "rich", "click"}


@pytest.mark.parametrize("command", ["list", "status", "decide"])
def test_the_commands_a_person_waits_on_ask_prefect_without_loading_its_client(home, settings, app, command):
    reference = referrals.register_referral(app, make_referral(agency_reference="CLI-FAST")).reference
    referrals.attach_run(app, reference, "5f1c1d5e-0000-4000-8000-000000000001")
    answer = home / "answer.json"
    answer.write_text('{"decided_by": "A. Jones, Partnership Manager", "decided_on": "2026-03-05", '
                      '"outcome": "notified", "panel_reference": "NP-2026-118"}')
    args = {"list": ["list"], "status": ["status", reference],
            "decide": ["decide", reference, "notification", "--input", str(answer)]}[command]
    closed = f"http://127.0.0.1:{_free_port()}/api"
    env = {**_cli_env(home, settings, closed), "PYTHONPROFILEIMPORTTIME": "1"}
    result = _run_cli(args, env, home)
    # It asked Prefect (over HTTP) and said in one line that the server is not there (list and status
    # still show the register, with the run states unknown) ...
    assert result.returncode == (1 if command == "decide" else 0), result.stderr[-2000:]
    trouble = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("import time:")]
    assert f"Cannot reach the Prefect API at {closed}" in result.stdout + "\n".join(trouble), trouble
    assert "Traceback" not in result.stderr
    # ... having loaded none of the slow libraries on the way (-X importtime lists every module loaded).
    loaded = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in result.stderr.splitlines()
              if line.startswith("import time:") and "|" in line}
    assert "http" in loaded and "sqlalchemy" in loaded
    assert loaded & SLOW_TO_LOAD == set()
    # England's bank holidays come from models/bank_holiday_table.py, not from loading every country of `holidays`.
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "holidays.countries" not in modules


def test_list_shows_the_soonest_due_up_to_its_limit_and_says_how_many_there_are(home, settings, app):
    first = referrals.register_referral(app, make_referral(agency_reference="CLI-LIST-1")).reference
    second = referrals.register_referral(app, make_referral(agency_reference="CLI-LIST-2")).reference
    env = _cli_env(home, settings, f"http://127.0.0.1:{_free_port()}/api")

    limited = _run_cli(["list", "--limit", "1"], env, home)
    every = _run_cli(["list", "--limit", "0"], env, home)
    wrong = _run_cli(["list", "--limit", "-1"], env, home)

    assert limited.returncode == 0, limited.stderr
    assert first in limited.stdout and second not in limited.stdout
    assert "1 of 2 open reviews: those that need repair, then the soonest due" in limited.stdout
    assert first in every.stdout and second in every.stdout and " of 2 " not in every.stdout
    assert wrong.returncode == 2 and "give a whole number of rows" in wrong.stderr


def test_refer_refused_by_the_apis_credentials_names_the_variable_to_set(home, settings, app):
    """A Prefect server behind PREFECT_SERVER_API_AUTH_STRING answers 401 to a client without credentials."""

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"exception_message": "Unauthorized"}')

        do_GET = do_POST = do_PATCH = _refuse

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"http://127.0.0.1:{server.server_address[1]}/api"
        result = _run_cli(["refer", str(_refer_file(home))], _cli_env(home, settings, api), home)
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr and "PREFECT_API_AUTH_STRING" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not found(app, "CLI-NO-API")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_run_process_is_alive_only_while_a_process_carries_that_run_id():
    from adapters.prefect_api import process_of
    from models.runs import Process

    env = {**os.environ, "PREFECT__FLOW_RUN_ID": "run-42"}
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    try:
        assert process_of("run-42", str(child.pid)) is Process.ALIVE
        assert process_of("another-run", str(child.pid)) is Process.GONE  # a reused pid is not the run
    finally:
        child.kill()
        child.wait()
    assert process_of("run-42", str(child.pid)) is Process.GONE
    assert process_of("run-42", None) is Process.UNKNOWN
