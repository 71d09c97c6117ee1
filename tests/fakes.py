"""In-memory fakes of the ports (``services/ports.py``): the use cases run against them in milliseconds.

They keep the contract of the real adapters where a use case can tell the difference: a unit
of work that is not committed changes nothing, keys are unique, a lost race is a Conflict, a
lease is held by one sender. The integration tier runs the same use cases on SQLite,
PostgreSQL, real SMTP and a real Prefect server.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from types import TracebackType
from typing import Any

from models.delegation import Delegation
from models.digest import DIGEST_KIND, DigestItem, HeldReminder
from models.errors import Conflict, DeliveryFailed, NoRecipient, NotFound, Refused, Unavailable
from models.lifecycle import LoggedDecision, OpenStep, Policy, Review
from models.meetings import Meeting
from models.quality import Assessment
from models.records import (
    AuditCheck,
    AuditHead,
    AuditRecord,
    Claimed,
    DecisionRecord,
    DueClock,
    OutboxEntry,
    ReviewView,
    RunLink,
    RunPointer,
    StepProjection,
    StoredReview,
    view_of,
)
from models.referral import Referral
from models.run_tags import retagged
from models.runs import RunView, Wait, step_of_wait
from models.themes import ThemeAssignment
from notifications.render import RenderedMessage
from services.app import App, Config
from services.ports import Runs


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, today: date, hour: int = 9) -> None:
        self.at = datetime.combine(today, time(hour), tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.date()

    def set(self, day: date) -> None:
        self.at = datetime.combine(day, self.at.timetz())

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@dataclass
class _Review:
    reference: str
    referral: Referral
    flow_run_id: str | None = None
    run_waits_on: str | None = None
    log: list[DecisionRecord] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    stage: str = "referred"
    step: OpenStep | None = None
    projected: bool = False
    running_clocks: bool = True
    view: ReviewView | None = None
    dues: dict[str, date] = field(default_factory=dict)  # each clock's due date when projected


@dataclass
class _Message:
    id: int
    reference: str
    entry: OutboxEntry
    claim: Claimed
    claimed_by: str = ""
    claimed_until: datetime | None = None
    digest_item: DigestItem | None = None  # held for its role's daily digest as this line


@dataclass
class _State:
    reviews: dict[str, _Review] = field(default_factory=dict)
    counters: dict[int, int] = field(default_factory=dict)
    outbox: dict[str, _Message] = field(default_factory=dict)
    delegations: list[Delegation] = field(default_factory=list)
    meetings: list[Meeting] = field(default_factory=list)
    quality: list[tuple[str, Assessment]] = field(default_factory=list)
    themes: list[ThemeAssignment] = field(default_factory=list)


class FakeReviews:
    def __init__(self, state: _State) -> None:
        self.state = state

    def _review(self, reference: str) -> _Review:
        try:
            return self.state.reviews[reference]
        except KeyError:
            raise NotFound(f"No review with reference {reference}.") from None

    def _stored(self, r: _Review) -> StoredReview:
        detached = [e for e in r.audit if e.event == "flow_run_detached"]
        run_key = f"{r.reference}:after:{detached[-1].detail['flow_run_id']}" if detached else r.reference
        log = tuple(LoggedDecision(d.key, d.payload, d.accepted, d.reason) for d in r.log)
        return StoredReview(r.reference, r.referral, r.flow_run_id, log, run_key)

    def next_number(self, year: int) -> int:
        self.state.counters[year] = self.state.counters.get(year, 0) + 1
        return self.state.counters[year]

    def find(self, agency: str, agency_reference: str) -> StoredReview | None:
        for r in self.state.reviews.values():
            if (r.referral.referring_agency.lower(), r.referral.agency_reference.upper()) == \
                    (agency.lower(), agency_reference.upper()):
                return self._stored(r)
        return None

    def add(self, reference: str, referral: Referral, now: datetime) -> None:
        if reference in self.state.reviews or self.find(referral.referring_agency, referral.agency_reference):
            raise Conflict("registered at the same moment")
        self.state.reviews[reference] = _Review(reference, referral)

    def get(self, reference: str, *, lock: bool = False) -> StoredReview:
        return self._stored(self._review(reference))

    def referral(self, reference: str) -> Referral:
        return self._review(reference).referral

    def projected_step(self, reference: str) -> StepProjection:
        r = self._review(reference)
        return StepProjection(r.stage == "closed", r.step if r.projected else None)

    def decision(self, reference: str, key: str) -> DecisionRecord | None:
        return next((d for d in self._review(reference).log if d.key == key), None)

    def append(self, reference: str, key: str, payload: Mapping[str, Any], accepted: bool, reason: str,
               step: OpenStep | None, now: datetime) -> None:
        r = self._review(reference)
        if self.decision(reference, key) is not None:
            raise Conflict(f"decision {key} recorded twice")
        on = payload.get("decided_on") or payload.get("on")
        try:
            decided = date.fromisoformat(str(on)) if on else None
        except ValueError:  # as the register: a refused answer may carry an unreadable date; log it anyway
            decided = None
        r.log.append(DecisionRecord(len(r.log) + 1, key, step.kind.value if step else "clock", dict(payload),
                                    accepted, reason, str(payload.get("decided_by") or payload.get("by") or ""),
                                    decided, now))

    def project(self, reference: str, review: Review, step: OpenStep | None, policy: Policy,
                now: datetime) -> None:
        r = self._review(reference)
        r.stage, r.step, r.projected = review.stage.value, step, True
        r.running_clocks = any(c.met_on is None and c.stopped_on is None for c in review.clocks)
        r.view = view_of(review, step, None, policy.fingerprint)
        r.dues = {c.key: c.due(policy.calendar) for c in review.clocks}

    def _view(self, r: _Review) -> ReviewView:
        assert r.view is not None, f"{r.reference} was never projected"
        return replace(r.view, flow_run_id=r.flow_run_id)

    def views(self, references: Sequence[str] | None = None, include_closed: bool = False,
              counting_only: bool = False) -> list[ReviewView]:
        found = [self._view(r) for r in self.state.reviews.values()
                 if (references is None or r.reference in references) and (include_closed or r.stage != "closed")]
        if counting_only:
            found = [replace(v, clocks=tuple(c for c in v.clocks if c.met_on is None and c.stopped_on is None))
                     for v in found]
        return found

    def clocks_due_by(self, last_due: date, fingerprint: str) -> list[DueClock]:
        # As the register's projection: each clock's due date as derived when projected.
        return [DueClock(r.reference, r.flow_run_id, c.key, c.kind, c.subject, c.owner_role, c.rule, r.dues[c.key])
                for r in self.state.reviews.values()
                if r.view is not None and r.view.projected_with == fingerprint for c in r.view.clocks
                if c.met_on is None and c.stopped_on is None and not c.is_paused and r.dues[c.key] <= last_due]

    def projected_otherwise(self, fingerprint: str) -> list[str]:
        return [r.reference for r in self.state.reviews.values()
                if r.view is None or r.view.projected_with != fingerprint]

    def audit(self, reference: str, now: datetime, actor: str, event: str, detail: Mapping[str, Any]) -> None:
        r = self._review(reference)
        r.audit.append(AuditRecord(len(r.audit) + 1, now, actor, event, dict(detail)))

    def set_flow_run(self, reference: str, flow_run_id: str | None) -> None:
        r = self._review(reference)
        if r.flow_run_id != flow_run_id:
            r.run_waits_on = None
        r.flow_run_id = flow_run_id

    def note_wait(self, reference: str, flow_run_id: str, step_key: str, *, if_open: str | None = None) -> bool:
        r = self._review(reference)
        if r.flow_run_id != flow_run_id or r.run_waits_on == step_key or \
                (if_open is not None and (r.step.key if r.step else None) != if_open):
            return False
        r.run_waits_on = step_key
        return True

    def run_links(self, references: Sequence[str] | None = None, include_closed: bool = False) -> list[RunLink]:
        return [RunLink(r.reference, r.step.key if r.step else None, r.flow_run_id,
                        r.referral.model_dump(mode="json"), self._stored(r).run_key, r.run_waits_on)
                for r in self.state.reviews.values() if (include_closed or r.stage != "closed")
                and (references is None or r.reference in references)]

    def soonest_due(self, limit: int, include_closed: bool = False) -> list[str]:
        found = [r for r in self.state.reviews.values() if include_closed or r.stage != "closed"]
        found.sort(key=lambda r: (r.step is None or r.step.due is None,
                                  r.step.due if r.step is not None and r.step.due else date.min))
        return [r.reference for r in found[:limit]]

    def count(self, include_closed: bool = False) -> int:
        return sum(1 for r in self.state.reviews.values() if include_closed or r.stage != "closed")

    def run_pointers(self, references: Sequence[str] | None = None,
                     include_closed: bool = False) -> list[RunPointer]:
        return [RunPointer(link.reference, link.open_step_key, link.flow_run_id, link.run_waits_on)
                for link in self.run_links(references, include_closed)]

    def with_running_clocks(self) -> list[str]:
        return sorted(r.reference for r in self.state.reviews.values() if r.running_clocks)

    def decisions(self, reference: str) -> list[DecisionRecord]:
        return list(self._review(reference).log)

    def audit_trail(self, reference: str) -> list[AuditRecord]:
        return list(self._review(reference).audit)

    def verify_audit(self, reference: str, expected: AuditHead | None = None) -> AuditCheck:
        """Only the order of entries: the fake keeps no hashes (the keyed seal is the register's,
        tested in tests/integration/test_audit_tamper.py)."""
        trail = self.audit_trail(reference)
        problems = [f"audit entry {e.seq} ({e.event}) is out of order" for i, e in enumerate(trail, 1) if e.seq != i]
        if expected is not None and len(trail) < expected.seq:
            problems.append(f"entries after {len(trail)} are missing (the heads file says {expected.seq})")
        return AuditCheck(reference, len(trail), tuple(problems[:1]))

    def audit_heads(self) -> list[AuditHead]:
        return [AuditHead(r.reference, len(r.audit), f"fake-{len(r.audit)}") for r in self.state.reviews.values()
                if r.audit]


class FakeOutbox:
    _ids = itertools.count(1)

    def __init__(self, state: _State) -> None:
        self.state = state

    def has(self, key: str) -> bool:
        return key in self.state.outbox

    def add(self, key: str, reference: str, kind: str, role: str, subject: str, text: str, html: str,
            now: datetime, ics: str | None = None, digest_item: DigestItem | None = None) -> bool:
        if key in self.state.outbox:
            return False
        mid = next(self._ids)
        entry = OutboxEntry(key, kind, role, subject, "pending" if digest_item is None else "held", 0, "", now, None)
        self.state.outbox[key] = _Message(mid, reference, entry, Claimed(mid, key, role, subject, text, html, ics),
                                          digest_item=digest_item)
        return True

    def held_for_digest(self) -> list[HeldReminder]:
        return [HeldReminder(m.id, m.entry.key, m.entry.role, m.digest_item) for m in self.state.outbox.values()
                if m.entry.status == "held" and not m.entry.digest_key and m.digest_item is not None]

    def add_digest(self, key: str, role: str, subject: str, text: str, html: str, now: datetime,
                   carrying: list[int]) -> bool:
        if key in self.state.outbox:
            return False
        mid = next(self._ids)
        entry = OutboxEntry(key, DIGEST_KIND, role, subject, "pending", 0, "", now, None)
        self.state.outbox[key] = _Message(mid, "", entry, Claimed(mid, key, role, subject, text, html))
        for m in self.state.outbox.values():
            if m.id in carrying and m.entry.status == "held" and not m.entry.digest_key:
                m.entry = replace(m.entry, digest_key=key)
        return True

    def release(self, message_ids: list[int], now: datetime) -> int:
        released = [m for m in self.state.outbox.values()
                    if m.id in message_ids and m.entry.status == "held" and not m.entry.digest_key]
        for m in released:
            m.entry = replace(m.entry, status="pending", next_attempt_at=now)
        return len(released)

    def _by_id(self, message_id: int) -> _Message | None:
        return next((m for m in self.state.outbox.values() if m.id == message_id), None)

    def claim(self, due_by: datetime, at: datetime, worker: str, reference: str | None,
              batch: int) -> list[Claimed]:
        free = [m for m in self.state.outbox.values()
                if m.entry.status == "pending" and m.entry.next_attempt_at <= due_by
                and (m.claimed_until is None or m.claimed_until < at)
                and (reference is None or m.reference == reference)][:batch]
        for m in free:
            m.claimed_by, m.claimed_until = worker, at + timedelta(minutes=5)
        return [m.claim for m in free]

    def hold(self, message_id: int, worker: str, at: datetime) -> bool:
        m = self._by_id(message_id)
        return m is not None and m.entry.status == "pending" and m.claimed_by == worker and m.claimed_until is not None

    def finish(self, message_id: int, worker: str, error: str | None, now: datetime,
               backoff: Callable[[int], timedelta], sent_to: str = "") -> bool:
        m = self._by_id(message_id)
        if m is None or not self.hold(message_id, worker, now):
            return False
        attempts = m.entry.attempts + 1
        m.claimed_until = None
        if error is None:
            m.entry = replace(m.entry, status="sent", attempts=attempts, sent_at=now, last_error="", sent_to=sent_to)
            if m.entry.kind == DIGEST_KIND:
                for carried in self.state.outbox.values():
                    if carried.entry.digest_key == m.entry.key and carried.entry.status == "held":
                        carried.entry = replace(carried.entry, status="sent", sent_at=now, sent_to=sent_to)
        else:
            m.entry = replace(m.entry, attempts=attempts, last_error=error, next_attempt_at=now + backoff(attempts))
        return True

    def retry_now(self, now: datetime) -> int:
        free = [m for m in self.state.outbox.values() if m.entry.status == "pending"
                and (m.claimed_until is None or m.claimed_until < now)]
        for m in free:
            m.entry = replace(m.entry, next_attempt_at=now)
        return len(free)

    def messages(self, *statuses: str | None) -> list[OutboxEntry]:
        wanted = {s for s in statuses if s}
        return [m.entry for m in self.state.outbox.values() if not wanted or m.entry.status in wanted]


class FakeDelegations:
    def __init__(self, state: _State) -> None:
        self.state = state

    def add(self, delegation: Delegation, now: datetime) -> int:
        made = replace(delegation, id=len(self.state.delegations) + 1)
        self.state.delegations.append(made)
        return made.id or 0

    def current(self, since: date) -> list[Delegation]:
        return sorted((d for d in self.state.delegations if d.ends_on >= since and not d.cancelled_by),
                      key=lambda d: (d.role, d.starts_on))

    def every(self) -> list[Delegation]:
        return list(reversed(self.state.delegations))

    def cancel(self, delegation_id: int, by: str, now: datetime) -> Delegation:
        for i, d in enumerate(self.state.delegations):
            if d.id == delegation_id:
                if d.cancelled_by:
                    raise Refused(f"Delegation {delegation_id} was cancelled already, by {d.cancelled_by}.")
                self.state.delegations[i] = replace(d, cancelled_by=by)
                return self.state.delegations[i]
        raise NotFound(f"No delegation {delegation_id}.")


class FakeMeetings:
    def __init__(self, state: _State) -> None:
        self.state = state

    def add(self, meeting: Meeting, now: datetime) -> int:
        if meeting.reference not in self.state.reviews:
            raise NotFound(f"No review with reference {meeting.reference}.")
        made = replace(meeting, id=len(self.state.meetings) + 1)
        self.state.meetings.append(made)
        return made.id or 0

    def get(self, reference: str, meeting_id: int, *, lock: bool = False) -> Meeting:
        for m in self.state.meetings:
            if m.reference == reference and m.id == meeting_id:
                return m
        raise NotFound(f"Review {reference} has no meeting {meeting_id}.")

    def save(self, meeting: Meeting, now: datetime) -> None:
        self.get(meeting.reference, meeting.id or 0)
        self.state.meetings[(meeting.id or 0) - 1] = meeting

    def of_review(self, reference: str) -> list[Meeting]:
        return sorted((m for m in self.state.meetings if m.reference == reference), key=lambda m: (m.starts_at, m.id))

    def starting(self, start: datetime, end: datetime | None = None) -> list[Meeting]:
        return sorted((m for m in self.state.meetings if not m.cancelled and start <= m.starts_at
                       and (end is None or m.starts_at < end)), key=lambda m: (m.starts_at, m.id))


class FakeQualityAssessments:
    def __init__(self, state: _State) -> None:
        self.state = state

    def add(self, reference: str, assessment: Assessment, now: datetime) -> int:
        if reference not in self.state.reviews:
            raise NotFound(f"No review with reference {reference}.")
        made = replace(assessment, id=len(self.state.quality) + 1)
        self.state.quality.append((reference, made))
        return made.id or 0

    def of_review(self, reference: str) -> list[Assessment]:
        if reference not in self.state.reviews:
            raise NotFound(f"No review with reference {reference}.")
        return [a for ref, a in self.state.quality if ref == reference]

    def of_reviews(self, references: Sequence[str]) -> dict[str, list[Assessment]]:
        return {ref: [a for r, a in self.state.quality if r == ref] for ref in references}


class FakeThemeAssignments:
    def __init__(self, state: _State) -> None:
        self.state = state

    def add(self, assignment: ThemeAssignment) -> int:
        self.state.themes.append(replace(assignment, id=len(self.state.themes) + 1))
        return len(self.state.themes)

    def remove(self, assignment_id: int, by: str, now: datetime) -> None:
        found = self.state.themes[assignment_id - 1]
        if found.removed_at is not None:
            raise Refused(f"Theme assignment {assignment_id} was removed meanwhile; look again (lcspr themes REF).")
        self.state.themes[assignment_id - 1] = replace(found, removed_by=by, removed_at=now)

    def standing(self, references: Sequence[str]) -> list[ThemeAssignment]:
        return sorted((a for a in self.state.themes if a.reference in references and a.removed_at is None),
                      key=lambda a: (a.reference, a.recommendation, a.id or 0))

    def history(self, reference: str) -> list[ThemeAssignment]:
        return [a for a in self.state.themes if a.reference == reference]


class FakeRegister:
    """Hands out units of work over one in-memory state; an uncommitted one is thrown away."""

    def __init__(self) -> None:
        self.state = _State()
        self.commits = 0

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class FakeUnitOfWork:
    def __init__(self, register: FakeRegister) -> None:
        self.register = register

    def __enter__(self) -> FakeUnitOfWork:
        self.working = copy.deepcopy(self.register.state)
        self.reviews = FakeReviews(self.working)
        self.outbox = FakeOutbox(self.working)
        self.delegations = FakeDelegations(self.working)
        self.meetings = FakeMeetings(self.working)
        self.quality = FakeQualityAssessments(self.working)
        self.themes = FakeThemeAssignments(self.working)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        del self.working

    def commit(self) -> None:
        self.register.state = self.working
        self.register.commits += 1


class FakeDispatcher:
    """Delivers into a list; roles without an address raise NoRecipient, a broken one DeliveryFailed."""

    def __init__(self, roles: set[str] | None = None) -> None:
        self.roles = roles
        self.sent: list[tuple[str, RenderedMessage]] = []
        # Each send's role and the delegate's address it went to instead (None: the role's own).
        self.addressed: list[tuple[str, str | None]] = []
        self.down = False

    def send(self, *, role: str, message: RenderedMessage, to: str | None = None) -> None:
        if self.down:
            raise DeliveryFailed("the mail server is down")
        if self.roles is not None and role not in self.roles:
            raise NoRecipient(f"No recipient is configured for role {role}.")
        self.sent.append((role, message))
        self.addressed.append((role, to))

    def addresses(self, role: str) -> list[str]:
        """Every role with an address has one, at the partnership's test domain."""
        if self.down:
            raise DeliveryFailed("the notification config cannot be read")
        return [] if self.roles is not None and role not in self.roles else [f"{role}@partnership.test"]


