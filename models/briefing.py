"""The learning briefing: one page per published review for practitioners (``lcspr briefing``).

What it says is what the partnership has published or may say outside the register: the review's reference,
its kind, when and where the report was published, its recommendations with their themes (what practitioners
should do differently *is* the recommendations), and the action plan as owner agency, due date and status.
Never the pseudonym, the referral or any case fact: an action's own wording and its evidence stay in the
register (they were never published). Only a published review has a briefing: before that its
recommendations are not public.

Pure: the review, its theme assignments, the list and today are arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from models.errors import Refused
from models.lifecycle import Review, Route
from models.themes import ThemeAssignment, ThemeList, current_by_recommendation, labels

KIND_LABELS = {
    "lcspr": "Local child safeguarding practice review",
    "reflective_learning_session": "Reflective learning session",
    "practice_review": "Practice review",
    "national_review": "National review",
}


@dataclass(frozen=True)
class BriefingRecommendation:
    number: int
    text: str
    themes: tuple[str, ...]  # titles of the list's themes, then #tags


@dataclass(frozen=True)
class BriefingAction:
    number: int
    recommendation: str  # its number, or "immediate safety action" / "improvement" (models.lifecycle.side_records)
    owner_agency: str
    due_on: date
    status: str  # "completed on 2026-10-01", "open", "overdue"


@dataclass(frozen=True)
class Briefing:
    """A published review's learning briefing, as a value (``notifications/briefing.py`` writes it)."""

    reference: str
    kind: str
    published_on: date
    published_url: str
    recommendations: tuple[BriefingRecommendation, ...]
    actions: tuple[BriefingAction, ...]
    themes: tuple[str, ...]  # every theme and tag of the review, once, in the list's order
    today: date


# What an action recorded beside the steps is for, in the briefing's "For recommendation" column.
FOR_ACTION = {"immediate_safety": "immediate safety action", "improvement": "improvement"}


def briefing(review: Review, assignments: Sequence[ThemeAssignment], controlled: ThemeList, today: date) -> Briefing:
    """The review's learning briefing; Refused unless it is published."""
    if review.published_on is None:
        raise Refused(f"A learning briefing is for published reviews only; {review.reference} is at stage "
                      f"{review.stage.value.replace('_', ' ')}.")
    carried = current_by_recommendation(assignments)
    recommendations = tuple(BriefingRecommendation(n, text, labels(carried.get(n, ()), controlled))
                            for n, text in enumerate(review.recommendations, start=1))
    actions = tuple(BriefingAction(a.number, FOR_ACTION.get(a.kind, str(a.recommendation_number)), a.owner_agency,
                                   a.due_on,
                                   f"completed on {a.completed_on.isoformat()}" if a.completed_on
                                   else "overdue" if today > a.due_on else "open")
                    for a in review.actions)
    every = sorted({(a.kind.value, controlled.position(a.value), a.value): a for items in carried.values()
                    for a in items}.items())
    kind = review.learning_kind if review.route is Route.LEARNING_REVIEW else (review.route or Route.LCSPR).value
    return Briefing(review.reference, KIND_LABELS.get(kind, kind.replace("_", " ")), review.published_on,
                    review.published_url, recommendations, actions, labels((a for _, a in every), controlled), today)
