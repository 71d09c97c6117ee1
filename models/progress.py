"""How far a review has come along its route: the share of the route's steps done.

Each route is the sequence of stages (one human step each) a review on it passes through, in
order; a review at a stage has done the steps before it, and a closed one all of them. Until the
Chair chooses a route the full LCSPR route is assumed, the longest, so the share never jumps
down when the route is chosen as an LCSPR. A loop goes back: a draft sent back for changes
returns the review to drafting, and its share with it (the draft really is being done again).

Pure: the stage and route come in, a count goes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.lifecycle import Route, Stage

_DECISION = (Stage.REFERRED, Stage.RAPID_REVIEW, Stage.AWAITING_DECISION)
_AFTER_REPORT = (Stage.ACTION_PLAN, Stage.ACTION_MONITORING, Stage.CLOSURE)

ROUTE_STAGES: Mapping[Route, Sequence[Stage]] = {
    Route.LCSPR: (
        *_DECISION,
        Stage.INFORMING_BODIES,
        Stage.AUTHOR_APPOINTMENT,
        Stage.TERMS_OF_REFERENCE,
        Stage.AGENCY_REPORTS,
        Stage.ENGAGEMENT,
        Stage.DRAFTING,
        Stage.DRAFT_REVIEW,
        Stage.FINAL_REPORT,
        Stage.SENDING_FINAL_REPORT,
        Stage.PUBLICATION,
        *_AFTER_REPORT,
    ),
    Route.LEARNING_REVIEW: (*_DECISION, Stage.LEARNING_REVIEW, *_AFTER_REPORT),
    # Both end with the Chair's decision: the review closes there. (One with an immediate action still open
    # waits on its closure first: CLOSURE is off these routes, so it counts on the full one, nearly done.)
    Route.NO_FURTHER_REVIEW: _DECISION,
    Route.NATIONAL_REVIEW: _DECISION,
}


@dataclass(frozen=True)
class Progress:
    """Steps done of the steps on the route."""

    done: int
    total: int

    @property
    def percent(self) -> float:
        """0 to 100, to one decimal place (a stable value: the artifact compares it with the last)."""
        return round(100 * self.done / self.total, 1) if self.total else 100.0


def route_progress(stage: Stage, route: Route | None) -> Progress:
    """How many of its route's steps a review at ``stage`` has done."""
    stages = ROUTE_STAGES[route or Route.LCSPR]
    if stage is Stage.CLOSED:
        return Progress(len(stages), len(stages))
    if stage not in stages:  # not on this route: count it on the full one, where every stage is
        stages = ROUTE_STAGES[Route.LCSPR]
    return Progress(list(stages).index(stage) if stage in stages else 0, len(stages))
