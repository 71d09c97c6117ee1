"""Opening: a new review at its first step, and the one step a review waits on (``open_step``).

The open step is derived, never stored: its kind comes from the stage, its occurrence
from what the review already holds (agency reports received, draft rounds, actions),
its attempt from the answers refused so far, and its due date from the clock that
governs it under the ``Policy`` passed in: a statutory clock, or the step's local target
(``targets``) where no statutory clock times it.
"""

from __future__ import annotations

from models.clocks import Clock, ClockKind
from models.lifecycle.review_clocks import start_clock
from models.lifecycle.state import STEP_OF_STAGE, OpenStep, Policy, Review, Stage
from models.lifecycle.targets import target_key
from models.referral import Referral, notification_rules
from models.reminders import agency_role
from models.steps import SPECS, StepKind, step_key


def open_review(reference: str, referral: Referral, policy: Policy) -> Review:
    """A new review at its first step, with the notification clock running from awareness."""
    review = Review(reference=reference, referral=referral, stage=Stage.REFERRED,
                    step_opened_on=referral.la_aware_date)
    return start_clock(review, policy, ClockKind.SERIOUS_INCIDENT_NOTIFICATION, referral.la_aware_date,
                       owner_role="business_unit")


def _occurrence(review: Review, kind: StepKind) -> int:
    if kind is StepKind.AGENCY_REPORT:
        return len(review.agencies) - len(review.outstanding_agencies) + 1
    if kind in (StepKind.DRAFT_CIRCULATED, StepKind.DRAFT_REVIEW):
        return review.draft_round
    if kind is StepKind.PUBLICATION:
        return review.publication_decisions + 1
    if kind is StepKind.ACTION:
        # The plan's own actions: an immediate action recorded beside the step must not change its key.
        return len(review.plan_actions) + 1
    if kind is StepKind.ACTION_UPDATE:
        return len(review.actions) - len(review.open_actions) + 1
    return 1


def _step_clock(review: Review, kind: StepKind, policy: Policy) -> str:
    """The clock that sets the open step's due date ('' if none does)."""
    candidates: list[Clock] = []
    if kind is StepKind.AGENCY_REPORT:
        candidates = [c for c in review.clocks if c.kind is ClockKind.AGENCY_REPORT and c.met_on is None]
    elif kind is StepKind.ACTION_UPDATE:
        candidates = [
            c for c in review.clocks if c.kind is ClockKind.ACTION and c.met_on is None and c.stopped_on is None
        ]
    elif kind is StepKind.DRAFT_REVIEW:
        candidates = [c for c in review.clocks if c.key == f"draft_round:round-{review.draft_round}"]
    elif kind is StepKind.PUBLICATION:
        key = f"deferral_review:deferral-{review.deferrals}" if review.deferrals else "publication"
        candidates = [c for c in review.clocks if c.key == key]
    else:
        by_step = {
            StepKind.NOTIFICATION: "serious_incident_notification",
            StepKind.RAPID_REVIEW: "rapid_review",
            StepKind.INFORM_BODIES: "inform_bodies",
            StepKind.FINAL_REPORT: "publication",
            StepKind.FINAL_REPORT_SENT: "final_report_to_bodies",
        }
        candidates = [c for c in review.clocks if c.key == by_step.get(kind)]
    # A step no statutory clock times has its local target; the final report has both the
    # publication clock and its target, and the one due first sets its date.
    target = target_key(review)
    candidates += [c for c in review.clocks if target and c.key == target]
    candidates.sort(key=lambda c: c.due(policy.calendar))
    return candidates[0].key if candidates else ""


def open_step(review: Review, policy: Policy) -> OpenStep | None:
    """The step the review is waiting on, or None once it is closed."""
    kind = STEP_OF_STAGE.get(review.stage)
    if kind is None:
        return None
    spec = SPECS[kind]
    occurrence = _occurrence(review, kind)
    clock_key = _step_clock(review, kind, policy)
    due = review.clock(clock_key).due(policy.calendar) if clock_key else None
    asked_of = str(spec.asked_of)
    if kind is StepKind.AGENCY_REPORT:
        asked_of = ",".join(agency_role(a.agency) for a in review.outstanding_agencies)
    # The partnership's own figures, not the statutory defaults, in what the form asks.
    question = spec.question.format(
        final_report_before_publication=policy.rule(ClockKind.FINAL_REPORT_TO_BODIES).length)
    if kind is StepKind.NOTIFICATION:
        # One notification covers the incident; the rules that make it required are the children's.
        question += "\n\nWhat the notification rules say of each child:\n\n" + "\n".join(
            f"- {line}" for line in notification_rules(review.referral))
    return OpenStep(
        kind=kind, key=step_key(kind, occurrence, review.attempt), occurrence=occurrence,
        attempt=review.attempt, title=spec.title, asked_of=asked_of,
        question=question,
        opened_on=review.step_opened_on, due=due, clock_key=clock_key,
        last_refusal=review.last_refusal, input_model=spec.input_model,
    )
