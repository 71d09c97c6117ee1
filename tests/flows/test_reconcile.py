"""Reconcile against a real Prefect server: stranded, lost and missing runs come back, repeating nothing.

The driver runs the flow body in this process the way a worker's process would; a "dead
process" is a run left in the state a killed process leaves behind (Crashed, Pending,
Running), set on the real server.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Crashed, Pending, Running

import flows.review
from lcspr.settings import Settings
from models.runs import Health, step_of_wait
from tasks.prefect_runs import PrefectRuns
from tasks.reconcile import Finding, reconcile
from tasks.register import Register
from tasks.review import register_for, side_effect
from tests.conftest import make_referral
from tests.flows import answers as A

DEPLOYMENT = "lcspr-review/test"


def reconcile_now(settings: Settings, grace_seconds: float = 0, dry_run: bool = False) -> dict[str, Finding]:
    with get_client(sync_client=True) as client:
        findings = reconcile(register_for(settings), PrefectRuns(client, DEPLOYMENT),
                             now=datetime.now(UTC) + timedelta(seconds=1), grace_seconds=grace_seconds,
                             dry_run=dry_run)
    return {f.reference: f for f in findings}


def force(run_id: UUID, state: Any) -> None:
    async def go() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, state, force=True)

    asyncio.run(go())


def start(driver: Any, settings: Settings, agency_reference: str) -> tuple[UUID, str, Register]:
    run_id = driver.start(make_referral(agency_reference=agency_reference))
    register = register_for(settings)
    reference = register.find_by_agency_reference("Thames Valley Police", agency_reference)
    assert reference is not None
    return run_id, reference, register


def ledger(register: Register, reference: str) -> list[tuple[str, bool]]:
    return [(d.key, d.accepted) for d in register.decisions(reference)]


def test_a_run_that_crashed_while_waiting_is_put_back_on_the_same_step(driver, flow_settings):
    run_id, ref, register = start(driver, flow_settings, "REC-CRASH")
    force(run_id, Crashed(message="process killed"))

    found = reconcile_now(flow_settings, dry_run=True)[ref]
    assert found.judgement.health is Health.STRANDED and found.action == ""
    assert driver.state(run_id).name == "Crashed"

    found = reconcile_now(flow_settings)[ref]
    assert found.judgement.health is Health.STRANDED and "rescheduled" in found.action
    assert driver.state(run_id).name == "AwaitingRetry"
    assert driver.run_until_waiting(run_id) == "Suspended"
    # The lost wait's key was used: the step is asked again under the next wait key, no refusal recorded.
    assert driver.state(run_id).state_details.pause_key == "notification-1-wait-2"
    assert register.open_step(ref).key == "notification-1"
    assert reconcile_now(flow_settings)[ref].judgement.health is Health.WAITING
    driver.answer(run_id, A.NOTIFIED)
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert register.open_step(ref).key == "rapid-review-1"
    assert ledger(register, ref) == [("notification-1", True)]


@pytest.mark.parametrize("left_in", ["crashed", "pending", "running"])
def test_a_run_whose_process_died_after_the_answer_was_given_records_it_once(driver, flow_settings, left_in):
    """The answer was stored by Prefect and the process died before (or while) recording it."""
    run_id, ref, register = start(driver, flow_settings, f"REC-ANSWERED-{left_in}")
    driver.resume(run_id, A.NOTIFIED)
    dead = {"crashed": Crashed(message="killed"), "pending": Pending(), "running": Running()}[left_in]
    force(run_id, dead)

    # Within the grace period a run in flight is given time to show its process.
    assert reconcile_now(flow_settings, grace_seconds=3600, dry_run=True)[ref].judgement.health is (
        Health.STRANDED if left_in == "crashed" else Health.MOVING)
    assert "rescheduled" in reconcile_now(flow_settings, grace_seconds=0)[ref].action
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert register.open_step(ref).key == "rapid-review-1"
    assert ledger(register, ref) == [("notification-1", True)]
    # A second reconcile finds nothing to do, and a re-run repeats nothing.
    assert reconcile_now(flow_settings)[ref].judgement.health is Health.WAITING
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert ledger(register, ref) == [("notification-1", True)]


def test_a_crash_after_the_answer_was_recorded_moves_on_to_the_next_step(driver, flow_settings):
    run_id, ref, register = start(driver, flow_settings, "REC-RECORDED")
    driver.answer(run_id, A.NOTIFIED)
    force(run_id, Crashed(message="killed after recording"))
    assert "rescheduled" in reconcile_now(flow_settings)[ref].action
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert step_of_wait(driver.state(run_id).state_details.pause_key) == "rapid-review-1"
    assert ledger(register, ref) == [("notification-1", True)]


def test_a_deleted_run_is_replaced_by_a_new_one_that_carries_the_review_on(driver, flow_settings):
    run_id, ref, register = start(driver, flow_settings, "REC-DELETED")
    driver.answer(run_id, A.NOTIFIED)

    async def delete() -> None:
        async with get_client() as client:
            await client.delete_flow_run(run_id)

    asyncio.run(delete())
    found = reconcile_now(flow_settings)[ref]
    assert found.judgement.health is Health.MISSING and "new run" in found.action
    new_id = register.flow_run_id(ref)
    assert new_id is not None and new_id != str(run_id)
    assert driver.run_until_waiting(UUID(new_id)) == "Suspended"
    assert step_of_wait(driver.state(UUID(new_id)).state_details.pause_key) == "rapid-review-1"
    assert ledger(register, ref) == [("notification-1", True)]
    events = [e.event for e in register.audit_trail(ref)]
    assert events.count("flow_run_detached") == 1 and events.count("flow_run_attached") == 2
    assert register.verify_audit(ref) == []


def test_a_review_registered_without_a_run_gets_one(driver, flow_settings):
    """`lcspr refer` registered it and then could not reach Prefect."""
    register = register_for(flow_settings)
    referred = register.refer(make_referral(agency_reference="REC-NORUN"), datetime.now(UTC).date(),
                              datetime.now(UTC))
    ref = referred.reference
    found = reconcile_now(flow_settings)[ref]
    assert found.judgement.health is Health.NO_RUN and "started" in found.action
    run_id = register.flow_run_id(ref)
    assert run_id is not None
    assert driver.run_until_waiting(UUID(run_id)) == "Suspended"
    assert register.open_step(ref).key == "notification-1"
    # Once more: the run is waiting; nothing else is started.
    assert reconcile_now(flow_settings)[ref].judgement.health is Health.WAITING
    assert register.flow_run_id(ref) == run_id


def test_a_redeploy_of_edited_code_does_not_repeat_a_recorded_side_effect(driver, flow_settings, monkeypatch):
    """The cache key is the run, the task name and the inputs, never the source: an edited task body finds
    the earlier result and does not run."""
    run_id, ref, register = start(driver, flow_settings, "REC-REDEPLOY")
    calls: list[str] = []

    @side_effect("register-referral")
    async def edited_register_referral(referral: Any, settings: Settings) -> Any:
        calls.append("ran again")  # a new version of the code: must not run for a recorded referral
        raise AssertionError("a recorded side effect ran again after a redeploy")

    monkeypatch.setattr(flows.review, "register_referral", edited_register_referral)
    audit = len(register.audit_trail(ref))
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert calls == []
    assert len(register.audit_trail(ref)) == audit
