"""The whole system as a person uses it: `./run`, then `lcspr refer / status / decide`.

Starts ``./run`` (the README's run command, which execs ``lcspr up``) as a subprocess in
a temporary home on free ports (a real Prefect server with its SQLite database, a
process worker, the deployments from ``prefect.yaml`` and the local SMTP outbox),
drives one review through its first step with the CLI, and stops it with SIGINT,
checking that every process it started is gone.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import signal
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from lcspr.clock import SystemClock
from lcspr.up import alive, descendants
from models.workdays import WorkingCalendar
from tests.e2e.conftest import System, answer_file, referral_file, start_system, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]



@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with start_system(tmp_path_factory.mktemp("lcspr-e2e")) as running:
        yield running


def notification_answer(folder: Path, name: str, decided_on: date) -> Path:
    return answer_file(folder, name, {"decided_on": decided_on.isoformat(), "outcome": "notified",
                                      "panel_reference": "NP-2026-118"})


def test_refer_decide_and_stop(system: System) -> None:
    today = SystemClock().today()

    # The system is up once the review deployment exists.
    system.wait_until_up()
    started = descendants(system.process.pid)
    assert len(started) >= 3, system.log()

    # A second `lcspr up` on the same ports says so and stops.
    second = system.lcspr("up", timeout=60)
    assert second.returncode == 1
    assert "already in use" in second.stderr

    # Refer: the reference and the flow run's page in the UI.
    referred = system.lcspr("refer", str(referral_file(system.home, today)))
    assert referred.returncode == 0, referred.stderr
    match = re.search(r"^(LCSPR-\d{4}-\d{4})$", referred.stdout, re.MULTILINE)
    assert match, referred.stdout
    reference = match[1]
    started_run = re.search(r"/v2/runs/flow-run/([0-9a-f-]{36})", referred.stdout)
    assert started_run, referred.stdout

    # The same referral again returns the same review and run.
    again = system.lcspr("refer", str(referral_file(system.home, today)))
    assert again.returncode == 0, again.stderr
    assert reference in again.stdout and "Already referred" in again.stdout
    assert started_run[1] in again.stdout

    # The run records itself in the register as the review's driver when it starts.
    flow_run_id = wait_for("the run to attach itself", lambda: system.status(reference)["flow_run_id"], 90)
    assert flow_run_id == started_run[1]

    def suspended_on_notification() -> dict[str, Any] | None:
        run = system.api(f"/flow_runs/{flow_run_id}")
        state = (run or {}).get("state") or {}
        if state.get("name") != "Suspended":
            return None
        current = system.status(reference)
        return current if (current["open_step"] or {}).get("key") == "notification-1" else None

    status = wait_for("the run suspended on notification-1", suspended_on_notification, timeout=180)
    assert status["stage"] == "referred"
    assert status["flow_run_url"].endswith(f"/v2/runs/flow-run/{flow_run_id}")

    # A future date is refused locally: exit 2, the reason, nothing changes.
    future = notification_answer(system.home, "future.json", today + timedelta(days=30))
    refused = system.lcspr("decide", reference, "notification", "--input", str(future))
    assert refused.returncode == 2
    assert "future" in refused.stderr and "Traceback" not in refused.stderr
    assert system.status(reference) == status
    assert (system.api(f"/flow_runs/{flow_run_id}") or {})["state"]["name"] == "Suspended"

    # The real answer: the flow resumes, records it and moves to the rapid review.
    notified = notification_answer(system.home, "notification.json", today)
    decided = system.lcspr(
        "decide", reference, "notification", "--input", str(notified), "--wait", "90"
    )
    assert decided.returncode == 0, decided.stdout + decided.stderr
    assert "rapid-review-1" in decided.stdout

    status = system.status(reference)
    assert status["stage"] == "rapid_review"
    assert status["open_step"]["key"] == "rapid-review-1"
    clocks = {c["key"]: c for c in status["clocks"]}
    sin = clocks["serious_incident_notification"]
    assert sin["state"] == "met" and sin["met_on"] == today.isoformat()
    rapid = clocks["rapid_review"]
    assert rapid["state"] == "running"
    assert rapid["start"] == today.isoformat()
    assert rapid["due"] == WorkingCalendar().add(today, 15).isoformat()
    assert status["open_step"]["due"] == rapid["due"]

    audit = system.lcspr("audit", reference, "--verify")
    assert audit.returncode == 0, audit.stderr

    # The people who owe the rapid review got an email in the outbox folder, with a link that opens.
    def rapid_review_mail() -> email.message.EmailMessage | None:
        for path in sorted((system.home / "outbox").glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if f"[{reference}]" in message["Subject"] and "Rapid Review" in message["Subject"]:
                return message  # type: ignore[return-value]
        return None

    mail = wait_for("the rapid review email", rapid_review_mail, timeout=60)
    assert mail["To"] == "safeguarding_partners@partnership.local"
    body = mail.get_body(("plain", "html")).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://\S+/v2/runs/flow-run/[0-9a-f-]+", body)
    assert link and link.group(0).endswith(flow_run_id), body
    # As a browser asks for it (the server answers a page navigation with the UI's index).
    request = urllib.request.Request(link.group(0), headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=10) as page:
        assert page.status == 200 and b"<html" in page.read().lower()
    assert "Child A" not in body and "infant" not in body

    # Beside the run, as the business unit records them: an immediate action (the run keeps waiting, the
    # review's summary shows it at once) and a panel meeting, whose invitation reaches the outbox as an
    # iCalendar request in UK time.
    due = today + timedelta(days=30)
    action = system.lcspr("action", reference, "--add", "immediate_safety", "--action",
                          "Review the safety plans of the other children", "--owner", "Childrens Social Care",
                          "--due", due.isoformat(), "--on", today.isoformat(), "--by", "A. Jones, Partnership Manager")
    assert action.returncode == 0, action.stdout + action.stderr
    assert action.stderr == ""  # nothing to say: the summary artifact was published
    status = system.status(reference)
    assert status["open_step"]["key"] == "rapid-review-1"
    actions = [(a["number"], a["kind"], a["due_on"]) for a in status["actions"]]
    assert actions == [(1, "immediate_safety", due.isoformat())]
    assert (system.api(f"/flow_runs/{flow_run_id}") or {})["state"]["name"] == "Suspended"

    day = WorkingCalendar().add(today, 2)
    scheduled = system.lcspr("meeting", "schedule", reference, "--kind", "panel_meeting", "--on", day.isoformat(),
                             "--at", "10:00", "--minutes", "90", "--where", "Teams", "--invite", "panel_chair,author",
                             "--by", "A. Jones, Partnership Manager")
    assert scheduled.returncode == 0, scheduled.stdout + scheduled.stderr

    def invitation() -> str | None:
        for message in system.mails():
            if f"[{reference}] Invitation" in message["Subject"] and message["To"].startswith("panel_chair@"):
                for part in message.walk():
                    if part.get_content_type() == "text/calendar" and part.get_param("method") == "REQUEST":
                        return str(part.get_content())
        return None

    from icalendar import Calendar

    calendar = Calendar.from_ical(wait_for("the panel meeting's invitation", invitation, timeout=60))
    assert calendar["METHOD"] == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    start = event.decoded("DTSTART")
    assert (start.date(), start.hour, start.minute, str(start.tzinfo)) == (day, 10, 0, "Europe/London")
    assert str(event["UID"]).startswith(f"{reference}-meeting-")

    # Ctrl-C stops everything `lcspr up` started.
    started = sorted(set(started) | set(descendants(system.process.pid)))
    system.process.send_signal(signal.SIGINT)
    assert system.process.wait(timeout=90) == 0, system.log()
    lingering: list[int] = wait_for(
        "every child process to end",
        lambda: [] if not any(alive(p) for p in started) else None,
        timeout=10, every=0.2,
    )
    assert lingering == []
    assert "Stopped." in system.log()
