"""Referrals and runs: open a review for a referral, start its flow run, and keep the link between them.

The register is the truth and the run its driver. Only the run writes which run drives a
review (``attach_run``, when it starts); whoever starts one (``refer``, reconcile) starts it
under the review's ``run_key``, so two starters at once get the same run from Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import Conflict, Unavailable
from models.lifecycle import open_review, open_step
from models.referral import Referral, check_referral
from services.app import App
from services.messages import queue_step_opened
from services.reviews import current_step


@dataclass(frozen=True)
class Referred:
    reference: str
    created: bool
    flow_run_id: str | None
    run_key: str


def register_referral(app: App, referral: Referral) -> Referred:
    """Open the review for a referral, or return the one it already opened (same agency + reference)."""
    today, now = app.clock.today(), app.clock.now()
    check_referral(referral, today)
    policy = app.config.policy
    try:
        with app.uow() as uow:
            existing = uow.reviews.find(referral.referring_agency, referral.agency_reference)
            if existing is not None:
                return Referred(existing.reference, False, existing.flow_run_id, existing.run_key)
            reference = f"{app.config.reference_prefix}-{today.year}-{uow.reviews.next_number(today.year):04d}"
            review = open_review(reference, referral, policy)
            uow.reviews.add(reference, referral, now)
            uow.reviews.project(reference, review, open_step(review, policy), policy, now)
            uow.reviews.audit(reference, now, referral.referred_by, "review_referred",
                              {"reference": reference, "referring_agency": referral.referring_agency,
                               "agency_reference": referral.agency_reference})
            uow.commit()
        return Referred(reference, True, None, reference)
    except Conflict:
        # Someone registered the same referral at the same moment: theirs stands.
        with app.uow() as uow:
            existing = uow.reviews.find(referral.referring_agency, referral.agency_reference)
        if existing is None:
            raise
        return Referred(existing.reference, False, existing.flow_run_id, existing.run_key)


def refer(app: App, referral: Referral) -> Referred:
    """Register a referral and start its review run (``lcspr refer``).

    Prefect is asked first, so a referral is not registered while no run could be started.
    The run attaches itself to the review when it starts; ``flow_run_id`` here is the run started.
    """
    check_referral(referral, app.clock.today())  # a refused referral never needs Prefect
    with app.runs() as runs:
        runs.check()
        referred = register_referral(app, referral)
        if referred.flow_run_id is not None:
            return referred
        try:
            started = runs.start(referred.reference, {"referral": referral.model_dump(mode="json")},
                                 idempotency_key=referred.run_key)
        except Unavailable as exc:
            raise Unavailable(
                f"{referred.reference} is registered, but its flow run could not be started: {exc}. "
                "Nothing is lost: once that is fixed, `lcspr reconcile` (or this `lcspr refer` again) starts it."
            ) from None
    return Referred(referred.reference, referred.created, started, referred.run_key)


def attach_run(app: App, reference: str, flow_run_id: str) -> str:
    """Record that this run drives the review (the one writer of the link), and announce the open step.

    Returns the run that drives the review: this one, or the one attached before it (which stands).
    """
    now = app.clock.now()
    with app.uow() as uow:
        stored = uow.reviews.get(reference, lock=True)
        if stored.flow_run_id not in (None, flow_run_id):
            return stored.flow_run_id or flow_run_id
        if stored.flow_run_id is None:
            uow.reviews.set_flow_run(reference, flow_run_id)
            uow.reviews.audit(reference, now, "system", "flow_run_attached", {"flow_run_id": flow_run_id})
        queue_step_opened(uow, app, reference, current_step(uow, app, reference), flow_run_id, now)
        uow.commit()
    return flow_run_id


def detach_run(app: App, reference: str, flow_run_id: str, reason: str) -> bool:
    """Let go of a run Prefect no longer has, if it is still the one named (compare-and-clear, audited)."""
    now = app.clock.now()
    with app.uow() as uow:
        stored = uow.reviews.get(reference, lock=True)
        if stored.flow_run_id != flow_run_id:
            return False
        uow.reviews.set_flow_run(reference, None)
        uow.reviews.audit(reference, now, "system", "flow_run_detached", {"flow_run_id": flow_run_id, "reason": reason})
        uow.commit()
    return True
