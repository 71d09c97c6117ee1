"""Queries for people: where a review stands, the open reviews, a review's audit trail and decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.lifecycle import OpenStep, open_step
from models.records import AuditRecord, DecisionRecord, OutboxEntry
from services.app import App
from services.reviews import rebuild


def step_json(step: OpenStep | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {
        "key": step.key,
        "kind": step.kind.value,
        "title": step.title,
        "asked_of": step.asked_of,
        "opened_on": step.opened_on.isoformat(),
        "due": step.due.isoformat() if step.due else None,
        "clock": step.clock_key or None,
        "last_refusal": step.last_refusal or None,
    }


def status(app: App, reference: str) -> dict[str, Any]:
    """Everything ``lcspr status`` shows of one review, with stable field names."""
    today, policy = app.clock.today(), app.config.policy
    cal, amber = policy.calendar, app.config.amber_within_working_days
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    review = rebuild(app, stored)
    clocks = []
    for c in review.clocks:
        closed = c.met_on is not None or c.stopped_on is not None
        clocks.append({
            "key": c.key,
            "kind": c.kind.value,
            "subject": c.subject or None,
            "owner_role": c.owner_role or None,
            "start": c.start.isoformat(),
            "due": c.due(cal).isoformat(),
            "state": c.state_on(today, cal).value,
            "rag": c.rag(today, cal, amber),
            "working_days_left": None if closed else c.working_days_left(today, cal),
            "met_on": c.met_on.isoformat() if c.met_on else None,
            "stopped_on": c.stopped_on.isoformat() if c.stopped_on else None,
            "paused": c.is_paused,
            "extensions": len(c.extensions),
        })
    return {
        "reference": review.reference,
        "pseudonym": review.referral.child_pseudonym,
        "stage": review.stage.value,
        "route": review.route.value if review.route else None,
        "today": today.isoformat(),
        "flow_run_id": stored.flow_run_id,
        "flow_run_url": app.config.run_link(stored.flow_run_id) if stored.flow_run_id else None,
        "open_step": step_json(open_step(review, policy)),
        "clocks": clocks,
        "agency_requests": [
            {"agency": a.agency, "requested_on": a.requested_on.isoformat(),
             "received_on": a.received_on.isoformat() if a.received_on else None}
            for a in review.agencies
        ],
        "recommendations": list(review.recommendations),
        "actions": [
            {"number": a.number, "recommendation_number": a.recommendation_number, "owner_agency": a.owner_agency,
             "action": a.description, "due_on": a.due_on.isoformat(),
             "completed_on": a.completed_on.isoformat() if a.completed_on else None}
            for a in review.actions
        ],
        "closed_on": review.closed_on.isoformat() if review.closed_on else None,
    }


@dataclass(frozen=True)
class Row:
    """One review in ``lcspr list``."""

    reference: str
    pseudonym: str
    stage: str
    open_step: str
    due: str
    rag: str


def open_reviews(app: App, include_closed: bool = False) -> list[Row]:
    """Every open review (or every review) with its open step, due date and RAG."""
    today, policy = app.clock.today(), app.config.policy
    with app.uow() as uow:
        stored = [uow.reviews.get(link.reference) for link in uow.reviews.run_links(include_closed=include_closed)]
    rows = []
    for s in stored:
        review = rebuild(app, s)
        step = open_step(review, policy)
        rag = "-"
        if step is not None and step.clock_key:
            rag = review.clock(step.clock_key).rag(today, policy.calendar, app.config.amber_within_working_days)
        rows.append(Row(s.reference, review.referral.child_pseudonym, review.stage.value, step.key if step else "-",
                        step.due.isoformat() if step and step.due else "-", rag))
    return rows


def decisions(app: App, reference: str) -> list[DecisionRecord]:
    with app.uow() as uow:
        return uow.reviews.decisions(reference)


def audit_trail(app: App, reference: str) -> list[AuditRecord]:
    with app.uow() as uow:
        return uow.reviews.audit_trail(reference)


def verify_audit(app: App, reference: str) -> list[str]:
    """Problems found in the review's hash chain ([] when it is intact)."""
    with app.uow() as uow:
        return uow.reviews.verify_audit(reference)


def outbox(app: App, status: str | None = None) -> list[OutboxEntry]:
    with app.uow() as uow:
        return uow.outbox.messages(status)
