"""The meetings table inside a unit of work (``services.ports.Meetings``).

Times are written in UTC and read back in Europe/London: SQLite keeps no offset, PostgreSQL keeps the instant.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.register.mapping import MeetingRow, ReviewRow, review_id
from models.errors import NotFound
from models.meetings import LONDON, Attendance, Meeting, MeetingKind


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _london(at: datetime) -> datetime:
    """A stored time (naive UTC from SQLite, aware from PostgreSQL) on the clocks in England."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(LONDON)


def _record(row: MeetingRow, reference: str) -> Meeting:
    return Meeting(reference, MeetingKind(row.kind), _london(row.starts_at), _london(row.ends_at), row.location,
                   tuple(row.invitees), row.scheduled_by, row.id, row.sequence, row.cancelled_by,
                   {role: Attendance(mark) for role, mark in (row.attendance or {}).items()}, row.outcome,
                   row.attendance_by)


class SqlMeetings:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _review_id(self, reference: str) -> int:
        return review_id(self.s, reference)

    def add(self, meeting: Meeting, now: datetime) -> int:
        row = MeetingRow(review_id=self._review_id(meeting.reference), kind=meeting.kind.value,
                         starts_at=_utc(meeting.starts_at), ends_at=_utc(meeting.ends_at), location=meeting.location,
                         invitees=list(meeting.invitees), sequence=meeting.sequence,
                         scheduled_by=meeting.scheduled_by, scheduled_at=_utc(now), cancelled_by="", attendance=None,
                         outcome="", attendance_by="")
        self.s.add(row)
        self.s.flush()
        return row.id

    def _row(self, reference: str, meeting_id: int, lock: bool) -> MeetingRow:
        stmt = select(MeetingRow).where(MeetingRow.id == meeting_id,
                                        MeetingRow.review_id == self._review_id(reference))
        row = self.s.scalar(stmt.with_for_update() if lock else stmt)
        if row is None:
            raise NotFound(f"Review {reference} has no meeting {meeting_id} (`lcspr meeting list {reference}`).")
        return row

    def get(self, reference: str, meeting_id: int, *, lock: bool = False) -> Meeting:
        return _record(self._row(reference, meeting_id, lock), reference)

    def save(self, meeting: Meeting, now: datetime) -> None:
        if meeting.id is None:
            raise ValueError("only a meeting the register holds can be saved")
        row = self._row(meeting.reference, meeting.id, lock=True)
        row.starts_at, row.ends_at, row.location = _utc(meeting.starts_at), _utc(meeting.ends_at), meeting.location
        row.sequence = meeting.sequence
        if meeting.cancelled_by and not row.cancelled_by:
            row.cancelled_by, row.cancelled_at = meeting.cancelled_by, _utc(now)
        if meeting.attendance_by:
            row.attendance = {role: mark.value for role, mark in meeting.attendance.items()}
            row.outcome, row.attendance_by, row.attendance_at = meeting.outcome, meeting.attendance_by, _utc(now)

    def of_review(self, reference: str) -> list[Meeting]:
        rows = self.s.scalars(select(MeetingRow).where(MeetingRow.review_id == self._review_id(reference))
                              .order_by(MeetingRow.starts_at, MeetingRow.id))
        return [_record(row, reference) for row in rows]

    def starting(self, start: datetime, end: datetime | None = None) -> list[Meeting]:
        stmt = (select(MeetingRow, ReviewRow.reference).join(ReviewRow, ReviewRow.id == MeetingRow.review_id)
                .where(MeetingRow.starts_at >= _utc(start), MeetingRow.cancelled_at.is_(None))
                .order_by(MeetingRow.starts_at, MeetingRow.id))
        if end is not None:
            stmt = stmt.where(MeetingRow.starts_at < _utc(end))
        return [_record(row, reference) for row, reference in self.s.execute(stmt)]
