"""What the case register hands back: plain records, so the use cases never see a database row.

The register (``adapters/register``) builds them; the use cases (``services/``) and the
in-memory fakes of the tests use them. Pure values, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from models.clocks import Clock, ClockKind, ClockRule
from models.lifecycle import Action, AgencyRequest, LoggedDecision, OpenStep, Review, Route, Stage
from models.referral import Referral
from models.workdays import WorkingCalendar


@dataclass(frozen=True)
class StoredReview:
    """A review as the register holds it: its referral, the run that drives it, its decision log."""

    reference: str
    referral: Referral
    flow_run_id: str | None
    log: tuple[LoggedDecision, ...]
    # The idempotency key a new run for it is started under (see RunLink.run_key).
    run_key: str


@dataclass(frozen=True)
class ReviewView:
    """Where a review stands, for reading: what ``lcspr status``, ``list``, the portfolio, the run tags
    and the sweep need, and no more. The register builds it from its projections (no replay) when they
    were derived under the policy in force (``projected_with`` is ``Policy.fingerprint``);
    :func:`view_of` builds the same from a replayed review."""

    reference: str
    pseudonym: str
    stage: Stage
    route: Route | None
    open_step: OpenStep | None
    clocks: tuple[Clock, ...]
    agencies: tuple[AgencyRequest, ...]
    recommendations: tuple[str, ...]
    actions: tuple[Action, ...]
    closed_on: date | None
    flow_run_id: str | None
    projected_with: str

    def clock(self, key: str) -> Clock | None:
        return next((c for c in self.clocks if c.key == key), None)


def view_of(review: Review, step: OpenStep | None, flow_run_id: str | None, fingerprint: str) -> ReviewView:
    """The view of a review rebuilt from its decision log (``step``: its open step)."""
    return ReviewView(review.reference, review.referral.pseudonym, review.stage, review.route, step,
                      review.clocks, review.agencies, review.recommendations, review.actions, review.closed_on,
                      flow_run_id, fingerprint)


@dataclass(frozen=True, slots=True)  # slots: a sweep makes one for every clock due (half the cost to make)
class DueClock:
    """A clock still running (not paused, met or stopped), with the review it belongs to: what the reminder
    policy and a reminder's text need of it, its due date as derived (``Clock.due``) under the policy in
    force, and nothing that derivation took (pauses, extensions)."""

    reference: str
    flow_run_id: str | None
    key: str  # ``Clock.key``
    kind: ClockKind
    subject: str
    owner_role: str
    rule: ClockRule
    due: date


def due_clock(reference: str, flow_run_id: str | None, clock: Clock, calendar: WorkingCalendar) -> DueClock | None:
    """The :class:`DueClock` of ``clock`` of review ``reference`` (due by ``calendar``), None if it is not running:
    the register's from its projection, the same from a replayed review."""
    if clock.met_on is not None or clock.stopped_on is not None or clock.is_paused:
        return None
    return DueClock(reference, flow_run_id, clock.key, clock.kind, clock.subject, clock.owner_role, clock.rule,
                    clock.due(calendar))


@dataclass(frozen=True)
class StepProjection:
    """What a review waits on, as last projected: ``step`` None means closed, or (if not
    ``closed``) not projected yet (a row written before the projection existed)."""

    closed: bool
    step: OpenStep | None


@dataclass(frozen=True)
class RunPointer:
    """An open review's open step and the flow run that drives it: what judging the run needs."""

    reference: str
    open_step_key: str | None
    flow_run_id: str | None
    # The step the run said it suspends on (``Reviews.note_wait``); None until it has.
    run_waits_on: str | None = None


@dataclass(frozen=True)
class RunLink:
    """An open review as the projection has it: its open step and the flow run that drives it.

    ``run_key`` is the idempotency key a new run for it is started under: the reference, or
    after a lost run was let go, one naming that run, so two repairs start one replacement.
    """

    reference: str
    open_step_key: str | None
    flow_run_id: str | None
    referral: dict[str, Any]
    run_key: str
    run_waits_on: str | None = None


@dataclass(frozen=True)
class DecisionRecord:
    """One line of the decision log as stored: an answer (accepted or refused) or a clock change."""

    seq: int
    key: str
    step: str
    payload: dict[str, Any]
    accepted: bool
    reason: str
    decided_by: str
    decided_on: date | None
    recorded_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    """One event of a review's hash-chained audit trail."""

    seq: int
    at: datetime
    actor: str
    event: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class ReviewState:
    """Where a review stands: as its row says, as an audit entry recorded it, or as a replay gives it."""

    stage: str
    route: str | None
    open_step_key: str | None
    closed_on: date | None


@dataclass(frozen=True)
class RecordedState:
    """The state audit entry ``entry`` recorded right after the decision ``decision_key`` it bears."""

    entry: int
    decision_key: str
    state: ReviewState


@dataclass(frozen=True)
class AuditHead:
    """The newest entry of a review's audit trail: what ``lcspr audit --export-heads`` keeps elsewhere."""

    reference: str
    seq: int
    hash: str


@dataclass(frozen=True)
class AuditCheck:
    """What the register found checking one review's audit trail row by row.

    ``problems`` name the first entry (or decision) changed, removed or inserted, for each kind of
    check; ``notes`` say what is true but not wrong (entries written before keyed hashes). ``recorded``
    and ``row`` are what a replay of the decision log must agree with."""

    reference: str
    entries: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    recorded: tuple[RecordedState, ...] = ()
    row: ReviewState | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A message's delivery record, for `lcspr outbox`."""

    key: str
    kind: str
    role: str
    subject: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: datetime
    sent_at: datetime | None
    # Where it went when not to its role's own addresses: a delegate's address (``models.delegation``), or the
    # fallback role that was asked to forward it ("business_unit, to forward"); "" for the role's own.
    sent_to: str = ""
    # The daily digest (``models.digest``) that carries it (a held reminder), or "".
    digest_key: str = ""


@dataclass(frozen=True)
class Claimed:
    """A message one sender has leased for delivery."""

    id: int
    key: str
    role: str
    subject: str
    text: str
    html: str
    # The iCalendar (.ics text) to attach, if the message carries one (a step-opened email of a step with a due date).
    ics: str | None = None
