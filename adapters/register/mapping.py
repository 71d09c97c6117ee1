"""The case register's SQLAlchemy mapping: the system of record for every review.

An adapter: the domain under ``models/`` never imports it. The decision log
(``Decision``) is the truth a review is rebuilt from; ``Clock``,
``AgencyRequestRow``, ``Recommendation`` and ``ActionRow`` are projections of it kept
for queries (the sweep, status, reports). ``AuditEvent`` is append-only and chained per
review by keyed hashes over each event, the decision it bears and the review row it
produced. ``OutboxMessage`` holds every message to send, one row per recipient role under
a unique idempotency key.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from models.errors import NotFound


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ReviewRow(Base):
    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("referring_agency", "agency_reference", name="uq_reviews_agency_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    referring_agency: Mapped[str] = mapped_column(String(80))
    agency_reference: Mapped[str] = mapped_column(String(40))
    pseudonym: Mapped[str] = mapped_column(String(30))
    referral: Mapped[dict[str, Any]] = mapped_column(JSON)
    stage: Mapped[str] = mapped_column(String(40), index=True)
    route: Mapped[str | None] = mapped_column(String(40))
    open_step_key: Mapped[str | None] = mapped_column(String(60))
    open_step_due: Mapped[date | None] = mapped_column(Date)
    # The open step as the domain derived it at the last change, so reading what a review waits
    # on (every time its run resumes) needs no replay. NULL on a closed review.
    open_step: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flow_run_id: Mapped[str | None] = mapped_column(String(40))
    # The step key that run said it suspends on, just before it did (or that a reconcile saw it paused on):
    # with Prefect's count of the runs paused, `lcspr list` knows every run waits where it should in one
    # call (migration 0006). NULL until the run says so, and again whenever another run drives the review.
    run_waits_on: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The keyed head of the review's audit trail (migration 0003): its newest entry's seq, and an
    # HMAC under the audit key over (reference, seq, that entry's hash), so removing the newest
    # entries shows. NULL until the trail's first keyed entry.
    audit_head_seq: Mapped[int | None] = mapped_column(Integer)
    audit_head_mac: Mapped[str | None] = mapped_column(String(64))
    # ``Policy.fingerprint`` of the policy the row and its clocks were last projected under (migration
    # 0005); NULL before. A review projected under another policy is replayed, not read, until reprojected.
    projected_with: Mapped[str | None] = mapped_column(String(64))


class ReferenceCounter(Base):
    """The last review number issued in a year (references are LCSPR-2026-0001, ...)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Decision(Base):
    """One answer to a step (accepted or refused) or one clock adjustment, in order."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("review_id", "key", name="uq_decisions_review_key"),
        UniqueConstraint("review_id", "seq", name="uq_decisions_review_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(60))
    step: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(80), default="")
    asked_of: Mapped[str] = mapped_column(String(400), default="")
    decided_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClockRow(Base):
    __tablename__ = "clocks"
    __table_args__ = (
        UniqueConstraint("review_id", "key", name="uq_clocks_review_key"),
        Index("ix_clocks_open_due", "state", "due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80), default="")
    owner_role: Mapped[str] = mapped_column(String(120), default="")
    start: Mapped[date] = mapped_column(Date)
    rule_unit: Mapped[str] = mapped_column(String(30))
    rule_length: Mapped[int] = mapped_column(Integer)
    due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20))  # running, paused, met, stopped (breached is derived from today)
    met_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    pauses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    extensions: Mapped[list[Any]] = mapped_column(JSON, default=list)


class AgencyRequestRow(Base):
    __tablename__ = "agency_requests"
    __table_args__ = (UniqueConstraint("review_id", "agency", name="uq_agency_requests_review_agency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    agency: Mapped[str] = mapped_column(String(80))
    requested_on: Mapped[date] = mapped_column(Date)
    received_on: Mapped[date | None] = mapped_column(Date)
    author_independent: Mapped[bool | None] = mapped_column(Boolean)


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (UniqueConstraint("review_id", "number", name="uq_recommendations_review_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class ActionRow(Base):
    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("review_id", "number", name="uq_actions_review_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    recommendation_number: Mapped[int] = mapped_column(Integer)
    owner_agency: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="plan", server_default="plan")
    agreed_on: Mapped[date | None] = mapped_column(Date)


class AuditEvent(Base):
    """Append-only; ``hash`` = HMAC-SHA256 under the audit key (kept outside the register) of
    prev_hash + the canonical JSON of the event, the decisions it bears and the review row's state
    it produced (``adapters/register/audit.py``). Entries written before migration 0003 have
    ``review_state`` NULL and the older unkeyed sha256(prev_hash + the event)."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("review_id", "seq", name="uq_audit_review_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))
    event: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # What the keyed hash also covers (migration 0003): each decision row the entry bears, as
    # {seq, key, digest of the whole row}, and the review row's state once the entry's change was made.
    decisions: Mapped[list[Any] | None] = mapped_column(JSON)
    review_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxMessage(Base):
    """A message to one recipient role, sent at most once per ``key``."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    # None for a daily digest, which lists reminders of several reviews (migration 0012).
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    # The iCalendar attachment (.ics text) of a step-opened email whose step has a due date (migration 0004).
    ics: Mapped[str | None] = mapped_column(Text)
    # pending (to send), held (a reminder waiting for its role's daily digest), sent
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str] = mapped_column(String(80), default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Migration 0012. A held reminder's line in its role's digest (``models.digest.DigestItem.as_record``),
    # and the key of the digest that carries it once one does.
    digest_item: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    digest_key: Mapped[str | None] = mapped_column(String(300), index=True)
    # Where it went when not to its role's own addresses (``models.records.OutboxEntry.sent_to``).
    sent_to: Mapped[str] = mapped_column(String(254), default="")


class DelegationRow(Base):
    """A role's messages sent to a delegate's address from one day to another (migration 0007); kept after it
    ends, and when cancelled (who and when), as the record of where a role's messages went."""

    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_role_days", "role", "ends_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(120))
    delegate: Mapped[str] = mapped_column(String(254))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str] = mapped_column(String(200), default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MeetingRow(Base):
    """A meeting or event of a review (migration 0010): scheduled, moved (``sequence`` one more each time),
    cancelled (who and when) or held (attendance by role, outcome, who recorded them and when). Times in UTC."""

    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_review", "review_id"), Index("ix_meetings_starts_at", "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    kind: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[str] = mapped_column(String(200))
    invitees: Mapped[list[Any]] = mapped_column(JSON)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_by: Mapped[str] = mapped_column(String(200))
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str] = mapped_column(String(200), default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attendance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(Text, default="")
    attendance_by: Mapped[str] = mapped_column(String(200), default="")
    attendance_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QualityAssessmentRow(Base):
    """One quality marker of a review rated on a day, with a note and who assessed it (migration 0011).
    Append-only: a later assessment of the marker supersedes this one, which stays as its history."""

    __tablename__ = "quality_assessments"
    __table_args__ = (Index("ix_quality_assessments_review_marker", "review_id", "marker"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    marker: Mapped[str] = mapped_column(String(40))
    rating: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text)
    assessed_by: Mapped[str] = mapped_column(String(200))
    assessed_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ThemeAssignmentRow(Base):
    """A theme of the partnership's list, or a free tag, given to one recommendation of a review (migration 0013,
    ``models.themes``). Rows are never deleted: a removal sets who removed it and when, so the register says what
    a recommendation was filed under on any day. One standing row per recommendation and theme (or tag)."""

    __tablename__ = "theme_assignments"
    __table_args__ = (
        Index("uq_theme_assignments_standing", "reference", "recommendation", "kind", "value", unique=True,
              sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), ForeignKey("reviews.reference"), index=True)
    recommendation: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(60))
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[str] = mapped_column(String(200), default="")
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def review_id(session: Session, reference: str) -> int:
    """The register's row id of the review ``reference`` (NotFound if there is none): what the tables beside
    the review (meetings, quality assessments) point to."""
    found = session.scalar(select(ReviewRow.id).where(ReviewRow.reference == reference))
    if found is None:
        raise NotFound(f"No review with reference {reference}.")
    return found
