"""The decision log of a review, and ``replay``, which rebuilds the review from it.

A review's state is never stored as such: it is its referral plus its log, replayed in
order. Accepted answers are applied without being judged again and an agreed extension
stands as agreed, so a changed calendar or clock rule recomputes due dates but never
rewrites what was decided; a refused answer only moves the open step on to its next
attempt. Log keys starting with ``clock-`` are clock adjustments; the Panel's responses and actions
recorded beside the steps have keys of their own (``models.lifecycle.side_records``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from models.clocks import Extension
from models.lifecycle.clock_adjustment import ClockAdjustment, adjust_clock
from models.lifecycle.decision import apply_decision, refuse
from models.lifecycle.opening import open_review
from models.lifecycle.rules import RULES
from models.lifecycle.side_records import apply_side_record, is_step_key
from models.lifecycle.state import Policy, Review
from models.referral import Referral
from models.steps import SPECS, parse_step_key


@dataclass(frozen=True)
class LoggedDecision:
    """One line of a review's decision log, as the register keeps it."""

    key: str
    payload: Mapping[str, Any]
    accepted: bool
    reason: str = ""


def replay(reference: str, referral: Referral, log: Sequence[LoggedDecision], policy: Policy) -> Review:
    """Rebuild a review from its referral and decision log, in order.

    Accepted decisions are applied without being judged again, so a changed calendar
    or rule recomputes due dates but never rewrites what was decided.
    """
    review = open_review(reference, referral, policy)
    for entry in log:
        review = _apply(review, entry, policy)
    return review


def replay_steps(reference: str, referral: Referral, log: Sequence[LoggedDecision],
                 policy: Policy) -> Iterator[Review]:
    """The review after each entry of the log in turn (the last is ``replay``'s result); the audit
    check compares each with the state the audit entry of that decision recorded."""
    review = open_review(reference, referral, policy)
    for entry in log:
        review = _apply(review, entry, policy)
        yield review


def _apply(review: Review, entry: LoggedDecision, policy: Policy) -> Review:
    if entry.key.startswith("clock-"):
        if not entry.accepted:
            return review
        adj = ClockAdjustment.model_validate(dict(entry.payload))
        if adj.action == "extend" and adj.new_due is not None:
            # An agreed extension is a fact: re-judging "later than the current due
            # date" under a changed calendar or rule would refuse what was accepted.
            clock = review.clock(adj.clock)
            ext = Extension(new_due=adj.new_due, reason=adj.reason, by=adj.by, on=adj.on)
            extended = replace(clock, extensions=(*clock.extensions, ext))
            clocks = tuple(extended if c.key == clock.key else c for c in review.clocks)
            return replace(review, clocks=clocks, clock_adjustments=review.clock_adjustments + 1)
        return adjust_clock(review, adj, adj.on, policy)
    if not is_step_key(entry.key):
        return apply_side_record(review, entry.key, entry.payload, policy) if entry.accepted else review
    if not entry.accepted:
        return refuse(review, entry.reason)
    kind, _, _ = parse_step_key(entry.key)
    model = SPECS[kind].input_model
    value = model.model_validate({**model.legacy, **entry.payload})
    return apply_decision(review, RULES[kind], value, policy)
