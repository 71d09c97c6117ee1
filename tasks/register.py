"""The case register: reads and writes of reviews, in one unit of work each.

Plain Python over SQLAlchemy (no Prefect), so the CLI, the flows' tasks and the tests
share it. Every write is idempotent by a key the register enforces with a unique
constraint, so a retry, a replayed flow or two callers at once change nothing twice.
A review is rebuilt from its decision log with ``models.lifecycle.replay``; after each
change the projections (clocks, agency requests, recommendations, actions) and the
audit trail are written in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lcspr.settings import Settings
from models.errors import IdentifierFound, NotFound, Refused
from models.lifecycle import (
    ClockAdjustment,
    LoggedDecision,
    OpenStep,
    Policy,
    Review,
    adjust_clock,
    apply_decision,
    check_decision,
    open_review,
    open_step,
    parse_input,
    refuse,
    replay,
)
from models.referral import Referral, check_referral
from models.register import (
    ActionRow,
    AgencyRequestRow,
    AuditEvent,
    ClockRow,
    Decision,
    Recommendation,
    ReferenceCounter,
    ReviewRow,
)
from models.steps import parse_step_key

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"

_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine per URL per process. SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE
    so concurrent writers queue instead of failing with 'database is locked'."""
    with _lock:
        if url in _engines:
            return _engines[url]
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
        return engine


