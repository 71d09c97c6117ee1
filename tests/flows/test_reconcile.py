"""Reconcile against a real Prefect server: stranded, lost and missing runs come back, repeating nothing.

The driver runs the flow body in this process the way a worker's process would; a "dead
process" is a run left in the state a killed process leaves behind (Crashed, Pending,
Running), set on the real server. Reconcile judges the runs as of a clock the test sets:
just now, or past the grace period a run in flight is given to show its process.
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
from flows.reconcile import reconcile_flow
from models.runs import Health, step_of_wait
from services.app import App
from services.reconcile import Finding, reconcile
from services.referrals import register_referral
from tasks.review import side_effect
from tests.conftest import make_referral
from tests.fakes import FrozenClock
from tests.flows import answers as A
from tests.flows.conftest import RegisterReader, ReviewDriver


def reconcile_now(app: App, *, past_grace: bool = True, dry_run: bool = False) -> dict[str, Finding]:
    """Reconcile every open review, judged now (``past_grace=False``), or as if the grace period a run
    in flight is given had just run out (a second after it)."""
    now = datetime.now(UTC)
    if past_grace:
        now += timedelta(seconds=app.config.reconcile_grace_seconds + 1)
    clock = FrozenClock(now.date())
    clock.at = now
    # The session's adapters and config, seen at that moment.
    at = App(config=app.config, clock=clock, uow=app.uow, runs=app.runs, dispatcher=app.dispatcher)
    return {f.reference: f for f in reconcile(at, dry_run)}


def force(run_id: UUID, state: Any) -> None:
    async def go() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, state, force=True)

    asyncio.run(go())


def started_under(app: App, reference: str, run_key: str) -> str:
    """The run started under a key: starting again under it gives back the same run (Prefect's idempotency)."""
    with app.uow() as uow:
        referral = uow.reviews.get(reference).referral
    with app.runs() as runs:
        return runs.start(reference, {"referral": referral.model_dump(mode="json")}, idempotency_key=run_key)


def start(driver: ReviewDriver, register: RegisterReader, agency_reference: str) -> tuple[UUID, str]:
    run_id = driver.start(make_referral(agency_reference=agency_reference))
    return run_id, register.reference(agency_reference)


def test_a_run_that_crashed_while_waiting_is_put_back_on_the_same_step(driver, register, flow_app):
    run_id, ref = start(driver, register, "REC-CRASH")
    force(run_id, Crashed(message="process killed"))

    found = reconcile_now(flow_app, dry_run=True)[ref]
    assert found.judgement.health is Health.STRANDED and found.action == ""
    assert driver.state(run_id).name == "Crashed"

    found = reconcile_now(flow_app)[ref]
    assert found.judgement.health is Health.STRANDED and "rescheduled" in found.action
    assert driver.state(run_id).name == "AwaitingRetry"
    assert driver.run_until_waiting(run_id) == "Suspended"
    # The lost wait's key was used: the step is asked again under the next wait key, no refusal recorded.
    assert driver.state(run_id).state_details.pause_key == "notification-1-wait-2"
    assert register.open_key(ref) == "notification-1"
    assert register.decisions(ref) == []
    assert reconcile_now(flow_app)[ref].judgement.health is Health.WAITING
    assert driver.answer(run_id, A.NOTIFIED) == "Suspended"
    assert driver.restart(run_id) == "Suspended"
    assert register.open_key(ref) == "rapid-review-1"
    assert register.ledger(ref) == [("notification-1", True)]


@pytest.mark.parametrize("left_in", ["crashed", "pending", "running"])
def test_a_run_whose_process_died_after_the_answer_was_given_records_it_once(driver, register, flow_app, left_in):
    """The answer was stored by Prefect and the process died before (or while) recording it."""
    run_id, ref = start(driver, register, f"REC-ANSWERED-{left_in}")
    driver.resume(run_id, A.NOTIFIED)
    dead = {"crashed": Crashed(message="killed"), "pending": Pending(), "running": Running()}[left_in]
    force(run_id, dead)

    # Within the grace period a run in flight is given time to show its process.
    assert reconcile_now(flow_app, past_grace=False, dry_run=True)[ref].judgement.health is (
        Health.STRANDED if left_in == "crashed" else Health.MOVING)
    assert "rescheduled" in reconcile_now(flow_app)[ref].action
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert register.open_key(ref) == "rapid-review-1"
    assert register.ledger(ref) == [("notification-1", True)]
    # A second reconcile finds nothing to do, and a re-run from the top repeats nothing.
    assert reconcile_now(flow_app)[ref].judgement.health is Health.WAITING
    assert driver.restart(run_id) == "Suspended"
    assert step_of_wait(driver.state(run_id).state_details.pause_key) == "rapid-review-1"
    assert register.ledger(ref) == [("notification-1", True)]


def test_a_crash_after_the_answer_was_recorded_moves_on_to_the_next_step(driver, register, flow_app):
    run_id, ref = start(driver, register, "REC-RECORDED")
    driver.answer(run_id, A.NOTIFIED)
    force(run_id, Crashed(message="killed after recording"))
    assert "rescheduled" in reconcile_now(flow_app)[ref].action
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert step_of_wait(driver.state(run_id).state_details.pause_key) == "rapid-review-1"
    assert register.ledger(ref) == [("notification-1", True)]


def test_a_deleted_run_is_replaced_by_a_new_one_that_carries_the_review_on(driver, register, flow_app):
    run_id, ref = start(driver, register, "REC-DELETED")
    driver.answer(run_id, A.NOTIFIED)

    async def delete() -> None:
        async with get_client() as client:
            await client.delete_flow_run(run_id)

    asyncio.run(delete())
    found = reconcile_now(flow_app)[ref]
    assert found.judgement.health is Health.MISSING and "new run" in found.action
    # The register let go of the lost run; the replacement is started under a key naming it, and
    # attaches itself when it runs.
    stored = register.stored(ref)
    assert stored.flow_run_id is None
    assert stored.run_key == f"{ref}:after:{run_id}"
    new_id = started_under(flow_app, ref, stored.run_key)
    assert new_id != str(run_id) and new_id in found.action
    # A second reconcile before the replacement ran starts no other run.
    again = reconcile_now(flow_app)[ref]
    assert again.judgement.health is Health.NO_RUN and new_id in again.action

    assert driver.run_until_waiting(UUID(new_id)) == "Suspended"
    assert register.flow_run_id(ref) == new_id
    assert step_of_wait(driver.state(UUID(new_id)).state_details.pause_key) == "rapid-review-1"
    assert register.ledger(ref) == [("notification-1", True)]
    events = [e.event for e in register.audit_trail(ref)]
    assert events.count("flow_run_detached") == 1 and events.count("flow_run_attached") == 2
    assert register.verify_audit(ref) == []
    assert reconcile_now(flow_app)[ref].judgement.health is Health.WAITING


def test_a_review_registered_without_a_run_gets_one(driver, register, flow_app):
    """`lcspr refer` registered it and then could not reach Prefect."""
    ref = register_referral(flow_app, make_referral(agency_reference="REC-NORUN")).reference
    found = reconcile_now(flow_app)[ref]
    assert found.judgement.health is Health.NO_RUN and "started" in found.action
    # Started under the review's key: the run attaches itself when it runs.
    assert register.flow_run_id(ref) is None
    run_id = started_under(flow_app, ref, ref)
    assert run_id in found.action
    # Two reconciles before the run ran start one run between them.
    assert run_id in reconcile_now(flow_app)[ref].action
    assert driver.run_until_waiting(UUID(run_id)) == "Suspended"
    assert register.flow_run_id(ref) == run_id
    assert register.open_key(ref) == "notification-1"
    # Once more: the run is waiting; nothing else is started.
    assert reconcile_now(flow_app)[ref].judgement.health is Health.WAITING
    assert register.flow_run_id(ref) == run_id


def test_the_reconcile_flow_reports_every_open_review_and_a_dry_run_repairs_nothing(register, flow_app):
    """The flow ``lcspr-reconcile`` deploys, built around the session's App, run on the server."""
    register_referral(flow_app, make_referral(agency_reference="REC-FLOW-DRY"))  # no run: needs repair
    ref = register.reference("REC-FLOW-DRY")
    result = reconcile_flow(lambda: flow_app)(dry_run=True)
    assert result["dry_run"] is True and result["repaired"] == []
    assert result["open"] == len(register.references())
    assert register.flow_run_id(ref) is None
    assert reconcile_now(flow_app, dry_run=True)[ref].judgement.health is Health.NO_RUN


def test_a_redeploy_of_edited_code_does_not_repeat_a_recorded_side_effect(driver, register, monkeypatch):
    """The cache key is the run, the task name and the inputs, never the source nor the task run's name: an
    edited task body, shown under a new name, finds the earlier result and does not run."""
    run_id, ref = start(driver, register, "REC-REDEPLOY")
    calls: list[str] = []

    @side_effect("register-referral", "Register the referral, as edited")
    async def edited_register_referral(app: App, referral: Any) -> Any:
        calls.append("ran again")  # a new version of the code: must not run for a recorded referral
        raise AssertionError("a recorded side effect ran again after a redeploy")

    monkeypatch.setattr(flows.review, "register_referral", edited_register_referral)
    audit = len(register.audit_trail(ref))
    # The run restarts from the top on the new code (as after a worker restart)...
    assert driver.restart(run_id) == "Suspended"
    assert calls == []
    assert len(register.audit_trail(ref)) == audit
    assert register.open_key(ref) == "notification-1"
    # ... and carries on with it when answered.
    assert driver.answer(run_id, A.NOTIFIED) == "Suspended"
    assert calls == []
    assert register.open_key(ref) == "rapid-review-1"
    assert register.ledger(ref) == [("notification-1", True)]


def test_the_runs_of_many_reviews_are_read_a_page_at_a_time_as_one_by_one(driver, register, flow_app):
    """``lcspr list`` judges every review's run: read in pages (``observe_all``), each run must look as
    reading it alone does, and a run that no longer exists reads as gone."""
    run_ids = [str(driver.start(make_referral(agency_reference=f"POL-PAGE-{n}"))) for n in range(5)]
    gone = "00000000-0000-4000-8000-000000000000"
    with flow_app.runs() as runs:
        alone = {run_id: runs.observe(run_id) for run_id in [*run_ids, gone]}
        paged = runs.observe_all([*run_ids, gone], page=2)
    assert paged == alone
    assert paged[gone] is None and all(paged[run_id] is not None for run_id in run_ids)
    assert {view.state_name for run_id, view in paged.items() if view is not None} == {"Suspended"}
