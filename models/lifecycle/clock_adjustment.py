"""Clock adjustments: pause, resume or extend one of a review's clocks, with who and why.

A person may stop a clock running (waiting on criminal proceedings), let it run again
(the paused working days are given back) or agree a later due date. Each adjustment is
checked (a date not in the future, a reason, no identifying text, a rule of the clock
itself) and counted on the review; ``Refused`` says why one may not be made.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.errors import Refused
from models.inputs import Day, Line, Person, Prose, ensure_no_identifiers_in
from models.lifecycle.review_clocks import update_clock
from models.lifecycle.state import Policy, Review


class ClockAdjustment(BaseModel):
    """Pause, resume or extend a clock, with a reason and who decided (as SLA engines allow)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    clock: Line = Field(max_length=120,
                        description="The clock's key, as `lcspr status` shows it, e.g. 'rapid_review'.")
    action: Literal["pause", "resume", "extend"]
    on: Day
    by: Person = Field(min_length=2, max_length=80, title="Decided by")
    reason: Prose = Field(default="", max_length=2000, title="Reason")
    new_due: Day | None = None


def adjust_clock(review: Review, adj: ClockAdjustment, today: date, policy: Policy) -> Review:
    if adj.on > today:
        raise Refused(f"The date given ({adj.on}) is in the future; today is {today}.")
    if adj.action != "resume" and len(adj.reason) < 5:
        raise Refused(f"Give a reason to {adj.action} the clock.")
    ensure_no_identifiers_in(adj)
    clock = review.clock(adj.clock)
    if adj.action == "pause":
        changed = clock.pause(adj.on, adj.reason, adj.by)
    elif adj.action == "resume":
        changed = clock.resume(adj.on)
    else:
        if adj.new_due is None:
            raise Refused("Give the new due date to extend the clock.")
        changed = clock.extend(adj.new_due, adj.reason, adj.by, adj.on, calendar=policy.calendar)
    review = update_clock(review, clock.key, lambda _: changed)
    return replace(review, clock_adjustments=review.clock_adjustments + 1)
