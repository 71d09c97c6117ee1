"""The review repository: the register's rows for one review, read and written inside a unit of work.

Plain SQLAlchemy. Every write is idempotent by a key the database enforces (the reference,
agency + agency reference, review + decision key), and a lost race surfaces as
:class:`models.errors.Conflict`. After each change the projections (the review row's stage
and open step, clocks, agency requests, recommendations, actions) are rewritten in the same
transaction. Audit entries are added as the use case asks and sealed when its unit of work
commits (:meth:`SqlReviews.seal`): each entry's keyed hash then covers the decision appended with
it and the review row as the unit of work left it (``adapters/register/audit.py``), so no use case
has to remember anything for the seal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.register.audit import (
    LOGGED,
    REPROJECTED,
    SEALED,
    AuditKey,
    check_trail,
    row_state,
    seal_entries,
)
from adapters.register.mapping import (
    ActionRow,
    AgencyRequestRow,
    AuditEvent,
    ClockRow,
    Decision,
    Recommendation,
    ReferenceCounter,
    ReviewRow,
)
from models.errors import Conflict, NotFound
from models.lifecycle import LoggedDecision, OpenStep, Review
from models.records import (
    AuditCheck,
    AuditHead,
    AuditRecord,
    DecisionRecord,
    RunLink,
    StepProjection,
    StoredReview,
)
from models.referral import Referral
from models.steps import SPECS, StepKind
from models.workdays import WorkingCalendar

DETACHED = "flow_run_detached"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _json(value: Any) -> Any:
    return json.loads(_canonical(value))


def step_to_json(step: OpenStep) -> dict[str, Any]:
    return {"kind": step.kind.value, "key": step.key, "occurrence": step.occurrence, "attempt": step.attempt,
            "title": step.title, "asked_of": step.asked_of, "question": step.question,
            "opened_on": step.opened_on.isoformat(), "due": step.due.isoformat() if step.due else None,
            "clock_key": step.clock_key, "last_refusal": step.last_refusal}


def step_from_json(data: Mapping[str, Any]) -> OpenStep:
    kind = StepKind(data["kind"])
    return OpenStep(kind=kind, key=data["key"], occurrence=data["occurrence"], attempt=data["attempt"],
                    title=data["title"], asked_of=data["asked_of"], question=data["question"],
                    opened_on=date.fromisoformat(data["opened_on"]),
                    due=date.fromisoformat(data["due"]) if data["due"] else None, clock_key=data["clock_key"],
                    last_refusal=data["last_refusal"], input_model=SPECS[kind].input_model)


class SqlReviews:
    """The register's reviews in one session (see ``services.ports.Reviews``)."""

    def __init__(self, session: Session, key: AuditKey) -> None:
        self.s = session
        self.key = key
        # What this unit of work changed, for seal(): new audit entries and decisions, in order,
        # and the reviews whose rows it wrote.
        self._entries: list[AuditEvent] = []
        self._decisions: list[Decision] = []
        self._touched: dict[int, None] = {}

    # ------------------------------------------------------------------ reading

    def _row(self, reference: str, lock: bool = False) -> ReviewRow:
        stmt = select(ReviewRow).where(ReviewRow.reference == reference)
        if lock:
            stmt = stmt.with_for_update()
        row = self.s.scalars(stmt).first()
        if row is None:
            raise NotFound(f"No review with reference {reference}.")
        return row

    def _run_key(self, row: ReviewRow) -> str:
        last = self.s.scalars(select(AuditEvent).where(AuditEvent.review_id == row.id, AuditEvent.event == DETACHED)
                              .order_by(AuditEvent.seq.desc()).limit(1)).first()
        return f"{row.reference}:after:{last.detail['flow_run_id']}" if last else row.reference

    def _stored(self, row: ReviewRow) -> StoredReview:
        rows = self.s.scalars(select(Decision).where(Decision.review_id == row.id).order_by(Decision.seq))
        log = tuple(LoggedDecision(r.key, r.payload, r.accepted, r.reason) for r in rows)
        return StoredReview(row.reference, Referral.model_validate(row.referral), row.flow_run_id, log,
                            self._run_key(row))

    def get(self, reference: str, *, lock: bool = False) -> StoredReview:
        return self._stored(self._row(reference, lock))

    def find(self, agency: str, agency_reference: str) -> StoredReview | None:
        """The review of an agency's case. References are canonical (upper case) since the input
        boundary; comparing without case also finds a review registered before it, and agency
        names are compared without case ("Thames Valley Police" is "thames valley police")."""
        row = self.s.scalars(select(ReviewRow).where(
            func.lower(ReviewRow.referring_agency) == agency.lower(),
            func.upper(ReviewRow.agency_reference) == agency_reference.upper())).first()
        return self._stored(row) if row else None

    def projected_step(self, reference: str) -> StepProjection:
        row = self._row(reference)
        if row.stage == "closed":
            return StepProjection(True, None)
        return StepProjection(False, step_from_json(row.open_step) if row.open_step else None)

    def decision(self, reference: str, key: str) -> DecisionRecord | None:
        row = self._row(reference)
        found = self.s.scalars(select(Decision).where(Decision.review_id == row.id, Decision.key == key)).first()
        return _decision(found) if found else None

    def decisions(self, reference: str) -> list[DecisionRecord]:
        row = self._row(reference)
        return [_decision(d) for d in self.s.scalars(
            select(Decision).where(Decision.review_id == row.id).order_by(Decision.seq))]

    def run_links(self, include_closed: bool = False) -> list[RunLink]:
        """Every review's open step and flow run, from the projection (no replay)."""
        stmt = select(ReviewRow).order_by(ReviewRow.id)
        if not include_closed:
            stmt = stmt.where(ReviewRow.stage != "closed")
        return [RunLink(r.reference, r.open_step_key, r.flow_run_id, dict(r.referral), self._run_key(r))
                for r in self.s.scalars(stmt)]

    def with_running_clocks(self) -> list[str]:
        stmt = (select(ReviewRow.reference).join(ClockRow, ClockRow.review_id == ReviewRow.id)
                .where(ClockRow.state.in_(("running", "paused"))).distinct().order_by(ReviewRow.reference))
        return list(self.s.scalars(stmt))

    def audit_trail(self, reference: str) -> list[AuditRecord]:
        row = self._row(reference)
        return [AuditRecord(e.seq, e.at, e.actor, e.event, e.detail) for e in self._events(row.id)]

    def _events(self, review_id: int) -> list[AuditEvent]:
        return list(self.s.scalars(select(AuditEvent).where(AuditEvent.review_id == review_id)
                                   .order_by(AuditEvent.seq)))

    def verify_audit(self, reference: str, expected: AuditHead | None = None) -> AuditCheck:
        row = self._row(reference)
        events = self._events(row.id)
        if self.key.value is None:
            return AuditCheck(reference, len(events), (
                f"cannot be checked: the audit key file {self.key.path} is missing (restore it from its backup)",))
        decisions = list(self.s.scalars(select(Decision).where(Decision.review_id == row.id).order_by(Decision.seq)))
        return check_trail(self.key.value, row, events, decisions, expected)

    def audit_heads(self) -> list[AuditHead]:
        heads = []
        for row in self.s.scalars(select(ReviewRow).order_by(ReviewRow.id)):
            last = self.s.scalars(select(AuditEvent).where(AuditEvent.review_id == row.id)
                                  .order_by(AuditEvent.seq.desc()).limit(1)).first()
            if last is not None:
                heads.append(AuditHead(row.reference, last.seq, last.hash))
        return heads

    # ------------------------------------------------------------------ writing

    def next_number(self, year: int) -> int:
        counter = self.s.get(ReferenceCounter, year, with_for_update=True)
        if counter is None:
            counter = ReferenceCounter(year=year, last=0)
            self.s.add(counter)
        counter.last += 1
        return counter.last

    def add(self, reference: str, referral: Referral, now: datetime) -> None:
        self.s.add(ReviewRow(
            reference=reference, referring_agency=referral.referring_agency,
            agency_reference=referral.agency_reference, pseudonym=referral.child_pseudonym,
            referral=referral.model_dump(mode="json"), stage="referred", created_at=now, updated_at=now, version=0,
        ))
        try:
            self.s.flush()
        except IntegrityError:
            raise Conflict(f"{referral.referring_agency} {referral.agency_reference} was registered at the same "
                           "moment by another caller.") from None
        self._touch(self._row(reference))

    def set_flow_run(self, reference: str, flow_run_id: str | None) -> None:
        row = self._row(reference, lock=True)
        row.flow_run_id = flow_run_id
        self._touch(row)

    def append(self, reference: str, key: str, payload: Mapping[str, Any], accepted: bool, reason: str,
               step: OpenStep | None, now: datetime) -> None:
        row = self._row(reference)
        seq = (self.s.scalar(select(func.max(Decision.seq)).where(Decision.review_id == row.id)) or 0) + 1
        decided_on = payload.get("decided_on") or payload.get("on")
        try:
            decided = date.fromisoformat(str(decided_on)) if decided_on else None
        except ValueError:  # a refused answer may carry an unreadable date; log it anyway
            decided = None
        decision = Decision(
            review_id=row.id, seq=seq, key=key, step=step.kind.value if step else "clock",
            payload=_json(dict(payload)), accepted=accepted, reason=reason,
            decided_by=str(payload.get("decided_by") or payload.get("by") or "")[:80],
            asked_of=step.asked_of[:400] if step else "", recorded_at=now, decided_on=decided,
        )
        self.s.add(decision)
        self._decisions.append(decision)
        self._touch(row)

    def audit(self, reference: str, now: datetime, actor: str, event: str, detail: Mapping[str, Any]) -> None:
        """Add an entry; its hash is made when the unit of work commits (``seal``)."""
        row = self._row(reference)
        self._add_entry(row, now, actor, event, detail)

    def _add_entry(self, row: ReviewRow, now: datetime, actor: str, event: str,
                   detail: Mapping[str, Any]) -> AuditEvent:
        self.s.flush()
        last = self.s.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.review_id == row.id)) or 0
        # Stored as hashed, in UTC.
        at = now.astimezone(UTC) if now.tzinfo is not None else now
        entry = AuditEvent(review_id=row.id, seq=last + 1, at=at, actor=actor[:80], event=event,
                           detail=_json(dict(detail)), prev_hash="", hash="")
        self.s.add(entry)
        self._entries.append(entry)
        self._touch(row)
        return entry

    def _touch(self, row: ReviewRow) -> None:
        self._touched[row.id] = None

    def seal(self) -> None:
        """Seal this unit of work's audit entries, just before it commits.

        Each review it wrote gets its new entries chained and hashed under the audit key, over
        the decisions appended with them and the review row as it now stands, and its keyed head
        moved to the newest. A decision appended without an entry gets one (``decision_logged``),
        and a row re-projected to another state without one gets ``review_reprojected``, so the
        trail covers every change made through the register. ConfigurationError if the key is missing.
        """
        if not self._touched:
            return
        self.s.flush()
        for review_id in list(self._touched):
            row = self.s.get(ReviewRow, review_id)
            assert row is not None  # touched in this unit of work
            entries = [e for e in self._entries if e.review_id == review_id]
            decisions = [d for d in self._decisions if d.review_id == review_id]
            if not entries and decisions:
                d = decisions[0]
                entries.append(self._add_entry(row, d.recorded_at, d.decided_by or "system", LOGGED,
                                               {"keys": [x.key for x in decisions]}))
            if not entries:
                last = self._last_entry(review_id)
                recorded = last.review_state if last is not None else None
                state = row_state(row)
                changed = [f for f in state if recorded is None or recorded.get(f) != state[f]]
                if not changed:
                    continue
                entries.append(self._add_entry(row, row.updated_at, "system", REPROJECTED, {"fields": changed}))
            key = self.key.require()
            self.s.flush()
            before = self._last_entry(review_id, below=entries[0].seq)
            seal_entries(key, row, before.hash if before is not None else "", entries, decisions)
        self._entries.clear()
        self._decisions.clear()
        self._touched.clear()
        self.s.flush()

    def seal_legacy(self, now: datetime) -> int:
        """Seal, under the new audit key, every review whose trail has no keyed entry yet (written
        before keyed hashes), with one ``audit_sealed`` entry bearing its decisions so far. Done
        once, when the register creates its key; the number of reviews sealed."""
        rows = list(self.s.scalars(select(ReviewRow).where(ReviewRow.audit_head_mac.is_(None))
                                   .order_by(ReviewRow.id).with_for_update()))
        for row in rows:
            legacy = len(self._events(row.id))
            self._decisions += list(self.s.scalars(select(Decision).where(Decision.review_id == row.id)
                                                   .order_by(Decision.seq)))
            self._add_entry(row, now, "system", SEALED, {
                "legacy_entries": legacy,
                "note": "entries before this one were written before keyed hashes; sealed under the audit key"})
        return len(rows)

    def _last_entry(self, review_id: int, below: int | None = None) -> AuditEvent | None:
        stmt = select(AuditEvent).where(AuditEvent.review_id == review_id)
        if below is not None:
            stmt = stmt.where(AuditEvent.seq < below)
        return self.s.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(1)).first()

    def project(self, reference: str, review: Review, step: OpenStep | None, calendar: WorkingCalendar,
                now: datetime) -> None:
        """Write the review's projections so queries see what the log says."""
        row = self._row(reference)
        row.stage = review.stage.value
        row.route = review.route.value if review.route else None
        row.open_step_key = step.key if step else None
        row.open_step_due = step.due if step else None
        row.open_step = step_to_json(step) if step else None
        row.closed_on = review.closed_on
        row.updated_at = now
        row.version = (row.version or 0) + 1
        self._touch(row)
        _sync(self.s, ClockRow, row.id, "key", [
            {"key": c.key, "kind": c.kind.value, "subject": c.subject, "owner_role": c.owner_role,
             "start": c.start, "rule_unit": c.rule.unit.value, "rule_length": c.rule.length,
             "due": c.due(calendar), "met_on": c.met_on, "stopped_on": c.stopped_on,
             "state": ("met" if c.met_on else "stopped" if c.stopped_on else "paused" if c.is_paused else "running"),
             "pauses": _json([p.__dict__ for p in c.pauses]),
             "extensions": _json([e.__dict__ for e in c.extensions])}
            for c in review.clocks])
        _sync(self.s, AgencyRequestRow, row.id, "agency", [
            {"agency": a.agency, "requested_on": a.requested_on, "received_on": a.received_on,
             "author_independent": a.author_independent} for a in review.agencies])
        _sync(self.s, Recommendation, row.id, "number", [
            {"number": i, "text": t} for i, t in enumerate(review.recommendations, start=1)])
        _sync(self.s, ActionRow, row.id, "number", [
            {"number": a.number, "recommendation_number": a.recommendation_number, "owner_agency": a.owner_agency,
             "description": a.description, "due_on": a.due_on, "completed_on": a.completed_on,
             "evidence": a.evidence} for a in review.actions])


def _decision(d: Decision) -> DecisionRecord:
    return DecisionRecord(d.seq, d.key, d.step, dict(d.payload), d.accepted, d.reason, d.decided_by, d.decided_on,
                          d.recorded_at)


def _sync(s: Session, model: Any, review_id: int, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
    existing = {getattr(r, key): r for r in s.scalars(select(model).where(model.review_id == review_id))}
    for values in rows:
        current = existing.pop(values[key], None)
        if current is None:
            s.add(model(review_id=review_id, **values))
        else:
            for name, value in values.items():
                if getattr(current, name) != value:
                    setattr(current, name, value)
    for stale in existing.values():
        s.delete(stale)
