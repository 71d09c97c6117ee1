"""Refused text leaves no trace: not in a log, not in Prefect's database, not in the register.

On the running system (``./run``): a referral typed into the UI's Custom run form with a real
name as the pseudonym (the server refuses it at the door), one with a name and address in
its outline (the run refuses it), and an answer given in the Resume form naming a doctor and
an address (the run refuses it and asks again). Then every file under the system's home (the
Prefect database and its write-ahead log after a checkpoint, the register, every log, the
result store, the outbox) is searched, byte for byte, for the refused text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lcspr.clock import SystemClock
from tests.e2e.conftest import System, referral_file, start_system, tracebacks_not_prefects_lock, wait_for

pytestmark = pytest.mark.e2e

# Made-up names and places that appear nowhere else, so any hit is the refused text.
NAME = "Jessamy Quillfeather"
STREET = "Brackenwold Lane"
DOCTOR = "Dr Ormsgill"
CANARIES = [NAME, STREET, DOCTOR, "Quillfeather", "Brackenwold", "Ormsgill"]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # SQLite whatever the environment says: the test searches the files Prefect and the register write.
    with start_system(tmp_path_factory.mktemp("lcspr-privacy"), postgresql=False) as running:
        running.wait_until_up()
        yield running


def referral(today_iso: str, **values: Any) -> dict[str, Any]:
    return {"referring_agency": "Thames Valley Police", "agency_reference": "POL-PRIV-0001",
            "referred_by": "J. Patel, DSL", "dsl_consulted": True, "incident_date": today_iso,
            "la_aware_date": today_iso, "abuse_or_neglect": "suspected", "harm": "seriously_harmed",
            "child_pseudonym": "Child P", "outline": "Serious injury to an infant at home.", **values}


def traces(home: Path) -> list[str]:
    """Every file under ``home`` holding a canary, after Prefect's write-ahead log was checkpointed."""
    for db in home.rglob("*.db"):
        with sqlite3.connect(db, timeout=60) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    found = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for canary in CANARIES:
            if canary.encode() in data or canary.encode("utf-16-le") in data:
                found.append(f"{path.relative_to(home)}: {canary}")
    return found


def test_refused_text_is_found_nowhere(system: System, tmp_path: Path) -> None:
    today = SystemClock().today().isoformat()
    deployment = system.deployment_id("lcspr-review")

    # 1. A real name as the pseudonym: the server checks the form against the referral's schema.
    at_the_door = system.api(f"/deployments/{deployment}/create_flow_run",
                             {"parameters": {"referral": referral(today, child_pseudonym=NAME)}})
    assert at_the_door is None, at_the_door

    # 2. A name and an address in the outline: the schema cannot see it; the run refuses it.
    run = system.api(f"/deployments/{deployment}/create_flow_run", {"parameters": {"referral": referral(
        today, agency_reference="POL-PRIV-0002",
        outline=f"{NAME}, aged 2, was injured at home at 14 {STREET}, Aylesbury.")}})
    assert run, "the Custom run was not created"
    def ended() -> dict[str, Any] | None:
        state = system.run_state(run["id"])
        return state if state.get("type") in ("FAILED", "COMPLETED", "CRASHED") else None

    state = wait_for("the refused referral's run to end", ended, timeout=180)
    assert state["type"] == "FAILED" and state["message"].startswith("Referral refused: Outline")
    assert "Traceback" not in state["message"]

    # 3. An answer in the Resume form naming a doctor and a street: refused, asked again.
    referred = system.lcspr("refer", str(referral_file(tmp_path, SystemClock().today(), "POL-PRIV-0003")))
    assert referred.returncode == 0, referred.stderr
    reference = referred.stdout.strip().splitlines()[0]
    def waiting() -> str | None:
        status = system.status(reference)
        run_id = status["flow_run_id"]
        on_step = (status["open_step"] or {}).get("key") == "notification-1"
        return run_id if on_step and run_id and system.run_state(run_id).get("name") == "Suspended" else None

    flow_run_id = wait_for("the run to wait on notification-1", waiting, timeout=180)
    resumed = system.api(f"/flow_runs/{flow_run_id}/resume", {"run_input": {
        "decided_on": today, "decided_by": "A. Jones, Partnership Manager", "outcome": "not_notifiable",
        "rationale": f"{DOCTOR} saw the child at 14 {STREET}; no concerns."}})
    assert resumed and resumed.get("status") == "ACCEPT", resumed
    def asked_again() -> dict[str, Any] | None:
        step = system.status(reference)["open_step"] or {}
        return step if step.get("key") == "notification-1-retry-2" else None

    step = wait_for("the step to be asked again", asked_again, timeout=180)
    assert "could identify" in step["last_refusal"]

    # Nothing refused is anywhere on disk: logs, Prefect's database, the register, results, mail.
    assert traces(system.home) == []
    # No traceback either (one could quote an answer), but for Prefect's own writes SQLite refused with
    # "database is locked" under load (a worker heartbeat, a proposed state), which carry nothing of ours.
    logs = "".join(p.read_text(errors="replace") for p in (system.home / "logs").glob("*.log"))
    assert tracebacks_not_prefects_lock(logs) == []
