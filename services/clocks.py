"""Clock adjustments: pause, resume or extend one of a review's statutory clocks, with who and why."""

from __future__ import annotations

from models.lifecycle import ClockAdjustment, Review, open_step
from models.lifecycle import adjust_clock as adjusted
from services.app import App
from services.reviews import rebuild


def adjust_clock(app: App, reference: str, adjustment: ClockAdjustment) -> Review:
    """Judge and record the adjustment in the decision log and the audit trail; the review after it."""
    policy, now = app.config.policy, app.clock.now()
    with app.uow() as uow:
        review = rebuild(app, uow.reviews.get(reference, lock=True))
        after = adjusted(review, adjustment, app.clock.today(), policy)
        detail = adjustment.model_dump(mode="json")
        uow.reviews.append(reference, f"clock-{after.clock_adjustments}", detail, True, "", None, now)
        uow.reviews.project(reference, after, open_step(after, policy), policy, now)
        event = "clock_extended" if adjustment.action == "extend" else f"clock_{adjustment.action}d"
        uow.reviews.audit(reference, now, adjustment.by, event, detail)
        uow.commit()
    return after