def migrate(url: str) -> None:
    """Bring the register's schema to the newest Alembic revision (creates it on first run)."""
    if url in _migrated:
        return
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine_for(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _migrated.add(url)


@dataclass(frozen=True)
class Referred:
    reference: str
    created: bool
    flow_run_id: str | None


@dataclass(frozen=True)
class RunLink:
    """An open review as the projection has it: its open step and the flow run that drives it."""

    reference: str
    open_step_key: str | None
    flow_run_id: str | None
    referral: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What happened to an answer: accepted (the review moved on) or refused with a reason."""

    key: str
    accepted: bool
    reason: str
    next_step: str | None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _json(value: Any) -> Any:
    return json.loads(_canonical(value))


class Register:
    """The case register at one database URL, judged with one policy."""

    def __init__(self, url: str, policy: Policy, reference_prefix: str = "LCSPR") -> None:
        self.url = url
        self.policy = policy
        self.reference_prefix = reference_prefix
        migrate(url)
        self._sessions = sessionmaker(engine_for(url), expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A transaction: committed if the block succeeds, rolled back otherwise."""
        with self._sessions() as session, session.begin():
            yield session

    # ------------------------------------------------------------------ reading

    def _row(self, session: Session, reference: str, lock: bool = False) -> ReviewRow:
        stmt = select(ReviewRow).where(ReviewRow.reference == reference)
        if lock:
            stmt = stmt.with_for_update()
        row = session.scalars(stmt).first()
        if row is None:
            raise NotFound(f"No review with reference {reference}.")
        return row

    def _log(self, session: Session, review_id: int) -> list[LoggedDecision]:
        rows = session.scalars(select(Decision).where(Decision.review_id == review_id).order_by(Decision.seq))
        return [LoggedDecision(r.key, r.payload, r.accepted, r.reason) for r in rows]

    def _replay(self, session: Session, row: ReviewRow) -> Review:
        referral = Referral.model_validate(row.referral)
        return replay(row.reference, referral, self._log(session, row.id), self.policy)

    def load(self, reference: str) -> Review:
        with self.unit_of_work() as s:
            return self._replay(s, self._row(s, reference))

    def open_step(self, reference: str) -> OpenStep | None:
        return open_step(self.load(reference), self.policy)

    def flow_run_id(self, reference: str) -> str | None:
        with self.unit_of_work() as s:
            return self._row(s, reference).flow_run_id

    def find_by_agency_reference(self, agency: str, agency_reference: str) -> str | None:
        with self.unit_of_work() as s:
            row = s.scalars(select(ReviewRow).where(
                ReviewRow.referring_agency == agency, ReviewRow.agency_reference == agency_reference)).first()
            return row.reference if row else None

    def references(self, include_closed: bool = False) -> list[str]:
        with self.unit_of_work() as s:
            stmt = select(ReviewRow.reference).order_by(ReviewRow.id)
            if not include_closed:
                stmt = stmt.where(ReviewRow.stage != "closed")
            return list(s.scalars(stmt))

    def run_links(self, include_closed: bool = False) -> list[RunLink]:
        """Every review's open step and flow run, from the projection (no replay)."""
        with self.unit_of_work() as s:
            stmt = select(ReviewRow).order_by(ReviewRow.id)
            if not include_closed:
                stmt = stmt.where(ReviewRow.stage != "closed")
            return [RunLink(r.reference, r.open_step_key, r.flow_run_id, dict(r.referral)) for r in s.scalars(stmt)]

    def decisions(self, reference: str) -> list[Decision]:
        with self.unit_of_work() as s:
            row = self._row(s, reference)
            return list(s.scalars(select(Decision).where(Decision.review_id == row.id).order_by(Decision.seq)))

    def audit_trail(self, reference: str) -> list[AuditEvent]:
        with self.unit_of_work() as s:
            row = self._row(s, reference)
            return list(s.scalars(select(AuditEvent).where(AuditEvent.review_id == row.id).order_by(AuditEvent.seq)))

    def verify_audit(self, reference: str) -> list[str]:
        """Problems found in the review's hash chain ([] when it is intact)."""
        problems: list[str] = []
        prev = ""
        for e in self.audit_trail(reference):
            expected = _chain_hash(prev, e.seq, e.at, e.actor, e.event, e.detail)
            if e.prev_hash != prev or e.hash != expected:
                problems.append(f"audit event {e.seq} ({e.event}) does not match the chain")
            prev = e.hash
        return problems

    # ------------------------------------------------------------------ writing

    def refer(self, referral: Referral, today: date, now: datetime) -> Referred:
        """Register a referral, or return the review it already opened (same agency + reference)."""
        check_referral(referral, today)
        existing = self._existing(referral)
        if existing:
            return existing
        try:
            with self.unit_of_work() as s:
                year = today.year
                counter = s.get(ReferenceCounter, year, with_for_update=True)
                if counter is None:
                    counter = ReferenceCounter(year=year, last=0)
                    s.add(counter)
                counter.last += 1
                reference = f"{self.reference_prefix}-{year}-{counter.last:04d}"
                review = open_review(reference, referral, self.policy)
                row = ReviewRow(
                    reference=reference, referring_agency=referral.referring_agency,
                    agency_reference=referral.agency_reference, pseudonym=referral.child_pseudonym,
                    referral=referral.model_dump(mode="json"), stage=review.stage.value,
                    created_at=now, updated_at=now, version=0,
                )
                s.add(row)
                s.flush()
                self._project(s, row, review, now)
                self._audit(s, row, now, referral.referred_by, "review_referred",
                            {"reference": reference, "referring_agency": referral.referring_agency,
                             "agency_reference": referral.agency_reference})
            return Referred(reference, True, None)
        except IntegrityError:
            # Someone registered the same referral at the same moment: theirs stands.
            existing = self._existing(referral)
            if existing is None:
                raise
            return existing

    def _existing(self, referral: Referral) -> Referred | None:
        with self.unit_of_work() as s:
            row = s.scalars(select(ReviewRow).where(
                ReviewRow.referring_agency == referral.referring_agency,
                ReviewRow.agency_reference == referral.agency_reference)).first()
            return Referred(row.reference, False, row.flow_run_id) if row else None

    def attach_flow_run(self, reference: str, flow_run_id: str, now: datetime) -> None:
        """Record which flow run drives the review (once; a different run is refused)."""
        with self.unit_of_work() as s:
            row = self._row(s, reference, lock=True)
            if row.flow_run_id == flow_run_id:
                return
            if row.flow_run_id is not None:
                raise Refused(f"Review {reference} is already driven by flow run {row.flow_run_id}.")
            row.flow_run_id = flow_run_id
            row.updated_at = now
            self._audit(s, row, now, "system", "flow_run_attached", {"flow_run_id": flow_run_id})

    def detach_flow_run(self, reference: str, flow_run_id: str, reason: str, now: datetime) -> bool:
        """Forget the run that drove the review, if it is still that one (it is gone); audited.

        Compare-and-clear, so two reconciles at once detach it once; the next run attaches itself.
        """
        with self.unit_of_work() as s:
            row = self._row(s, reference, lock=True)
            if row.flow_run_id != flow_run_id:
                return False
            row.flow_run_id = None
            row.updated_at = now
            self._audit(s, row, now, "system", "flow_run_detached", {"flow_run_id": flow_run_id, "reason": reason})
            return True

    def check(self, reference: str, key: str, payload: Mapping[str, Any], today: date) -> None:
        """Judge an answer without recording it (the CLI asks before it resumes a run)."""
        review = self.load(reference)
        kind, _, _ = parse_step_key(key)
        check_decision(review, key, parse_input(kind, payload), today, self.policy)

    def record_decision(self, reference: str, key: str, payload: Mapping[str, Any],
                        today: date, now: datetime) -> Outcome:
        """Record an answer to the open step: accepted and applied, or refused with the reason.

        Idempotent by ``key``: a second call with the same key returns the first outcome.
        """
        with self.unit_of_work() as s:
            row = self._row(s, reference, lock=True)
            done = s.scalars(select(Decision).where(Decision.review_id == row.id, Decision.key == key)).first()
            review = self._replay(s, row)
            if done is not None:
                nxt = open_step(review, self.policy)
                return Outcome(key, done.accepted, done.reason, nxt.key if nxt else None)
            step = open_step(review, self.policy)
            kind, _, _ = parse_step_key(key)
            try:
                value = parse_input(kind, payload)
                rule = check_decision(review, key, value, today, self.policy)
            except Refused as refusal:
                if step is None or key != step.key:
                    raise  # not the open step: nothing to record, the caller is told why
                stored = payload
                if isinstance(refusal, IdentifierFound):
                    # The refused text may identify a child; the register never holds it.
                    stored = {k: v for k, v in payload.items() if k in ("decided_on", "decided_by")}
                self._append(s, row, key, stored, False, refusal.reason, step, now)
                after = refuse(review, refusal.reason)
                self._project(s, row, after, now)
                self._audit(s, row, now, str(payload.get("decided_by", "")) or "unknown", "decision_refused",
                            {"key": key, "reason": refusal.reason})
                nxt = open_step(after, self.policy)
                return Outcome(key, False, refusal.reason, nxt.key if nxt else None)
            assert step is not None
            after = apply_decision(review, rule, value, self.policy)
            clean = value.model_dump(mode="json")
            self._append(s, row, key, clean, True, "", step, now)
            self._project(s, row, after, now)
            self._audit(s, row, now, value.decided_by, "decision_recorded",
                        {"key": key, "step": step.title, "decided_on": clean["decided_on"],
                         "stage_before": review.stage.value, "stage_after": after.stage.value})
            nxt = open_step(after, self.policy)
            return Outcome(key, True, "", nxt.key if nxt else None)

    def record_refusal(self, reference: str, key: str, reason: str, now: datetime) -> Outcome:
        """Record that an answer to the open step could not even be read (idempotent by key)."""
        return self._refuse(reference, key, {}, reason, now)

    def _refuse(self, reference: str, key: str, payload: Mapping[str, Any], reason: str, now: datetime) -> Outcome:
        with self.unit_of_work() as s:
            row = self._row(s, reference, lock=True)
            review = self._replay(s, row)
            done = s.scalars(select(Decision).where(Decision.review_id == row.id, Decision.key == key)).first()
            step = open_step(review, self.policy)
            if done is None:
                if step is None or step.key != key:
                    raise Refused(f"Step {key} is not open on review {reference}.")
                self._append(s, row, key, payload, False, reason, step, now)
                review = refuse(review, reason)
                self._project(s, row, review, now)
                self._audit(s, row, now, "system", "decision_refused", {"key": key, "reason": reason})
            nxt = open_step(review, self.policy)
            return Outcome(key, False, done.reason if done else reason, nxt.key if nxt else None)

    def adjust_clock(self, reference: str, adj: ClockAdjustment, today: date, now: datetime) -> Review:
        """Pause, resume or extend a clock, with who and why, recorded in the log and audit."""
        with self.unit_of_work() as s:
            row = self._row(s, reference, lock=True)
            review = self._replay(s, row)
            after = adjust_clock(review, adj, today, self.policy)
            key = f"clock-{after.clock_adjustments}"
            self._append(s, row, key, adj.model_dump(mode="json"), True, "", None, now)
            self._project(s, row, after, now)
            self._audit(s, row, now, adj.by, f"clock_{adj.action}d" if adj.action != "extend" else "clock_extended",
                        adj.model_dump(mode="json"))
            return after

    # ------------------------------------------------------------------ internals

    def _append(self, s: Session, row: ReviewRow, key: str, payload: Mapping[str, Any], accepted: bool,
                reason: str, step: OpenStep | None, now: datetime) -> None:
        seq = (s.scalar(select(func.max(Decision.seq)).where(Decision.review_id == row.id)) or 0) + 1
        decided_on = payload.get("decided_on") or payload.get("on")
        try:
            decided = date.fromisoformat(str(decided_on)) if decided_on else None
        except ValueError:  # a refused answer may carry an unreadable date; log it anyway
            decided = None
        s.add(Decision(
            review_id=row.id, seq=seq, key=key, step=step.kind.value if step else "clock",
            payload=_json(dict(payload)), accepted=accepted, reason=reason,
            decided_by=str(payload.get("decided_by") or payload.get("by") or "")[:80],
            asked_of=step.asked_of[:400] if step else "", recorded_at=now,
            decided_on=decided,
        ))

    def _audit(self, s: Session, row: ReviewRow, now: datetime, actor: str, event_name: str,
               detail: Mapping[str, Any]) -> None:
        last = s.scalars(select(AuditEvent).where(AuditEvent.review_id == row.id)
                         .order_by(AuditEvent.seq.desc()).limit(1)).first()
        seq = last.seq + 1 if last else 1
        prev = last.hash if last else ""
        clean = _json(dict(detail))
        at = now.astimezone(UTC) if now.tzinfo is not None else now  # stored as hashed, in UTC
        s.add(AuditEvent(review_id=row.id, seq=seq, at=at, actor=actor[:80], event=event_name, detail=clean,
                         prev_hash=prev, hash=_chain_hash(prev, seq, at, actor[:80], event_name, clean)))

    def _project(self, s: Session, row: ReviewRow, review: Review, now: datetime) -> None:
        """Write the review's projections so queries see what the log says."""
        cal = self.policy.calendar
        step = open_step(review, self.policy)
        row.stage = review.stage.value
        row.route = review.route.value if review.route else None
        row.open_step_key = step.key if step else None
        row.open_step_due = step.due if step else None
        row.closed_on = review.closed_on
        row.updated_at = now
        row.version = (row.version or 0) + 1
        _sync(s, ClockRow, row.id, "key", [
            {"key": c.key, "kind": c.kind.value, "subject": c.subject, "owner_role": c.owner_role,
             "start": c.start, "rule_unit": c.rule.unit.value, "rule_length": c.rule.length,
             "due": c.due(cal), "met_on": c.met_on, "stopped_on": c.stopped_on,
             "state": ("met" if c.met_on else "stopped" if c.stopped_on else "paused" if c.is_paused else "running"),
             "pauses": _json([p.__dict__ for p in c.pauses]),
             "extensions": _json([e.__dict__ for e in c.extensions])}
            for c in review.clocks])
        _sync(s, AgencyRequestRow, row.id, "agency", [
            {"agency": a.agency, "requested_on": a.requested_on, "received_on": a.received_on,
             "author_independent": a.author_independent} for a in review.agencies])
        _sync(s, Recommendation, row.id, "number", [
            {"number": i, "text": t} for i, t in enumerate(review.recommendations, start=1)])
        _sync(s, ActionRow, row.id, "number", [
            {"number": a.number, "recommendation_number": a.recommendation_number, "owner_agency": a.owner_agency,
             "description": a.description, "due_on": a.due_on, "completed_on": a.completed_on,
             "evidence": a.evidence} for a in review.actions])


def _chain_hash(prev: str, seq: int, at: datetime, actor: str, event_name: str, detail: Any) -> str:
    # Timestamps are hashed as stored; SQLite returns them naive, so drop tzinfo for a stable form.
    # PostgreSQL returns them in the session's time zone, so bring an aware one back to UTC first.
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    stamp = at.replace(tzinfo=None).isoformat(timespec="microseconds")
    body = _canonical({"seq": seq, "at": stamp, "actor": actor, "event": event_name, "detail": detail})
    return hashlib.sha256((prev + body).encode()).hexdigest()


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


def open_register(settings: Settings) -> Register:
    """The register the settings name, judged with their clock rules and calendar."""
    return Register(settings.register_url, settings.policy(), settings.reference_prefix)