@dataclass
class FakeRun:
    view: RunView
    parameters: Mapping[str, Any]
    name: str
    answers: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    # How many times its tags were written (a retag that changes nothing writes nothing).
    tag_writes: int = 0


@dataclass(frozen=True)
class FakeArtifact:
    """One version of an artifact as published."""

    kind: str
    data: str | float
    description: str
    flow_run_id: str | None


class FakeRuns:
    """Review runs as a dict; ``reachable=False`` behaves like a Prefect server that is down."""

    def __init__(self) -> None:
        self.runs: dict[str, FakeRun] = {}
        self.keys: dict[str, str] = {}
        self.reachable = True
        self.rescheduled: list[str] = []
        self.counted = 0  # calls to count_paused
        # Every version published under each artifact key, oldest first.
        self.artifacts: dict[str, list[FakeArtifact]] = {}
        # Ids are never reused, even after a test deletes a run (as Prefect never reuses a UUID).
        self._ids = itertools.count(1)

    def _up(self) -> None:
        if not self.reachable:
            raise Unavailable("Cannot reach the Prefect API at http://fake; start the system with `lcspr up` (./run).")

    def check(self) -> None:
        self._up()

    def observe(self, flow_run_id: str) -> RunView | None:
        self._up()
        run = self.runs.get(flow_run_id)
        return replace(run.view, tags=tuple(run.tags)) if run else None

    def observe_all(self, flow_run_ids: Sequence[str]) -> dict[str, RunView | None]:
        self._up()
        return {i: self.observe(i) for i in flow_run_ids}

    def unpaused(self, flow_run_ids: Sequence[str]) -> dict[str, RunView]:
        self._up()
        return {i: view for i in flow_run_ids if (view := self.observe(i)) is not None and view.state_type != "PAUSED"}

    def count_paused(self, flow_run_ids: Sequence[str]) -> int:
        self._up()
        self.counted += 1
        return sum(1 for i in flow_run_ids if (run := self.runs.get(i)) is not None and run.view.state_type == "PAUSED")

    def start(self, reference: str, parameters: Mapping[str, Any], idempotency_key: str) -> str:
        self._up()
        if idempotency_key not in self.keys:
            run_id = f"run-{next(self._ids)}"
            self.keys[idempotency_key] = run_id
            self.runs[run_id] = FakeRun(RunView("SCHEDULED", "Scheduled", datetime.now(UTC)), parameters, reference)
        return self.keys[idempotency_key]

    def reschedule(self, flow_run_id: str) -> None:
        self._up()
        self.rescheduled.append(flow_run_id)
        self.runs[flow_run_id].view = RunView("SCHEDULED", "AwaitingRetry", datetime.now(UTC))

    def resume(self, flow_run_id: str, key: str, payload: Mapping[str, Any], seen: RunView | None = None) -> None:
        """Like the adapter: only a run suspended on ``key`` takes the answer, else Unavailable."""
        self._up()
        run = self.runs.get(flow_run_id)
        if run is None or run.view.state_type != "PAUSED" or step_of_wait(run.view.pause_key) != key:
            now = f"is {run.view.state_name}" if run else "does not exist"
            raise Unavailable(f"The flow run {now}, not waiting on {key}.")
        run.answers[key] = dict(payload)

    def rename(self, flow_run_id: str, name: str) -> None:
        self.runs[flow_run_id].name = name

    def retag(self, flow_run_id: str, tags: Sequence[str]) -> bool:
        """Like the adapter: ours replaced, the others kept, written only when that changes them."""
        self._up()
        run = self.runs[flow_run_id]
        wanted = retagged(run.tags, tags)
        if wanted is None:
            return False
        run.tags, run.tag_writes = wanted, run.tag_writes + 1
        return True

    def replace_parameters(self, flow_run_id: str, parameters: Mapping[str, Any]) -> None:
        self.runs[flow_run_id].parameters = parameters

    def forget_answer(self, flow_run_id: str, wait: str) -> None:
        self.runs[flow_run_id].answers.pop(wait, None)

    def wait_for(self, flow_run_id: str, step_key: str) -> Wait:
        return Wait(step_key, step_key in self.runs[flow_run_id].answers)

    def publish_artifact(self, key: str, kind: str, data: str | float, description: str,
                         flow_run_id: str | None = None) -> bool:
        """Like the adapter: a new version only when the latest under the key holds other data."""
        self._up()
        versions = self.artifacts.setdefault(key, [])
        if versions and (versions[-1].kind, versions[-1].data) == (kind, data):
            return False
        versions.append(FakeArtifact(kind, data, description, flow_run_id))
        return True

    def wait_on(self, flow_run_id: str, step_key: str, since: datetime) -> None:
        """Make the run look suspended on ``step_key`` (what a worker's run does by itself)."""
        self.runs[flow_run_id].view = RunView("PAUSED", "Suspended", since, pause_key=step_key)


def fake_app(today: date, *, config: Config | None = None, runs: FakeRuns | None = None,
             dispatcher: FakeDispatcher | None = None) -> App:
    """An App on fakes: register, outbox, Prefect and mail all in memory, the clock frozen at ``today``."""
    from models.lifecycle import Policy
    from models.reminders import DEFAULT_POLICIES

    fake_runs = runs or FakeRuns()
    mail = dispatcher or FakeDispatcher()

    @contextmanager
    def open_runs() -> Iterator[Runs]:
        yield fake_runs

    return App(config=config or Config(policy=Policy(), reminder_policies=DEFAULT_POLICIES),
               clock=FrozenClock(today), uow=FakeRegister(), runs=open_runs, dispatcher=lambda: mail)
