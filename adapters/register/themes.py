"""The theme assignments table inside a unit of work (``services.ports.ThemeAssignments``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.register.mapping import ThemeAssignmentRow
from models.errors import Refused
from models.themes import ThemeAssignment, ThemeKind


def _record(row: ThemeAssignmentRow) -> ThemeAssignment:
    return ThemeAssignment(row.reference, row.recommendation, ThemeKind(row.kind), row.value, row.assigned_by,
                           row.assigned_at, row.removed_by, row.removed_at, row.id)


class SqlThemeAssignments:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, assignment: ThemeAssignment) -> int:
        row = ThemeAssignmentRow(reference=assignment.reference, recommendation=assignment.recommendation,
                                 kind=assignment.kind.value, value=assignment.value,
                                 assigned_by=assignment.assigned_by, assigned_at=assignment.assigned_at,
                                 removed_by="")
        self.s.add(row)
        self.s.flush()
        return row.id

    def remove(self, assignment_id: int, by: str, now: datetime) -> None:
        row = self.s.get(ThemeAssignmentRow, assignment_id, with_for_update=True)
        if row is None or row.removed_at is not None:
            # The caller judged it standing under the review's lock: someone else changed it meanwhile.
            raise Refused(f"Theme assignment {assignment_id} was removed meanwhile; look again (lcspr themes REF).")
        row.removed_by, row.removed_at = by, now

    def standing(self, references: Sequence[str]) -> list[ThemeAssignment]:
        """The assignments not removed of the reviews named, by review, recommendation and order given."""
        if not references:
            return []
        rows = self.s.scalars(select(ThemeAssignmentRow)
                              .where(ThemeAssignmentRow.reference.in_(list(references)),
                                     ThemeAssignmentRow.removed_at.is_(None))
                              .order_by(ThemeAssignmentRow.reference, ThemeAssignmentRow.recommendation,
                                        ThemeAssignmentRow.id))
        return [_record(row) for row in rows]

    def history(self, reference: str) -> list[ThemeAssignment]:
        """Every assignment of the review ever recorded, removed ones too, in the order given."""
        rows = self.s.scalars(select(ThemeAssignmentRow).where(ThemeAssignmentRow.reference == reference)
                              .order_by(ThemeAssignmentRow.id))
        return [_record(row) for row in rows]
