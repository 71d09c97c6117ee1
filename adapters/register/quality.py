"""The quality assessments table inside a unit of work (``services.ports.QualityAssessments``).

Append-only: there is no update or delete here, as there is none in the domain (``models.quality``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.register.mapping import QualityAssessmentRow, ReviewRow, review_id
from models.quality import Assessment, Rating


def _assessment(row: QualityAssessmentRow) -> Assessment:
    return Assessment(row.marker, Rating(row.rating), row.note, row.assessed_by, row.assessed_on, row.id)


class SqlQualityAssessments:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _review_id(self, reference: str) -> int:
        return review_id(self.s, reference)

    def add(self, reference: str, assessment: Assessment, now: datetime) -> int:
        row = QualityAssessmentRow(review_id=self._review_id(reference), marker=assessment.marker,
                                   rating=assessment.rating.value, note=assessment.note,
                                   assessed_by=assessment.assessed_by, assessed_on=assessment.assessed_on,
                                   recorded_at=now)
        self.s.add(row)
        self.s.flush()
        return row.id

    def of_review(self, reference: str) -> list[Assessment]:
        """Every assessment of the review, in the order recorded (NotFound if there is no such review)."""
        rows = self.s.scalars(select(QualityAssessmentRow)
                              .where(QualityAssessmentRow.review_id == self._review_id(reference))
                              .order_by(QualityAssessmentRow.id))
        return [_assessment(row) for row in rows]

    def of_reviews(self, references: Sequence[str]) -> dict[str, list[Assessment]]:
        """Every assessment of each review named, in the order recorded (a review with none: an empty list)."""
        found: dict[str, list[Assessment]] = {ref: [] for ref in references}
        wanted = list(found)
        for start in range(0, len(wanted), 500):  # bounded IN lists, for a register of thousands
            rows = self.s.execute(select(ReviewRow.reference, QualityAssessmentRow)
                                  .join(ReviewRow, ReviewRow.id == QualityAssessmentRow.review_id)
                                  .where(ReviewRow.reference.in_(wanted[start:start + 500]))
                                  .order_by(QualityAssessmentRow.id))
            for reference, row in rows.tuples():
                found[reference].append(_assessment(row))
        return found
