"""Reconcile: every open review in the register gets a flow run that can carry it on.

Run by ``lcspr reconcile`` and by the ``lcspr-reconcile`` deployment every few minutes. For
each open review it compares the register's open step with the review's flow run
(:func:`models.runs.judge`) and repairs what is stranded:

- a run Crashed, Failed, Cancelled or Completed while the review is open, one Pending or
  Running with no live process past the grace period, or one suspended on another step than
  the register's: put back to Scheduled, so a worker runs it again from the top;
- a run Prefect no longer has: the register lets go of it and a new run is started;
- a review registered without any run (``lcspr refer`` could not reach Prefect): one is started.

A re-run repeats nothing: recorded steps come from the register, side effects from cached
results and the register's unique keys. Closed reviews are left alone. ``dry_run`` only reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client

from lcspr import clock
from lcspr.settings import Settings
from models.errors import Refused
from models.runs import Health, Judgement, judge
from tasks.prefect_runs import PrefectRuns
from tasks.register import Register, RunLink, open_register


@dataclass(frozen=True)
class Finding:
    reference: str
    open_step: str | None
    flow_run_id: str | None
    judgement: Judgement
    action: str = ""  # what was done ("" when nothing was, or on a dry run)

    @property
    def line(self) -> str:
        done = f" -> {self.action}" if self.action else (" -> would repair" if self.judgement.needs_repair else "")
        return f"{self.reference}: {self.judgement.health.value}: {self.judgement.explanation}{done}"

    def as_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "open_step": self.open_step, "flow_run_id": self.flow_run_id,
                "health": self.judgement.health.value, "explanation": self.judgement.explanation,
                "needs_repair": self.judgement.needs_repair, "action": self.action or None}


def reconcile(register: Register, runs: PrefectRuns, *, now: datetime, grace_seconds: float,
              dry_run: bool = False) -> list[Finding]:
    """Compare every open review with its run and repair the stranded ones (unless ``dry_run``)."""
    findings = []
    for link in register.run_links():
        judgement = judge_link(link, runs, now, grace_seconds)
        action = ""
        if judgement.needs_repair and not dry_run:
            action = _repair(register, runs, link, judgement, now, grace_seconds)
        findings.append(Finding(link.reference, link.open_step_key, link.flow_run_id, judgement, action))
    return findings


def judge_link(link: RunLink, runs: PrefectRuns, now: datetime, grace_seconds: float) -> Judgement:
    """How the review's flow run stands against the register's open step."""
    view = runs.observe(link.flow_run_id) if link.flow_run_id else None
    return judge(link.open_step_key, link.flow_run_id is not None, view, now, grace_seconds)


def _repair(register: Register, runs: PrefectRuns, link: RunLink, judgement: Judgement, now: datetime,
            grace_seconds: float) -> str:
    # Look again just before acting: the run may have moved on since the first look.
    fresh = next((r for r in register.run_links() if r.reference == link.reference), None)
    if fresh is None or fresh != link:
        return "left alone: the review changed while reconciling (run again)"
    again = judge_link(link, runs, now, grace_seconds)
    if again.health is not judgement.health:
        return f"left alone: now {again.health.value} ({again.explanation})"
    parameters = {"referral": link.referral}
    if judgement.health in (Health.STRANDED, Health.DISAGREES):
        assert link.flow_run_id is not None
        runs.reschedule(link.flow_run_id)
        return f"run {link.flow_run_id} rescheduled: it starts again and waits on {link.open_step_key}"
    if judgement.health is Health.MISSING:
        assert link.flow_run_id is not None
        register.detach_flow_run(link.reference, link.flow_run_id, judgement.explanation, now)
        # Keyed by the lost run: two reconciles at once start one replacement.
        new = runs.start(link.reference, parameters, idempotency_key=f"{link.reference}:after:{link.flow_run_id}")
        return f"new run {_attach(register, link.reference, new, now)} started (the old one is gone)"
    # No run at all: the same key `lcspr refer` uses, so a refer run again at the same time finds it.
    new = runs.start(link.reference, parameters, idempotency_key=link.reference)
    return f"run {_attach(register, link.reference, new, now)} started"


def _attach(register: Register, reference: str, flow_run_id: str, now: datetime) -> str:
    try:
        register.attach_flow_run(reference, flow_run_id, now)
    except Refused:
        # The new run (or another) attached itself first: the register names the driver.
        return register.flow_run_id(reference) or flow_run_id
    return flow_run_id


def reconcile_with(settings: Settings, *, dry_run: bool = False) -> list[Finding]:
    """Reconcile the register the settings name against their Prefect API."""
    with get_client(sync_client=True) as client:
        runs = PrefectRuns(client, settings.deployment)
        return reconcile(open_register(settings), runs, now=clock.now(),
                         grace_seconds=settings.reconcile_grace_seconds, dry_run=dry_run)


@task(name="reconcile-reviews", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
def reconcile_reviews(settings: Settings, dry_run: bool = False) -> list[dict[str, Any]]:
    """Repair every open review whose run is stranded; what was found and done, per review."""
    return [f.as_json() for f in reconcile_with(settings, dry_run=dry_run)]
