"""Answers to a review's open step: judged once by the domain, recorded once by key.

``check_answer`` judges without recording (``lcspr decide`` refuses a bad answer before it
resumes the run); ``record_answer`` judges and records (the run, once resumed). Both ask the
domain's one judgement, :func:`models.lifecycle.decide`, with the same "today" (the App's
clock). A refused answer to the open step is recorded too, so the step is asked again under
the next attempt's key with the reason shown; an answer whose text was refused for identifying
someone is never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from models.errors import IdentifierFound, Refused, Unavailable
from models.inputs import keepable, prefill
from models.lifecycle import Accepted, OpenStep, Review, decide, open_step, refuse
from models.runs import REPAIR, Health, judge
from models.steps import SPECS, StepKind, parse_step_key, step_key
from services.app import App
from services.messages import queue_step_opened
from services.reviews import rebuild


@dataclass(frozen=True)
class Outcome:
    """What happened to an answer: accepted (the review moved on) or refused with a reason,
    and the step the review waits on now."""

    key: str
    accepted: bool
    reason: str
    next_step: OpenStep | None


def check_answer(app: App, reference: str, step: str, payload: Mapping[str, Any]) -> str:
    """Judge an answer without recording it; the step key it answers. ``step`` is a key
    (``rapid-review-1``) or a kind (``rapid_review``), read as the open step of that kind."""
    return _judge(app, reference, step, payload)[0]


def _judge(app: App, reference: str, step: str, payload: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """The key the answer is for, the review's run and its open step's key; Refused if the domain refuses it."""
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    review = rebuild(app, stored)
    waiting = open_step(review, app.config.policy)
    key = resolve_step_key(step, waiting, reference)
    decide(review, key, payload, app.clock.today(), app.config.policy)
    return key, stored.flow_run_id, waiting.key if waiting else None


def give_answer(app: App, reference: str, step: str, payload: Mapping[str, Any]) -> str:
    """Judge an answer and, if the domain accepts it, resume the review's run with it (``lcspr decide``).

    Nothing is recorded here: the run records it when it resumes (``record_answer``). Refused
    (exit 2) when the domain refuses it; Unavailable (exit 1) when no run can take it now.
    """
    key, flow_run_id, open_key = _judge(app, reference, step, payload)
    with app.runs() as runs:
        # The run is read once: judged here, and handed to resume, which reads it again only to wait for it.
        seen = runs.observe(flow_run_id) if flow_run_id else None
        judgement = judge(open_key, flow_run_id is not None, seen, app.clock.now(), app.config.reconcile_grace_seconds)
        if judgement.needs_repair or flow_run_id is None:
            raise Unavailable(f"{reference}'s flow run cannot take an answer: {judgement.explanation}. Run "
                              f"`{REPAIR}` to repair it, then answer again (nothing was recorded).")
        if judgement.health is Health.NO_WORKER:
            raise Unavailable(f"{reference}'s flow run is {judgement.explanation}: is `lcspr up` (./run) running? "
                              "Answer again once its worker is (nothing was recorded).")
        runs.resume(flow_run_id, key, payload, seen=seen)
    return key


def resolve_step_key(step: str, waiting: OpenStep | None, reference: str) -> str:
    """A step key from what a person typed: a key as is, a kind as the open step of that kind."""
    try:
        parse_step_key(step)
        return step
    except Refused:  # not a key: maybe a kind
        pass
    try:
        kind = StepKind(step.strip().lower().replace("-", "_"))
    except ValueError:
        kinds = ", ".join(k.value for k in StepKind)
        raise Refused(f"'{step[:60]}' is neither a step key (e.g. rapid-review-1) nor a step kind ({kinds}).") from None
    if waiting is None:
        raise Refused(f"Review {reference} is closed; it waits on no step.")
    return waiting.key if waiting.kind is kind else step_key(kind)


def record_answer(app: App, reference: str, key: str, payload: Mapping[str, Any]) -> Outcome:
    """Record an answer to the open step: accepted and applied, or refused with the reason.

    Idempotent by ``key``: a second call with the same key returns the first outcome. The next
    step's messages are queued in the same transaction.
    """

    def judge(review: Review) -> Accepted:
        return decide(review, key, payload, app.clock.today(), app.config.policy)

    return _record(app, reference, key, judge, payload, "unknown")


def record_unreadable(app: App, reference: str, key: str, reason: str) -> Outcome:
    """Record that an answer to the open step could not even be read (idempotent by key)."""

    def judge(review: Review) -> Accepted:
        step = open_step(review, app.config.policy)
        if step is None or step.key != key:
            raise Refused(f"Step {key} is not open on review {reference}.")
        raise Refused(reason)

    return _record(app, reference, key, judge, {}, "system")


def refused_answer(app: App, reference: str, key: str) -> dict[str, Any]:
    """What of the refused answer before step ``key`` can fill its form again: the values the register
    kept of the previous attempt (``rapid-review-1`` for ``rapid-review-1-retry-2``) that its form would
    read field by field, so the person does not type them twice. Nothing for a first attempt, for an
    attempt before it that was accepted or not recorded, or for one that could not be read at all.

    Only kept values come back, so never a value refused for identifying someone (``_keepable``)."""
    kind, occurrence, attempt = parse_step_key(key)
    if attempt == 1:
        return {}
    with app.uow() as uow:
        earlier = uow.reviews.decision(reference, step_key(kind, occurrence, attempt - 1))
    if earlier is None or earlier.accepted:
        return {}
    return prefill(SPECS[kind].input_model, earlier.payload)


def _keepable(step: OpenStep, payload: Mapping[str, Any], *, refused_for_identifier: bool) -> dict[str, Any]:
    """What of a refused answer the register may keep: each value that is safe to store on its own
    (``models.inputs.keepable``); only when and by whom if it was refused for identifying someone."""
    kept = keepable(step.input_model, payload)
    if refused_for_identifier:
        return {k: v for k, v in kept.items() if k in ("decided_on", "decided_by")}
    return kept


def _record(app: App, reference: str, key: str, judge: Callable[[Review], Accepted], payload: Mapping[str, Any],
            actor: str) -> Outcome:
    policy, now = app.config.policy, app.clock.now()
    with app.uow() as uow:
        stored = uow.reviews.get(reference, lock=True)
        review = rebuild(app, stored)
        step = open_step(review, policy)
        done = uow.reviews.decision(reference, key)
        if done is not None:
            return Outcome(key, done.accepted, done.reason, step)
        try:
            accepted = judge(review)
        except Refused as refusal:
            if step is None or key != step.key:
                raise  # not the open step: nothing to record, the caller is told why
            kept = _keepable(step, payload, refused_for_identifier=isinstance(refusal, IdentifierFound))
            after = refuse(review, refusal.reason)
            uow.reviews.append(reference, key, kept, False, refusal.reason, step, now)
            # Who refused answers is what of it was safe to keep (a hostile name may hold a NUL).
            by = str(kept.get("decided_by") or actor)
            uow.reviews.audit(reference, now, by, "decision_refused", {"key": key, "reason": refusal.reason})
            outcome = Outcome(key, False, refusal.reason, open_step(after, policy))
        else:
            after = accepted.review
            clean = accepted.answer.model_dump(mode="json")
            assert step is not None  # decide refuses an answer to a closed review
            uow.reviews.append(reference, key, clean, True, "", step, now)
            uow.reviews.audit(reference, now, accepted.answer.decided_by, "decision_recorded",
                              {"key": key, "step": step.title, "decided_on": clean["decided_on"],
                               "stage_before": review.stage.value, "stage_after": after.stage.value})
            outcome = Outcome(key, True, "", open_step(after, policy))
        uow.reviews.project(reference, after, outcome.next_step, policy, now)
        queue_step_opened(uow, app, reference, outcome.next_step, stored.flow_run_id, now)
        uow.commit()
    return outcome
