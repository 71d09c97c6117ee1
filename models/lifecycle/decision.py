"""Deciding: one answer to the open step, judged and applied, or refused with a reason.

``decide`` is the one domain call for an answer. It reads the raw payload into the
step's input model, checks it against the open step (kind, occurrence and attempt),
the dates and the step's named rule, applies the rule and returns ``Accepted``: the
review after the decision and the parsed answer, which is what the log stores. A
refused answer raises ``Refused`` (``IdentifierFound`` for text that could identify a
child) and changes nothing; ``refuse`` then records the refusal so the step is asked
again under the next attempt's key.

``apply_decision`` applies an accepted answer without judging it, which is how a
replay of the log rebuilds a review; it also meets and starts the steps' local targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from pydantic import ValidationError

from models.errors import Refused
from models.inputs import describe_validation_error, ensure_no_identifiers_in
from models.lifecycle.opening import open_step
from models.lifecycle.rules import RULES, Rule
from models.lifecycle.state import Policy, Review
from models.lifecycle.targets import meet_target, start_target
from models.steps import SPECS, StepInput, StepKind, parse_step_key


@dataclass(frozen=True)
class Accepted:
    """An accepted answer: the review after it, and the answer as read.

    ``answer.model_dump(mode="json")`` is what the decision log stores, so a replay
    reads back exactly what was judged.
    """

    review: Review
    answer: StepInput


def parse_input(kind: StepKind, payload: Mapping[str, Any]) -> StepInput:
    """Validate a raw answer against the step's input model, refusing with a readable reason."""
    model = SPECS[kind].input_model
    try:
        return model.model_validate(dict(payload))
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None


def check_decision(review: Review, key: str, value: StepInput, today: date, policy: Policy) -> Rule:
    """Refuse a decision that may not be recorded now; return the rule that will apply it."""
    step = open_step(review, policy)
    if step is None:
        raise Refused(f"Review {review.reference} is closed; it waits on no step.")
    kind, _, _ = parse_step_key(key)
    if kind is not step.kind:
        raise Refused(
            f"Review {review.reference} is not waiting on '{SPECS[kind].title}'; it is waiting on "
            f"'{step.title}' (step {step.key}). Steps are taken in order."
        )
    if key != step.key:
        raise Refused(f"Step {key} is not open; the open step is {step.key}.")
    rule = RULES[kind]
    if review.stage not in rule.from_stages:  # a guard on the table itself
        raise Refused(f"Rule {rule.name} cannot run from stage {review.stage}.")
    if value.decided_on > today:
        raise Refused(f"The date given ({value.decided_on}) is in the future; today is {today}.")
    if value.decided_on < step.opened_on:
        raise Refused(
            f"The date given ({value.decided_on}) is before this step opened ({step.opened_on}). "
            "Check the date."
        )
    ensure_no_identifiers_in(value)
    rule.check(review, value, policy)
    return rule


def apply_decision(review: Review, rule: Rule, value: StepInput, policy: Policy) -> Review:
    """The effect of an accepted decision (no checks: replays must not re-judge history).

    The answer meets the local target of the step it answers (``targets``) before the rule
    applies, so a rule that stops every clock still running (closing the review) finds it met;
    if the step stays open (the action plan takes one action per answer), its target runs on.
    A step the answer opens starts its own target that day.
    """
    met = meet_target(review, value.decided_on)
    after = rule.effect(met, value, policy)
    if met is not review and after.stage is review.stage:
        after = rule.effect(review, value, policy)  # pure: the same effect, the target still running
    if after.stage is not review.stage:
        after = start_target(after, policy, value.decided_on)
    if after.stage not in rule.to_stages:
        raise AssertionError(f"rule {rule.name} led to {after.stage}, outside {sorted(rule.to_stages)}")
    return replace(after, attempt=1, last_refusal="", step_opened_on=value.decided_on)


def decide(review: Review, key: str, payload: Mapping[str, Any], today: date, policy: Policy) -> Accepted:
    """Read, check and apply one answer to the open step.

    Raises ``Refused`` (or ``IdentifierFound``) with the reason, changing nothing, when
    the answer cannot be read or may not be recorded now.
    """
    kind, _, _ = parse_step_key(key)
    answer = parse_input(kind, payload)
    rule = check_decision(review, key, answer, today, policy)
    return Accepted(review=apply_decision(review, rule, answer, policy), answer=answer)


def refuse(review: Review, reason: str) -> Review:
    """A refused answer: the step stays open and is asked again under the next attempt's key."""
    return replace(review, attempt=review.attempt + 1, last_refusal=reason)
