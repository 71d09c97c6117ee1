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
from typing import Any, cast

from sqlalchemy import CursorResult, FromClause, func, or_, select, update
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
from models.clocks import Clock, ClockKind, ClockRule, Extension, Pause, RuleUnit
from models.errors import Conflict, NotFound
from models.lifecycle import Action, AgencyRequest, LoggedDecision, OpenStep, Policy, Review, Route, Stage
from models.records import (
    AuditCheck,
    AuditHead,
    AuditRecord,
    DecisionRecord,
    DueClock,
    ReviewView,
    RunLink,
    RunPointer,
    StepProjection,
    StoredReview,
)
from models.referral import Referral
from models.steps import SPECS, StepKind

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

    def referral(self, reference: str) -> Referral:
        row = self.s.execute(select(ReviewRow.referral).where(ReviewRow.reference == reference)).first()
        if row is None:
            self._row(reference)  # raises NotFound with the register's words
        assert row is not None
        return Referral.model_validate(row[0])

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

    def run_links(self, references: Sequence[str] | None = None, include_closed: bool = False) -> list[RunLink]:
        """The open step and flow run of the reviews named (``lcspr status``: one), or of every open one, or
        of every one, from the projection (no replay)."""
        stmt = select(ReviewRow).order_by(ReviewRow.id)
        if references is not None:
            stmt = stmt.where(ReviewRow.reference.in_(list(references)))
        if not include_closed:
            stmt = stmt.where(ReviewRow.stage != "closed")
        rows = list(self.s.scalars(stmt))
        # The run each review let go of last (rare): one query for all, not one a review.
        events = select(AuditEvent).where(AuditEvent.event == DETACHED).order_by(AuditEvent.seq)
        if references is not None:
            events = events.where(AuditEvent.review_id.in_([r.id for r in rows]))
        detached: dict[int, str] = {}
        for event in self.s.scalars(events):
            detached[event.review_id] = event.detail["flow_run_id"]
        return [RunLink(r.reference, r.open_step_key, r.flow_run_id, dict(r.referral),
                        f"{r.reference}:after:{detached[r.id]}" if r.id in detached else r.reference, r.run_waits_on)
                for r in rows]

    def soonest_due(self, limit: int, include_closed: bool = False) -> list[str]:
        """The ``limit`` reviews whose open step is due soonest (those with no due date after, then closed
        ones), in that order, the register's order among equals: one sorted query, whatever the size."""
        reviews = ReviewRow.__table__
        stmt = (select(reviews.c.reference)
                .order_by(reviews.c.open_step_due.is_(None), reviews.c.open_step_due, reviews.c.id).limit(limit))
        if not include_closed:
            stmt = stmt.where(reviews.c.stage != "closed")
        return list(self.s.scalars(stmt))

    def count(self, include_closed: bool = False) -> int:
        """How many reviews are open (or how many there are)."""
        stmt = select(func.count()).select_from(ReviewRow.__table__)
        if not include_closed:
            stmt = stmt.where(ReviewRow.__table__.c.stage != "closed")
        return int(self.s.scalar(stmt) or 0)

    def run_pointers(self, references: Sequence[str] | None = None,
                     include_closed: bool = False) -> list[RunPointer]:
        """The open step and flow run of the reviews named, or of every open one, or of every one: three
        plain columns, no referral (``lcspr list`` judges every open review's run)."""
        reviews = ReviewRow.__table__
        stmt = select(reviews.c.reference, reviews.c.open_step_key, reviews.c.flow_run_id,
                      reviews.c.run_waits_on).order_by(reviews.c.id)
        if references is not None:
            stmt = stmt.where(reviews.c.reference.in_(list(references)))
        if not include_closed:
            stmt = stmt.where(reviews.c.stage != "closed")
        return [RunPointer(*row) for row in self.s.execute(stmt)]

    def views(self, references: Sequence[str] | None = None, include_closed: bool = False,
              counting_only: bool = False) -> list[ReviewView]:
        """Each review (those named, or every open one, or every one) as its projections hold it, in the
        register's order: a few queries over plain columns, whatever the number of reviews, and no replay.

        ``counting_only``: only the clocks still counting (running or paused), the few a list needs of the
        many a long review has met. Not checked against the policy in force: the caller compares
        ``projected_with``."""
        reviews = ReviewRow.__table__
        where: list[Any] = []
        if references is not None:
            where.append(reviews.c.reference.in_(list(references)))
        if not include_closed:
            where.append(reviews.c.stage != "closed")
        heads = self.s.execute(select(
            reviews.c.id, reviews.c.reference, reviews.c.pseudonym, reviews.c.stage, reviews.c.route,
            reviews.c.open_step, reviews.c.closed_on, reviews.c.flow_run_id, reviews.c.projected_with,
        ).where(*where).order_by(reviews.c.id)).all()
        if not heads:
            return []
        ids = [h.id for h in heads]

        def children(table: FromClause, order: str) -> dict[int, list[Any]]:
            stmt = select(table).order_by(table.c.review_id, table.c[order])
            if counting_only and table is ClockRow.__table__:
                stmt = stmt.where(table.c.state.in_(("running", "paused")))
            if references is not None:
                stmt = stmt.where(table.c.review_id.in_(ids))
            elif where:
                stmt = stmt.join(reviews, reviews.c.id == table.c.review_id).where(*where)
            found: dict[int, list[Any]] = {i: [] for i in ids}
            for r in self.s.execute(stmt):
                found[r.review_id].append(r)
            return found

        clocks = {i: tuple(map(_clock, rows)) for i, rows in children(ClockRow.__table__, "id").items()}
        agencies = {i: tuple(map(_agency, rows)) for i, rows in children(AgencyRequestRow.__table__, "id").items()}
        recommendations = {i: tuple(r.text for r in rows)
                           for i, rows in children(Recommendation.__table__, "number").items()}
        actions = {i: tuple(map(_action, rows)) for i, rows in children(ActionRow.__table__, "number").items()}
        return [ReviewView(h.reference, h.pseudonym, Stage(h.stage), Route(h.route) if h.route else None,
                           step_from_json(h.open_step) if h.open_step else None, clocks[h.id],
                           agencies[h.id], recommendations[h.id], actions[h.id], h.closed_on,
                           h.flow_run_id, h.projected_with or "")
                for h in heads]

    def clocks_due_by(self, last_due: date, fingerprint: str) -> list[DueClock]:
        """Every running clock (not paused, met or stopped) due on or before ``last_due``, of the reviews
        projected under ``fingerprint``: one indexed query (``ix_clocks_open_due``), in the register's order.

        Only the columns a reminder needs: the due date is the projected one, derived under that policy, so
        the pauses and extensions it came from are not read (nor their JSON parsed) and no clock is rebuilt."""
        clocks, reviews = ClockRow.__table__, ReviewRow.__table__
        stmt = (select(reviews.c.reference, reviews.c.flow_run_id, clocks.c.key, clocks.c.kind, clocks.c.subject,
                       clocks.c.owner_role, clocks.c.rule_unit, clocks.c.rule_length, clocks.c.due)
                .join(reviews, reviews.c.id == clocks.c.review_id)
                .where(clocks.c.state == "running", clocks.c.due <= last_due, reviews.c.projected_with == fingerprint)
                # "+ 0": no index gives this order, so SQLite's planner takes the clocks from ix_clocks_open_due
                # (the few due by then) rather than walking every clock of every review in review order.
                .order_by(clocks.c.review_id + 0, clocks.c.id))
        kinds: dict[str, ClockKind] = {}
        rules: dict[tuple[str, int], ClockRule] = {}
        found = []
        for reference, flow_run_id, key, kind, subject, owner_role, unit, length, due in self.s.execute(stmt):
            # Many clocks share a kind and a rule: each is made once.
            if (clock_kind := kinds.get(kind)) is None:
                clock_kind = kinds[kind] = ClockKind(kind)
            if (rule := rules.get((unit, length))) is None:
                rule = rules[unit, length] = ClockRule(RuleUnit(unit), length)
            found.append(DueClock(reference, flow_run_id, key, clock_kind, subject, owner_role, rule, due))
        return found

    def projected_otherwise(self, fingerprint: str) -> list[str]:
        """The reviews whose projections were not derived under ``fingerprint`` (another policy, an older
        release, or none yet), in the register's order."""
        stmt = (select(ReviewRow.reference).where(or_(ReviewRow.projected_with.is_(None),
                                                      ReviewRow.projected_with != fingerprint))
                .order_by(ReviewRow.id))
        return list(self.s.scalars(stmt))

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
            agency_reference=referral.agency_reference, pseudonym=referral.pseudonym,
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
        if row.flow_run_id != flow_run_id:
            row.run_waits_on = None  # what the last run said is not this one's word
        row.flow_run_id = flow_run_id
        self._touch(row)

    def note_wait(self, reference: str, flow_run_id: str, step_key: str, *, if_open: str | None = None) -> bool:
        """Note that the review's run ``flow_run_id`` suspends on ``step_key`` (if it is still the review's run,
        and, given ``if_open``, the open step is still that one); True if that changed the row. One
        conditional update: a run on another review, or a note already there, writes nothing."""
        stmt = update(ReviewRow).where(ReviewRow.reference == reference, ReviewRow.flow_run_id == flow_run_id,
                                       or_(ReviewRow.run_waits_on.is_(None), ReviewRow.run_waits_on != step_key))
        if if_open is not None:
            stmt = stmt.where(ReviewRow.open_step_key == if_open)
        done = cast(CursorResult[Any], self.s.execute(stmt.values(run_waits_on=step_key),
                                                      execution_options={"synchronize_session": False}))
        return done.rowcount > 0

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

    def project(self, reference: str, review: Review, step: OpenStep | None, policy: Policy,
                now: datetime) -> None:
        """Write the review's projections so queries see what the log says, under ``policy``."""
        calendar = policy.calendar
        row = self._row(reference)
        row.projected_with = policy.fingerprint
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
             "evidence": a.evidence, "kind": a.kind, "agreed_on": a.agreed_on} for a in review.actions])


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _clock(r: Any) -> Clock:
    """A clock's value from its projected row (pauses and extensions as ``project`` wrote them)."""
    return Clock(
        kind=ClockKind(r.kind), start=r.start, rule=ClockRule(RuleUnit(r.rule_unit), r.rule_length),
        subject=r.subject, owner_role=r.owner_role,
        pauses=tuple(Pause(date.fromisoformat(p["start"]), p["reason"], p["by"], _date(p["end"])) for p in r.pauses),
        extensions=tuple(Extension(date.fromisoformat(e["new_due"]), e["reason"], e["by"], date.fromisoformat(e["on"]))
                         for e in r.extensions),
        met_on=r.met_on, stopped_on=r.stopped_on)


def _agency(r: Any) -> AgencyRequest:
    return AgencyRequest(r.agency, r.requested_on, r.received_on, r.author_independent)


def _action(r: Any) -> Action:
    return Action(r.number, r.recommendation_number, r.owner_agency, r.description, r.due_on, r.completed_on,
                  r.evidence, r.kind, r.agreed_on)


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
