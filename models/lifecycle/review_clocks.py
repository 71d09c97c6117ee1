"""Changes to the clocks a review holds: start one, change one, meet one, stop those still running.

Each takes a ``Review`` and returns a new one; the rules, the opening of a review and
clock adjustments all change clocks through these, so a clock is started once however
often a decision is replayed or retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from models.clocks import Clock, ClockKind
from models.lifecycle.state import Policy, Review


def start_clock(
    review: Review, policy: Policy, kind: ClockKind, start: date, subject: str = "", owner_role: str = ""
) -> Review:
    clock = Clock(kind=kind, start=start, rule=policy.rule(kind), subject=subject, owner_role=owner_role)
    if review.has_clock(clock.key):  # replays and retries start a clock once
        return review
    return replace(review, clocks=(*review.clocks, clock))


def update_clock(review: Review, key: str, change: Callable[[Clock], Clock]) -> Review:
    return replace(review, clocks=tuple(change(c) if c.key == key else c for c in review.clocks))


def meet(review: Review, key: str, on: date) -> Review:
    if not review.has_clock(key) or review.clock(key).met_on is not None:
        return review
    return update_clock(review, key, lambda c: c.meet(on))


def stop_running(review: Review, on: date, reason: str, keep: ClockKind | None = None) -> Review:
    """Stop every clock still running (but those of kind ``keep``): the route no longer needs them."""

    def stop(c: Clock) -> Clock:
        if c.met_on is None and c.stopped_on is None and c.kind is not keep:
            return c.stop(on, reason)
        return c

    return replace(review, clocks=tuple(stop(c) for c in review.clocks))
