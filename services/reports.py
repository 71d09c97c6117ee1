"""Reports over the whole register: the figures a partnership takes away (``lcspr report``)."""

from __future__ import annotations

from datetime import date

from models.learning import with_learning
from models.quality import QualityFigures, quality_figures, review_as_of
from models.report import AnnualReport, annual_report
from models.themes import by_review
from services.app import App


def annual(app: App, start: date, end: date) -> AnnualReport:
    """The yearly figures over the reviews referred from ``start`` to ``end``, as they stood on the
    period's last day (or today, if earlier): ``models.report`` says how each is counted."""
    with app.uow() as uow:
        # Closed reviews too (one referred in the period may be closed since), but only those referred in
        # it: the referral's ISO date, read from the list, spares loading every other year's decision log.
        links = uow.reviews.run_links(include_closed=True)
        stored = [uow.reviews.get(link.reference) for link in links
                  if start.isoformat() <= str(link.referral.get("la_aware_date", "")) <= end.isoformat()]
        themes = by_review(uow.themes.standing([s.reference for s in stored]))
    report = annual_report(stored, start, end, today=app.clock.today(), policy=app.config.policy)
    # The section "Learning by theme" and the Tracker's themes column (models.learning).
    return with_learning(report, stored, themes, app.config.themes, app.config.policy)


def annual_quality(app: App, report: AnnualReport) -> QualityFigures:
    """The quality markers over the reviews of ``report`` (the same reviews, as they stood on the same day):
    per marker, how many were rated each way, and how many not, due or not (``models.quality``)."""
    cohort = [review_as_of(row) for row in report.rows]
    with app.uow() as uow:
        found = uow.quality.of_reviews([r.reference for r in cohort])
    return quality_figures(cohort, found, report.as_of)
