"""The running system keeps its promises when time passes and processes die.

One system started with ``./run`` (reconcile every 20 s, a 15 s grace for runs with no live
process), driven as its users and an unlucky machine would: the scheduler creates runs of
every scheduled deployment, a sweep started as a deployment run mails the reminders due,
and flow-run processes, the worker and the Prefect server are killed at chosen points. After
``lcspr reconcile``, or the scheduled reconcile, every review waits on the right step with
each decision recorded once and each message sent once. The tests run in file order and
share the system; each follows its own review.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from adapters.failpoints import AFTER_RECORD, BEFORE_RECORD, arm
from lcspr.clock import SystemClock
from models.workdays import WorkingCalendar
from tests.e2e.conftest import (
    System,
    answer_file,
    referral_file,
    start_system,
    tracebacks_not_prefects_lock,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

TODAY = SystemClock().today()
ANSWERS: dict[str, dict[str, Any]] = {
    "notification": {"outcome": "notified", "panel_reference": "NP-2026-118"},
    "rapid-review": {"recommendation": "lcspr", "immediate_safety_actions": True, "sent_to_panel": True,
                     "rationale": "Learning about information sharing between agencies.",
                     "facts": "Agencies involved: police, health visiting and children's social care.",
                     "practice_episodes": "Two strategy discussions held without health; a missed referral.",
                     "learning_shared": "Briefing to the sub group and a seven-minute briefing to agencies.",
                     "possible_improvements": "Health to attend every strategy discussion; referral checks.",
                     "inequalities": "Considered language needs, ethnicity and a parent's disability; "
                                     "none changed practice."},
    "chair-decision": {"outcome": "lcspr", "decider_role": "independent_chair",
                       "delegation": "Partnership arrangements 2024, section 4",
                       "rationale": "Criteria met; significant learning."},
    "inform-bodies": {"dfe_informed": True, "ofsted_informed": True, "panel_informed": True},
}
# The step each answer leads to.
NEXT = {"notification": "rapid-review-1", "rapid-review": "chair-decision-1", "chair-decision": "inform-bodies-1",
        "inform-bodies": "author-appointment-1"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    env = {"LCSPR_RECONCILE_INTERVAL_SECONDS": "20", "LCSPR_RECONCILE_GRACE_SECONDS": "15"}
    with start_system(tmp_path_factory.mktemp("lcspr-recovery"), env) as running:
        running.wait_until_up()
        yield running


def refer(system: System, agency_reference: str, la_aware_date: date | None = None) -> tuple[str, str]:
    result = system.lcspr("refer", str(referral_file(system.home, TODAY, agency_reference, la_aware_date)))
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"^(LCSPR-\d{4}-\d{4})$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    reference = match[1]
    waiting_on(system, reference, "notification-1")
    return reference, system.status(reference)["flow_run_id"]


def waiting_on(system: System, reference: str, key: str, timeout: float = 180) -> dict[str, Any]:
    """Wait until the register's open step is ``key`` and the run waits on it (suspended, health "waiting")."""
    def probe() -> dict[str, Any] | None:
        status = system.status(reference)
        step = (status["open_step"] or {}).get("key")
        return status if step == key and status["run"]["health"] == "waiting" else None

    return wait_for(f"{reference} to wait on {key}", probe, timeout)


def decide(system: System, reference: str, step: str) -> None:
    answer = answer_file(system.home, f"{reference}-{step}.json", {"decided_on": TODAY.isoformat(), **ANSWERS[step]})
    result = system.lcspr("decide", reference, step, "--input", str(answer))
    assert result.returncode == 0, result.stdout + result.stderr


