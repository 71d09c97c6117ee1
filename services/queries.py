"""Queries for people: where a review stands, the open reviews and their due dates, audit trails and decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from models.errors import LcsprError
from models.lifecycle import PANEL_RESPONSE, OpenStep, Policy, Review, open_review, open_step, replay_steps
from models.records import (
    AuditCheck,
    AuditHead,
    AuditRecord,
    DecisionRecord,
    OutboxEntry,
    ReviewState,
    ReviewView,
    StoredReview,
)
from notifications.calendar import DueDate, clock_due_date, step_due_date
from services.app import App
from services.reviews import view, views


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
    """Everything ``lcspr status`` shows of one review from its projections, with stable field names."""
    return status_of(app, view(app, reference))


def incident(app: App, reference: str) -> dict[str, Any]:
    """What ``lcspr status`` adds of one review: the children of its referral, and the National Panel's responses
    as its decision log holds them (read, not replayed)."""
    with app.uow() as uow:
        referral = uow.reviews.referral(reference)
        decisions = uow.reviews.decisions(reference)
    return {
        "children": [c.model_dump(mode="json") for c in referral.children],
        "panel_responses": [
            {"response": d.payload["response"], "received_on": d.payload["received_on"],
             "note": d.payload.get("note", "")}
            for d in decisions if d.accepted and d.key.startswith(f"{PANEL_RESPONSE}-")],
    }


def statuses(app: App, counting_only: bool = False) -> list[dict[str, Any]]:
    """The status of every open review, in the register's order: read from the projections in a few
    queries, whatever the number of reviews (``lcspr report portfolio``, the daily portfolio).
    ``counting_only``: list only the clocks still counting (running or paused)."""
    return [status_of(app, v) for v in views(app, counting_only=counting_only)]


def status_of(app: App, review: ReviewView) -> dict[str, Any]:
    today, policy = app.clock.today(), app.config.policy
    cal, amber = policy.calendar, app.config.amber_within_working_days
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
        "pseudonym": review.pseudonym,
        "stage": review.stage.value,
        "route": review.route.value if review.route else None,
        "today": today.isoformat(),
        "flow_run_id": review.flow_run_id,
        "flow_run_url": app.config.run_link(review.flow_run_id) if review.flow_run_id else None,
        "open_step": step_json(review.open_step),
        "clocks": clocks,
        "agency_requests": [
            {"agency": a.agency, "requested_on": a.requested_on.isoformat(),
             "received_on": a.received_on.isoformat() if a.received_on else None}
            for a in review.agencies
        ],
        "recommendations": list(review.recommendations),
        "actions": [
            {"number": a.number, "kind": a.kind, "recommendation_number": a.recommendation_number,
             "owner_agency": a.owner_agency, "agreed_on": a.agreed_on.isoformat() if a.agreed_on else None,
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


@dataclass(frozen=True)
class Listing:
    """What ``lcspr list`` shows: some reviews, and how many there are in all."""

    rows: list[Row]
    total: int


def open_reviews(app: App, include_closed: bool = False, limit: int | None = None,
                 first: Sequence[str] = ()) -> Listing:
    """The open reviews (or every review) with their open step, due date and RAG, from the projections:
    the reviews named in ``first`` (those that need repair), then the soonest due, ``limit`` in all (None:
    every one). Those with no due date come after the others; closed ones last."""
    today, policy = app.clock.today(), app.config.policy
    with app.uow() as uow:
        total = uow.reviews.count(include_closed)
        chosen = None if limit is None else list(dict.fromkeys(
            [*first, *uow.reviews.soonest_due(limit + len(first), include_closed)]))[:limit]
    found = views(app, chosen, include_closed=include_closed, counting_only=True) if chosen != [] else []
    ahead = set(first)
    found.sort(key=lambda v: (v.reference not in ahead, v.open_step is None or v.open_step.due is None,
                              v.open_step.due if v.open_step is not None and v.open_step.due else date.min))
    rows = []
    for review in found:
        step = review.open_step
        clock = review.clock(step.clock_key) if step is not None and step.clock_key else None
        rag = clock.rag(today, policy.calendar, app.config.amber_within_working_days) if clock else "-"
        rows.append(Row(review.reference, review.pseudonym, review.stage.value, step.key if step else "-",
                        step.due.isoformat() if step and step.due else "-", rag))
    return Listing(rows, total)


def due_dates(app: App, reference: str | None = None) -> list[DueDate]:
    """The open due dates of every open review (or of one review), for ``lcspr calendar``.

    The open step's due date, worded as the step and named by the clock that sets it, then each other
    clock still counting: not met, stopped or paused (a paused clock has no due date until it resumes).
    Overdue clocks are still open, so they stay."""
    policy = app.config.policy
    found: list[DueDate] = []
    for review in [view(app, reference)] if reference else views(app, counting_only=True):
        link = app.config.run_link(review.flow_run_id)
        counting = {c.key: c for c in review.clocks if c.met_on is None and c.stopped_on is None and not c.is_paused}
        step = review.open_step
        step_date = step_due_date(review.reference, step, link=link, calendar=policy.calendar) if step else None
        if step_date is not None and step_date.key in counting:
            found.append(step_date)
            del counting[step_date.key]
        found += [clock_due_date(review.reference, c, link=link, calendar=policy.calendar)
                  for c in counting.values()]
    return found


def decisions(app: App, reference: str) -> list[DecisionRecord]:
    with app.uow() as uow:
        return uow.reviews.decisions(reference)


def audit_trail(app: App, reference: str) -> list[AuditRecord]:
    with app.uow() as uow:
        return uow.reviews.audit_trail(reference)


@dataclass(frozen=True)
class AuditReport:
    """What ``lcspr audit --verify`` found: one line per problem, each naming its review and the
    first entry (or decision) affected; notes are true but not wrong (entries older than keyed hashes)."""

    checked: int
    problems: list[str]
    notes: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_audit(app: App, reference: str | None = None, heads: Mapping[str, AuditHead] | None = None) -> AuditReport:
    """Check one review's audit trail (or every review's) against its decisions, its row and a replay.

    The register checks the rows (keyed chain and head, decisions against their entries, the row
    against the last entry); here the decision log is replayed from the referral and must give, after
    each decision, the state its entry recorded, and at the end the state the review row holds.
    ``heads`` (``lcspr audit --export-heads``, kept elsewhere) must each still be in the trail."""
    if reference is None:
        with app.uow() as uow:
            references = [link.reference for link in uow.reviews.run_links(include_closed=True)]
    else:
        references = [reference]
    problems: list[str] = []
    notes: list[str] = []
    if heads and reference is None:
        problems += [f"{ref}: is in the heads file but not in the register (removed)"
                     for ref in heads if ref not in references]
    for ref in references:
        # One short unit of work per review: a check of the whole register must not hold it locked.
        unreadable = ""
        with app.uow() as uow:
            check = uow.reviews.verify_audit(ref, heads.get(ref) if heads else None)
            try:
                stored: StoredReview | None = uow.reviews.get(ref)
            except (LcsprError, ValueError) as exc:
                stored, unreadable = None, _reason(exc)
        found = list(check.problems)
        if stored is None:
            found.append(f"its referral cannot be read ({unreadable})")
        else:
            found += replay_problems(stored, check, app.config.policy)
        problems += [f"{ref}: {p}" for p in found]
        notes += [f"{ref}: {n}" for n in check.notes]
    return AuditReport(len(references), problems, notes)


def audit_heads(app: App) -> list[AuditHead]:
    """Every review's newest audit entry, for ``lcspr audit --export-heads``."""
    with app.uow() as uow:
        return uow.reviews.audit_heads()


