"""The quality of each review (``lcspr quality``): its checklist of the SCIE/NSPCC quality markers.

Someone rates a marker of a review (``models.quality`` judges the assessment); the register appends it,
with an entry in the review's audit trail, and never changes it: a later assessment of the marker
supersedes it. The checklist shows each marker's assessment in force, its history, and which markers
are due at the stage the review has reached; its one-line summary is shown by ``lcspr status`` and the
review's summary artifact, and the year's figures by ``lcspr report annual`` (``services.reports``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from models.lifecycle import Route, Stage
from models.quality import (
    Assessment,
    AssessmentInput,
    MarkerStatus,
    QualitySummary,
    check_assessment,
    checklist,
    summarise,
)
from services.app import App
from services.reviews import view

AUDIT_EVENT = "quality_assessed"


@dataclass(frozen=True)
class ReviewQuality:
    """One review's checklist: every marker, due or not, with its assessment in force and its history."""

    reference: str
    stage: Stage
    route: Route | None
    markers: tuple[MarkerStatus, ...]

    @property
    def summary(self) -> QualitySummary:
        return summarise(self.markers)


def assess(app: App, reference: str, given: AssessmentInput) -> Assessment:
    """Judge and record one marker's assessment, with an entry in the review's audit trail; it as recorded."""
    now = app.clock.now()
    with app.uow() as uow:
        # Locked: the audit trail's entries of one review are numbered one after another.
        stored = uow.reviews.get(reference, lock=True)
        made = check_assessment(given, today=app.clock.today(), referred_on=stored.referral.la_aware_date)
        made = replace(made, id=uow.quality.add(reference, made, now))
        uow.reviews.audit(reference, now, made.assessed_by, AUDIT_EVENT, {
            "assessment": made.id, "marker": made.marker, "rating": made.rating.value,
            "assessed_on": made.assessed_on.isoformat(), "note": made.note})
        uow.commit()
    return made


def review_quality(app: App, reference: str) -> ReviewQuality:
    """The review's checklist as it stands (NotFound if there is no such review)."""
    review = view(app, reference)
    return quality_at(app, reference, review.stage, review.route)


def quality_at(app: App, reference: str, stage: Stage, route: Route | None) -> ReviewQuality:
    """The review's checklist at the stage and on the route a status already read says it is at."""
    with app.uow() as uow:
        found = uow.quality.of_review(reference)
    return ReviewQuality(reference, stage, route, checklist(found, stage, route))


def status_summary(app: App, status: Mapping[str, Any]) -> dict[str, Any]:
    """The quality summary of the review a status (``services.queries.status``) is of, as JSON."""
    route = Route(status["route"]) if status["route"] else None
    return summary_json(quality_at(app, status["reference"], Stage(status["stage"]), route).summary)


def assessment_json(a: Assessment) -> dict[str, Any]:
    return {"rating": a.rating.value, "note": a.note, "assessed_by": a.assessed_by,
            "assessed_on": a.assessed_on.isoformat(), "id": a.id}


def summary_json(summary: QualitySummary) -> dict[str, Any]:
    """The summary with stable field names (``lcspr status --json``, ``lcspr quality --json``, the artifact)."""
    return {
        "markers": summary.markers,
        "assessed": summary.assessed,
        **{rating.value: n for rating, n in summary.counts.items()},
        "percent_met": summary.percent_met,
        "due_now": [m.key for m in summary.due_not_assessed],
        "line": summary.line(),
    }


def quality_json(quality: ReviewQuality) -> dict[str, Any]:
    """Everything ``lcspr quality REF --json`` shows, with stable field names."""
    return {
        "reference": quality.reference,
        "stage": quality.stage.value,
        "route": quality.route.value if quality.route else None,
        "summary": summary_json(quality.summary),
        "markers": [
            {"key": s.marker.key, "title": s.marker.title, "good": s.marker.good,
             "from_stage": s.marker.from_stage.value, "due": s.due,
             "current": assessment_json(s.current) if s.current else None,
             "earlier": [assessment_json(a) for a in s.earlier]}
            for s in quality.markers
        ],
    }
