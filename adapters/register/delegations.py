"""The delegations table inside a unit of work (``services.ports.Delegations``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.register.mapping import DelegationRow
from models.delegation import Delegation
from models.errors import NotFound, Refused


def _record(row: DelegationRow) -> Delegation:
    return Delegation(row.role, row.delegate, row.starts_on, row.ends_on, row.reason, row.recorded_by, row.id,
                      cancelled_by=row.cancelled_by)


class SqlDelegations:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, delegation: Delegation, now: datetime) -> int:
        row = DelegationRow(role=delegation.role, delegate=delegation.delegate, starts_on=delegation.starts_on,
                            ends_on=delegation.ends_on, reason=delegation.reason, recorded_by=delegation.recorded_by,
                            recorded_at=now, cancelled_by="")
        self.s.add(row)
        self.s.flush()
        return row.id

    def current(self, since: date) -> list[Delegation]:
        """The delegations not cancelled that have not ended before ``since``, by role and first day."""
        rows = self.s.scalars(select(DelegationRow).where(DelegationRow.ends_on >= since,
                                                          DelegationRow.cancelled_at.is_(None))
                              .order_by(DelegationRow.role, DelegationRow.starts_on))
        return [_record(row) for row in rows]

    def every(self) -> list[Delegation]:
        """Every delegation ever recorded, cancelled ones too, the newest first."""
        return [_record(row) for row in self.s.scalars(select(DelegationRow).order_by(DelegationRow.id.desc()))]

    def cancel(self, delegation_id: int, by: str, now: datetime) -> Delegation:
        row = self.s.get(DelegationRow, delegation_id, with_for_update=True)
        if row is None:
            raise NotFound(f"No delegation {delegation_id}.")
        if row.cancelled_at is not None:
            raise Refused(f"Delegation {delegation_id} was cancelled already, by {row.cancelled_by}.")
        row.cancelled_by, row.cancelled_at = by, now
        return _record(row)
