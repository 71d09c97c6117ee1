"""Learning by theme: the yearly report's section that gathers reviews, recommendations and actions by theme.

Over the same reviews as the rest of the yearly report (``models.report``: referred in the period, as they
stood on its last day, or today if earlier), each recommendation counts under every theme and tag it
carries, and each action under every theme of its recommendation; a review counts once under a theme if
any of its recommendations carries it. An action is *completed*, or *open*; an open action is *overdue*
once its due date has passed.

The themes are those recorded **now** (``models.themes``): a theme given this year to a recommendation of
last year counts in last year's report when it is produced again, as filing learning often comes later.
A theme on a recommendation the review did not yet have on that day is left out.

Pure: the stored reviews, their theme assignments, the list, the day and the policy are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from models.lifecycle import Policy, Review, replay
from models.records import StoredReview
from models.report import AnnualReport, log_as_of
from models.theme_figures import LearningByTheme, ThemeLine
from models.themes import ThemeAssignment, ThemeKind, ThemeList, current_by_recommendation, labels

__all__ = ["LearningByTheme", "ThemeLine", "learning_by_theme", "with_learning"]


def learning_by_theme(reviews: Sequence[Review], assignments: Mapping[str, Sequence[ThemeAssignment]],
                      controlled: ThemeList, as_of: date) -> LearningByTheme:
    """Group the recommendations of ``reviews`` (as they stood on ``as_of``) and their actions by theme."""
    counts: dict[tuple[ThemeKind, str], _Count] = {}
    total = without = 0
    for review in reviews:
        carried = current_by_recommendation(assignments.get(review.reference, ()))
        for number in range(1, len(review.recommendations) + 1):
            total += 1
            items = carried.get(number, ())
            if not any(a.kind is ThemeKind.CONTROLLED for a in items):
                without += 1
            actions = [a for a in review.actions if a.recommendation_number == number]
            for a in items:
                count = counts.setdefault((a.kind, a.value), _Count())
                count.reviews.add(review.reference)
                count.recommendations += 1
                for action in actions:
                    if action.completed_on is not None:
                        count.completed += 1
                    else:
                        count.open += 1
                        count.overdue += as_of > action.due_on
    lines = [ThemeLine(kind, value, controlled.title(value) if kind is ThemeKind.CONTROLLED else f"#{value}",
                       len(c.reviews), c.recommendations, c.completed, c.open, c.overdue)
             for (kind, value), c in counts.items()]
    themes = sorted((line for line in lines if line.kind is ThemeKind.CONTROLLED),
                    key=lambda line: (-line.recommendations, controlled.position(line.key)))
    tags = sorted((line for line in lines if line.kind is ThemeKind.TAG), key=lambda line: (-line.recommendations,
                                                                                             line.key))
    return LearningByTheme(tuple(themes), tuple(tags), total, without)


def with_learning(report: AnnualReport, stored: Iterable[StoredReview],
                  assignments: Mapping[str, Sequence[ThemeAssignment]], controlled: ThemeList,
                  policy: Policy) -> AnnualReport:
    """``report`` with its section by theme, and each row's themes (the Tracker's column), over the same
    reviews as it stood on (``report.as_of``)."""

    wanted = {row.reference for row in report.rows}
    reviews = [replay(s.reference, s.referral, log_as_of(s.log, report.as_of), policy)
               for s in stored if s.reference in wanted]
    section = learning_by_theme(reviews, assignments, controlled, report.as_of)
    counted = {r.reference: len(r.recommendations) for r in reviews}

    def themes_of(reference: str) -> tuple[str, ...]:
        carried = current_by_recommendation(assignments.get(reference, ()))
        kept = [a for n, items in carried.items() if n <= counted.get(reference, 0) for a in items]
        ordered = sorted({(a.kind is ThemeKind.TAG, controlled.position(a.value), a.value): a
                          for a in kept}.items())
        return labels((a for _, a in ordered), controlled)

    rows = tuple(replace(row, themes=themes_of(row.reference)) for row in report.rows)
    return replace(report, rows=rows, learning=section)


@dataclass
class _Count:
    reviews: set[str] = field(default_factory=set)
    recommendations: int = 0
    completed: int = 0
    open: int = 0
    overdue: int = 0