def _state(review: Review, policy: Policy) -> ReviewState:
    step = open_step(review, policy)
    return ReviewState(review.stage.value, review.route.value if review.route else None,
                       step.key if step else None, review.closed_on)


def _describe(state: ReviewState, fields: list[str]) -> str:
    labels = {"stage": "stage", "route": "route", "open_step_key": "open step", "closed_on": "closed on"}
    return ", ".join(f"{labels[f]} {getattr(state, f) or '-'}" for f in fields)


def _differ(a: ReviewState, b: ReviewState) -> list[str]:
    return [f for f in ("stage", "route", "open_step_key", "closed_on") if getattr(a, f) != getattr(b, f)]


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def replay_problems(stored: StoredReview, check: AuditCheck, policy: Policy) -> list[str]:
    """Where replaying the decision log disagrees with what the audit entries recorded (the first
    such entry) and with the review row."""
    recorded = {r.decision_key: r for r in check.recorded}
    problems: list[str] = []
    steps = replay_steps(stored.reference, stored.referral, stored.log, policy)
    try:
        review = open_review(stored.reference, stored.referral, policy)
    except (LcsprError, ValueError, KeyError) as exc:
        return [f"replaying the decision log fails at the referral: {_reason(exc)}"]
    for entry in stored.log:
        try:
            review = next(steps)
        except (LcsprError, ValueError, KeyError) as exc:
            return [f"replaying the decision log fails at decision {entry.key}: {_reason(exc)}"]
        mark = recorded.get(entry.key)
        if mark is not None and not problems:
            differ = _differ(_state(review, policy), mark.state)
            if differ:
                problems.append(f"audit entry {mark.entry} recorded {_describe(mark.state, differ)} after decision "
                                f"{entry.key}, but replaying the decision log gives "
                                f"{_describe(_state(review, policy), differ)}")
    if check.row is not None:
        final = _state(review, policy)
        differ = _differ(final, check.row)
        if differ:
            problems.append(f"replaying the decision log gives {_describe(final, differ)}, but the review row says "
                            f"{_describe(check.row, differ)}")
    return problems


def outbox(app: App, *statuses: str | None) -> list[OutboxEntry]:
    """The outbox's messages in these statuses (pending, held, sent; none given: every one), oldest first."""
    with app.uow() as uow:
        return uow.outbox.messages(*statuses)