def recorded(system: System, reference: str) -> Counter[str]:
    """How many times each step's decision is in the audit trail."""
    audit = system.lcspr("audit", reference, "--verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    return Counter(re.findall(r'decision_recorded\s+\{.*"key": "([^"]+)"', audit.stdout))


def mails_for(system: System, reference: str) -> Counter[tuple[str, str]]:
    return Counter((m["To"], m["Subject"]) for m in system.mails() if f"[{reference}]" in m["Subject"])


def assert_each_message_once(system: System, reference: str) -> None:
    counts = mails_for(system, reference)
    assert counts and all(n == 1 for n in counts.values()), counts


def stranded(system: System, reference: str, killed_at: str | None = None) -> dict[str, Any]:
    """The review's status once it is seen as stranded; with ``killed_at``, once the process died at that
    kill point (its file is consumed). A run that crashed earlier for another reason (Prefect's SQLite
    refusing a write under load) is repaired by the scheduled reconcile and reaches the point later."""
    def seen() -> dict[str, Any] | None:
        if killed_at and (system.home / "failpoints" / killed_at).exists():
            return None
        status = system.status(reference)
        return status if status["run"]["needs_repair"] else None

    return wait_for(f"{reference} to be seen as stranded", seen, timeout=240)


def set_paused(system: System, deployment: str, paused: bool) -> None:
    assert system.api(f"/deployments/{system.deployment_id(deployment)}", {"paused": paused}, "PATCH") is not None


def test_the_scheduler_creates_runs_of_every_scheduled_deployment_and_they_run(system):
    for deployment in ("lcspr-deadline-sweep", "lcspr-deliver-outbox", "lcspr-reconcile", "lcspr-portfolio"):
        wait_for(f"scheduled runs of {deployment}", lambda d=deployment: system.runs_of(d) or None, timeout=120)
    # Reconcile comes every 20 s: its scheduled runs are picked up by the worker and complete.
    completed = wait_for("a scheduled reconcile run to complete",
                         lambda: [r for r in system.runs_of("lcspr-reconcile")
                                  if (r.get("state") or {}).get("type") == "COMPLETED"] or None, timeout=180)
    assert completed[0]["auto_scheduled"] is True
    # `lcspr up` runs the portfolio once at start (publishing it and refreshing every review run's tags).
    wait_for("a portfolio run to complete",
             lambda: [r for r in system.runs_of("lcspr-portfolio")
                      if (r.get("state") or {}).get("type") == "COMPLETED"] or None, timeout=180)


def test_a_sweep_started_as_a_deployment_run_mails_the_reminders_due(system):
    cal = WorkingCalendar()
    # Today as the sweep will see it, read now rather than when the tests were collected (a session can
    # start before midnight in London and reach this test after it).
    started_on = SystemClock().today()
    today = started_on if cal.is_working_day(started_on) else cal.before(started_on, 1)
    # Aware five working days ago: the serious incident notification is due today.
    reference, _ = refer(system, "POL-E2E-SWEEP", la_aware_date=cal.before(today, 5))

    def sweep(parameters: dict[str, str]) -> None:
        run = system.api(f"/deployments/{system.deployment_id('lcspr-deadline-sweep')}/create_flow_run",
                         {"parameters": parameters})
        assert run, "the deployment run was not created"
        state = wait_for("the sweep run to finish",
                         lambda: ((s := system.run_state(run["id"])) and s.get("type") in ("COMPLETED", "FAILED",
                                                                                            "CRASHED") and s) or None,
                         timeout=180)
        assert state["type"] == "COMPLETED", state

    # As the schedule starts it: a run of the deployment, no parameters (a weekend test names the weekday).
    sweep({} if today == started_on else {"as_of": today.isoformat()})
    if SystemClock().today() != started_on:
        # Midnight passed while it ran: that sweep saw the notification overdue; the one of the day it was
        # referred, named, mails it due today.
        sweep({"as_of": today.isoformat()})
    due = [m for m in system.mails() if m["Subject"].startswith(f"[{reference}] Due today:")]
    assert len(due) == 1, [m["Subject"] for m in system.mails()]
    assert due[0]["To"] == "business_unit@partnership.local"
    outbox = system.lcspr("outbox")
    assert outbox.returncode == 0 and "Nothing pending" in outbox.stdout


def test_a_process_killed_before_the_answer_is_recorded_is_repaired_by_lcspr_reconcile(system):
    set_paused(system, "lcspr-reconcile", True)
    reference, flow_run_id = refer(system, "POL-E2E-KILL1")
    arm(system.home, BEFORE_RECORD)
    decide(system, reference, "notification")
    status = stranded(system, reference)
    assert status["open_step"]["key"] == "notification-1"
    assert not (system.home / "failpoints" / BEFORE_RECORD).exists()

    # What a user sees: the problem and the command that repairs it, in status, list and decide.
    shown = system.lcspr("status", reference)
    assert "PROBLEM" in shown.stdout and "lcspr reconcile" in shown.stdout, shown.stdout
    listed = system.lcspr("list")
    assert re.search(rf"{reference}.*!", listed.stdout) and "lcspr reconcile" in listed.stdout, listed.stdout
    again = system.lcspr("decide", reference, "notification", "--input",
                         str(system.home / f"{reference}-notification.json"))
    assert again.returncode == 1 and "lcspr reconcile" in again.stderr, again.stderr

    dry = system.lcspr("reconcile", "--dry-run")
    assert f"{reference}: stranded" in dry.stdout and "would repair" in dry.stdout
    repaired = system.lcspr("reconcile")
    assert repaired.returncode == 0 and re.search(rf"{reference}: stranded.*rescheduled", repaired.stdout), (
        repaired.stdout + repaired.stderr)
    waiting_on(system, reference, NEXT["notification"])
    assert recorded(system, reference) == {"notification-1": 1}
    assert_each_message_once(system, reference)
    assert flow_run_id == system.status(reference)["flow_run_id"]


def test_a_process_killed_after_the_answer_is_recorded_is_repaired_by_lcspr_reconcile(system):
    reference, _ = refer(system, "POL-E2E-KILL2")
    decide(system, reference, "notification")
    waiting_on(system, reference, NEXT["notification"])
    arm(system.home, AFTER_RECORD)
    decide(system, reference, "rapid-review")
    status = stranded(system, reference, killed_at=AFTER_RECORD)
    # Recorded before the process died: the register has moved on, the run has not.
    assert status["open_step"]["key"] == NEXT["rapid-review"]
    repaired = system.lcspr("reconcile")
    assert re.search(rf"{reference}: stranded.*rescheduled", repaired.stdout), repaired.stdout
    waiting_on(system, reference, NEXT["rapid-review"])
    assert recorded(system, reference) == {"notification-1": 1, "rapid-review-1": 1}
    assert_each_message_once(system, reference)


def test_a_killed_worker_is_restarted_at_once_and_its_review_carries_on(system):
    reference, _ = refer(system, "POL-E2E-WORKER")
    worker = system.child(r"prefect worker start")
    assert worker is not None
    decide(system, reference, "notification")
    os.kill(worker, signal.SIGKILL)
    new = wait_for("a new worker", lambda: ((p := system.child(r"prefect worker start")) != worker and p) or None,
                   timeout=30, every=0.5)
    assert new != worker
    assert "worker stopped unexpectedly" in system.log()
    # Whatever the run was doing when its worker died, reconcile leaves it waiting on the next step.
    def settled() -> bool | None:
        system.lcspr("reconcile")
        status = system.status(reference)
        ok = status["open_step"]["key"] == NEXT["notification"] and status["run"]["health"] == "waiting"
        return ok or None

    wait_for(f"{reference} to wait on {NEXT['notification']}", settled, timeout=180, every=5)
    assert recorded(system, reference) == {"notification-1": 1}
    assert_each_message_once(system, reference)
    # The system keeps serving: a new referral reaches its first step.
    refer(system, "POL-E2E-AFTER-WORKER")


def test_the_scheduled_reconcile_repairs_a_killed_process_without_anyone_asking(system):
    set_paused(system, "lcspr-reconcile", False)
    reference, _ = refer(system, "POL-E2E-SCHEDULED")
    arm(system.home, BEFORE_RECORD)
    decide(system, reference, "notification")
    waiting_on(system, reference, NEXT["notification"], timeout=240)
    assert recorded(system, reference) == {"notification-1": 1}
    assert_each_message_once(system, reference)


def test_a_review_recovers_when_the_server_is_killed_while_it_resumes(system):
    reference, flow_run_id = refer(system, "POL-E2E-SERVER")
    decide(system, reference, "notification")
    wait_for("the run to start resuming",
             lambda: system.run_state(flow_run_id).get("type") in ("PENDING", "RUNNING") or None,
             timeout=60, every=0.2)
    server = system.child(r"lcspr\.prefect_server server start")
    assert server is not None
    os.kill(server, signal.SIGKILL)
    wait_for("the server to be restarted and answer", lambda: system.api("/health"), timeout=120)
    # The scheduled reconcile (every 20 s) brings the review back if the run was stranded.
    waiting_on(system, reference, NEXT["notification"], timeout=300)
    assert recorded(system, reference) == {"notification-1": 1}
    assert_each_message_once(system, reference)


def test_the_server_log_has_no_traceback(system):
    log = (system.home / "logs" / "server.log").read_text(errors="replace")
    # One traceback is Prefect 3.8's own and not ours: its worker-heartbeat upsert runs in a DEFERRED
    # SQLite transaction (read, then write), which SQLite refuses at once with "database is locked"
    # when another write lands in between (prefect/server/utilities/worker_channel.py). The worker
    # sends the next heartbeat 30 s later; no run is touched. Every other traceback fails the test.
    ours = tracebacks_not_prefects_lock(log)
    assert ours == [], ours[0][:6000]
    assert "schedule_deployments" not in log
    print(json.dumps({"server_log_bytes": len(log)}))
