"""Records beside the steps: the National Panel's response, immediate actions and their completion.

Each is judged by the domain (``models.lifecycle.side_records``) against the review as its log rebuilds it,
then kept in the same transaction in the decision log (under its own key), the review's projection and the
audit trail, like a clock adjustment. The review's run is not disturbed: its open step and key stay as they
were. A new immediate action's clock is reminded and escalated by the daily sweep like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.lifecycle import ACTION_COMPLETED, IMMEDIATE_ACTION, PANEL_RESPONSE, Review, judge_side_record, open_step
from services.app import App
from services.reviews import rebuild

AUDIT_EVENTS = {
    PANEL_RESPONSE: "panel_response_recorded",
    IMMEDIATE_ACTION: "immediate_action_recorded",
    ACTION_COMPLETED: "action_completed",
}


def record(app: App, reference: str, prefix: str, payload: Mapping[str, Any]) -> tuple[str, Review]:
    """Judge and record one record beside the steps; its log key and the review after it. ``Refused`` (exit 2)
    says why it may not be recorded, and nothing is kept."""
    policy, now = app.config.policy, app.clock.now()
    with app.uow() as uow:
        review = rebuild(app, uow.reviews.get(reference, lock=True))
        key, value, after = judge_side_record(review, prefix, payload, app.clock.today(), policy)
        detail = value.model_dump(mode="json")
        uow.reviews.append(reference, key, detail, True, "", None, now)
        uow.reviews.project(reference, after, open_step(after, policy), policy, now)
        uow.reviews.audit(reference, now, str(detail["by"]), AUDIT_EVENTS[prefix], {"key": key, **detail})
        uow.commit()
    return key, after


def record_panel_response(app: App, reference: str, payload: Mapping[str, Any]) -> tuple[str, Review]:
    return record(app, reference, PANEL_RESPONSE, payload)


def record_immediate_action(app: App, reference: str, payload: Mapping[str, Any]) -> tuple[str, Review]:
    return record(app, reference, IMMEDIATE_ACTION, payload)


def complete_action(app: App, reference: str, payload: Mapping[str, Any]) -> tuple[str, Review]:
    return record(app, reference, ACTION_COMPLETED, payload)
