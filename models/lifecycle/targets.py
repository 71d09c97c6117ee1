"""Local targets: the "expected within N working days" clock of each step no statutory clock times.

Law and guidance time the notification, the rapid review, informing the national bodies,
agency reports, draft rounds, sending the final report and publication. The other steps
get a partnership's own target (``TARGET_OF_STEP``), kept as an ordinary clock so that
everything clocks have (the projection, the sweep's reminders and escalations, status,
RAG, pause and extension) applies to it unchanged, and the step's due date comes from it
as a statutory step's comes from its clock. A target is a local expectation, not a
statutory deadline: its kind says so (``ClockKind.is_local_target``) and so do its words.

A target starts on the day its step opens (the day of the answer that opened it: the
review enters the step's stage) and is met on the day the step is answered (the review
leaves that stage). The action plan takes one action per answer, so its target runs
until the last action is added. Both happen in ``decision.apply_decision``, for every
rule alike, so replaying a log recorded before targets existed gives the same targets a
new review gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

from models.clocks import ClockKind
from models.lifecycle.review_clocks import start_clock, update_clock
from models.lifecycle.state import STEP_OF_STAGE, Policy, Review
from models.steps import SPECS, StepKind

TARGET_OF_STEP: Mapping[StepKind, ClockKind] = MappingProxyType({
    StepKind.CHAIR_DECISION: ClockKind.CHAIR_DECISION_TARGET,
    StepKind.AUTHOR_APPOINTMENT: ClockKind.AUTHOR_APPOINTMENT_TARGET,
    StepKind.TERMS_OF_REFERENCE: ClockKind.TERMS_OF_REFERENCE_TARGET,
    StepKind.ENGAGEMENT: ClockKind.ENGAGEMENT_TARGET,
    StepKind.DRAFT_CIRCULATED: ClockKind.DRAFT_CIRCULATION_TARGET,
    StepKind.FINAL_REPORT: ClockKind.FINAL_REPORT_TARGET,
    StepKind.LEARNING_REVIEW: ClockKind.LEARNING_REVIEW_TARGET,
    StepKind.ACTION: ClockKind.ACTION_PLAN_TARGET,
    StepKind.CLOSURE: ClockKind.CLOSURE_TARGET,
})


def _target(review: Review) -> tuple[StepKind, ClockKind, str] | None:
    """The step the review waits on, its target's kind and subject; None if that step has no target."""
    step = STEP_OF_STAGE.get(review.stage)
    kind = TARGET_OF_STEP.get(step) if step is not None else None
    if step is None or kind is None:
        return None
    # Drafts loop: each round's circulation has its own target, as each round has its own clock.
    subject = f"round-{review.draft_round}" if kind is ClockKind.DRAFT_CIRCULATION_TARGET else ""
    return step, kind, subject


def target_key(review: Review) -> str:
    """The key of the target of the step the review waits on ('' if that step has none)."""
    found = _target(review)
    if found is None:
        return ""
    _, kind, subject = found
    return f"{kind.value}:{subject}" if subject else kind.value


def start_target(review: Review, policy: Policy, on: date) -> Review:
    """Start the target of the step the review now waits on, counting from ``on``, the day it opened."""
    found = _target(review)
    if found is None:
        return review
    step, kind, subject = found
    return start_clock(review, policy, kind, on, subject, owner_role=str(SPECS[step].asked_of))


def meet_target(review: Review, on: date) -> Review:
    """Meet the target of the step the review waits on, answered on ``on``; unchanged if none runs."""
    key = target_key(review)
    if not key or not review.has_clock(key):
        return review
    clock = review.clock(key)
    if clock.met_on is not None or clock.stopped_on is not None:
        return review
    # Never earlier than the target started: a replay applies what was accepted without judging
    # it again, so it must not refuse here either.
    return update_clock(review, key, lambda c: c.meet(max(on, c.start)))
