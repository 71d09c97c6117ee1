"""Themes of recommendations and learning briefings (``lcspr themes``, ``lcspr briefing``).

A change of a recommendation's themes is judged by the domain (``models.themes.plan_change``) against the
partnership's list and the review as its decision log makes it, recorded in the register (a removal keeps the
row, with who removed it) and in the review's audit trail, in one unit of work that holds the review's lock,
so two people changing one review's themes at once are taken one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.briefing import Briefing, briefing
from models.lifecycle import Review
from models.themes import ThemeAssignment, ThemeChange, ThemePlan, plan_change
from notifications.briefing import briefing_key, render_briefing
from services.app import App
from services.reviews import rebuild


@dataclass(frozen=True)
class ReviewThemes:
    """A review as ``lcspr themes REF`` shows it: its recommendations and their standing assignments."""

    review: Review
    standing: tuple[ThemeAssignment, ...]


def of_review(app: App, reference: str) -> ReviewThemes:
    """The review's recommendations and the themes and tags they carry now (NotFound if there is no review)."""
    with app.uow() as uow:
        review = rebuild(app, uow.reviews.get(reference))
        return ReviewThemes(review, tuple(uow.themes.standing([reference])))


def history(app: App, reference: str) -> list[ThemeAssignment]:
    """Every theme and tag the review's recommendations were ever given, removed ones too."""
    with app.uow() as uow:
        uow.reviews.get(reference)  # NotFound for a review that does not exist
        return uow.themes.history(reference)


def change(app: App, reference: str, wanted: ThemeChange) -> ThemePlan:
    """Add and remove themes and tags of one recommendation; what was done (and what was there already)."""
    now = app.clock.now()
    by = wanted.by.strip()
    with app.uow() as uow:
        review = rebuild(app, uow.reviews.get(reference, lock=True))
        plan = plan_change(wanted, app.config.themes, len(review.recommendations), uow.themes.standing([reference]))
        for kind, value in plan.add:
            uow.themes.add(ThemeAssignment(reference, wanted.recommendation, kind, value, by, now))
        for gone in plan.remove:
            assert gone.id is not None
            uow.themes.remove(gone.id, by, now)
        if plan.add or plan.remove:
            uow.reviews.audit(reference, now, by, "themes_changed", {
                "recommendation": wanted.recommendation,
                "added": [f"{kind.value}:{value}" for kind, value in plan.add],
                "removed": [f"{a.kind.value}:{a.value}" for a in plan.remove],
            })
            uow.commit()
    return plan


def learning_briefing(app: App, reference: str) -> Briefing:
    """The review's learning briefing as of today; Refused unless the review is published."""
    with app.uow() as uow:
        review = rebuild(app, uow.reviews.get(reference))
        standing = uow.themes.standing([reference])
    return briefing(review, standing, app.config.themes, app.clock.today())


def briefing_page(app: App, reference: str, fmt: Literal["md", "html"] = "md") -> str:
    """The review's learning briefing as a page (Markdown or HTML)."""
    return render_briefing(learning_briefing(app, reference), partnership=app.config.partnership, fmt=fmt)


def publish_briefing(app: App, reference: str) -> tuple[str, bool]:
    """Publish the review's learning briefing as a Markdown artifact in the Prefect UI, linked to its run; its
    key and whether that made a new version (none when it has not changed since the last)."""
    text = briefing_page(app, reference)
    with app.uow() as uow:
        flow_run_id = uow.reviews.get(reference).flow_run_id
    key = briefing_key(reference)
    with app.runs() as runs:
        made = runs.publish_artifact(key, "markdown", text, f"Learning briefing of review {reference}", flow_run_id)
    return key, made


