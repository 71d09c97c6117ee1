"""The ports: what the use cases need from the world, as structural Protocols.

Implemented by the adapters (``adapters/register`` for the register and outbox,
``adapters/prefect_api.py`` for Prefect, ``notifications/dispatch.py`` for Apprise) and by
the in-memory fakes in ``tests/fakes.py``; :mod:`lcspr.bootstrap` wires the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from models.delegation import Delegation
from models.digest import DigestItem, HeldReminder
from models.lifecycle import OpenStep, Policy, Review
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
)
from models.referral import Referral
from models.runs import RunView, Wait
from models.themes import ThemeAssignment

if TYPE_CHECKING:
    from notifications.render import RenderedMessage


class Clock(Protocol):
    """The one seam through which the use cases learn the time."""

    def now(self) -> datetime: ...

    def today(self) -> date: ...


class Reviews(Protocol):
    """The case register inside one unit of work. Every write is keyed, so a repeat changes nothing."""

    def next_number(self, year: int) -> int: ...

    def find(self, agency: str, agency_reference: str) -> StoredReview | None: ...

    def add(self, reference: str, referral: Referral, now: datetime) -> None: ...

    def get(self, reference: str, *, lock: bool = False) -> StoredReview: ...

    def referral(self, reference: str) -> Referral:
        """The review's referral alone (no decision log)."""
        ...

    def projected_step(self, reference: str) -> StepProjection: ...

    def decision(self, reference: str, key: str) -> DecisionRecord | None: ...

    def append(self, reference: str, key: str, payload: Mapping[str, Any], accepted: bool, reason: str,
               step: OpenStep | None, now: datetime) -> None: ...

    def project(self, reference: str, review: Review, step: OpenStep | None, policy: Policy,
                now: datetime) -> None:
        """Rewrite the review's projections (row, clocks, agencies, recommendations, actions) as ``review``
        has them, marked as derived under ``policy`` (``Policy.fingerprint``)."""
        ...

    def audit(self, reference: str, now: datetime, actor: str, event: str, detail: Mapping[str, Any]) -> None:
        """Add an entry to the review's audit trail. The register seals it when the unit of work
        commits: its hash (keyed, in the real register) then covers the event, the decisions
        appended in the same unit of work and the review's state as the unit of work left it, so the
        order of ``append``, ``audit`` and ``project`` does not matter and nothing else is called."""
        ...

    def set_flow_run(self, reference: str, flow_run_id: str | None) -> None:
        """Make ``flow_run_id`` the review's run; a new one has said nothing yet of what it waits on."""
        ...

    def note_wait(self, reference: str, flow_run_id: str, step_key: str, *, if_open: str | None = None) -> bool:
        """Note that the review's run suspends on ``step_key``: only while ``flow_run_id`` is its run and, given
        ``if_open``, that is its open step. True if the note changed."""
        ...

    def run_links(self, references: Sequence[str] | None = None, include_closed: bool = False) -> list[RunLink]:
        """The reviews named (or every open one, or every one) with their open step and flow run."""
        ...

    def soonest_due(self, limit: int, include_closed: bool = False) -> list[str]:
        """The references of the ``limit`` open reviews (or reviews) whose open step is due soonest, in that
        order (those with no due date after them, the register's order among equals)."""
        ...

    def count(self, include_closed: bool = False) -> int:
        """How many reviews are open (or how many there are)."""
        ...

    def run_pointers(self, references: Sequence[str] | None = None,
                     include_closed: bool = False) -> list[RunPointer]:
        """``run_links`` without the referral and run key: what judging a run needs (three columns a review)."""
        ...

    def views(self, references: Sequence[str] | None = None, include_closed: bool = False,
              counting_only: bool = False) -> list[ReviewView]:
        """The reviews named (or every open one, or every one) as their projections hold them; no replay.
        ``counting_only``: with only the clocks still counting (running or paused)."""
        ...

    def clocks_due_by(self, last_due: date, fingerprint: str) -> list[DueClock]:
        """The running clocks due on or before ``last_due`` of the reviews projected under ``fingerprint``, each
        with its due date as projected, in the register's order (a review's clocks in their order)."""
        ...

    def projected_otherwise(self, fingerprint: str) -> list[str]:
        """The reviews whose projections were derived under another policy, or none."""
        ...

    def with_running_clocks(self) -> list[str]:
        """Every review with a running or paused clock (the deadline sweep before projections; ``bench/``)."""
        ...

    def decisions(self, reference: str) -> list[DecisionRecord]: ...

    def audit_trail(self, reference: str) -> list[AuditRecord]: ...

    def verify_audit(self, reference: str, expected: AuditHead | None = None) -> AuditCheck:
        """Check the review's trail row by row: the chain of entries and its head (and ``expected``,
        a head kept elsewhere), every decision against the entry that bears it, the review row against
        the state its last entry recorded. What a replay must agree with comes back in the check."""
        ...

    def audit_heads(self) -> list[AuditHead]:
        """Every review's newest audit entry (seq and hash), to keep outside the register."""
        ...


class Delegations(Protocol):
    """Where a role's messages go for a range of days (``models.delegation``)."""

    def add(self, delegation: Delegation, now: datetime) -> int: ...

    def current(self, since: date) -> list[Delegation]:
        """The delegations not cancelled that have not ended before ``since``."""
        ...

    def every(self) -> list[Delegation]:
        """Every delegation recorded, cancelled ones too, the newest first."""
        ...

    def cancel(self, delegation_id: int, by: str, now: datetime) -> Delegation:
        """Cancel a standing delegation (NotFound, or Refused if cancelled already); it as it was."""
        ...


class Meetings(Protocol):
    """The meetings and events of the reviews (``models.meetings``)."""

    def add(self, meeting: Meeting, now: datetime) -> int: ...

    def get(self, reference: str, meeting_id: int, *, lock: bool = False) -> Meeting:
        """The review's meeting (NotFound if the review has no meeting of that id)."""
        ...

    def save(self, meeting: Meeting, now: datetime) -> None:
        """Write a meeting's time, place, sequence, cancellation and attendance as ``meeting`` has them."""
        ...

    def of_review(self, reference: str) -> list[Meeting]:
        """Every meeting of the review, cancelled ones too, by start."""
        ...

    def starting(self, start: datetime, end: datetime | None = None) -> list[Meeting]:
        """The meetings not cancelled starting from ``start`` (until before ``end``), of every review, by start."""
        ...


class QualityAssessments(Protocol):
    """Each review's quality checklist (``models.quality``): assessments appended, never changed."""

    def add(self, reference: str, assessment: Assessment, now: datetime) -> int:
        """Record an assessment of the review (NotFound if there is none); its id."""
        ...

    def of_review(self, reference: str) -> list[Assessment]:
        """Every assessment of the review, in the order recorded (NotFound if there is no such review)."""
        ...

    def of_reviews(self, references: Sequence[str]) -> dict[str, list[Assessment]]:
        """Every assessment of each review named, in the order recorded; a review with none: an empty list."""
        ...


class ThemeAssignments(Protocol):
    """The themes and tags given to reviews' recommendations (``models.themes``); a removed one is kept."""

    def add(self, assignment: ThemeAssignment) -> int: ...

    def remove(self, assignment_id: int, by: str, now: datetime) -> None:
        """Record that a standing assignment was removed, by whom and when (Refused if it is not standing)."""
        ...

    def standing(self, references: Sequence[str]) -> list[ThemeAssignment]:
        """The assignments not removed of the reviews named."""
        ...

    def history(self, reference: str) -> list[ThemeAssignment]:
        """Every assignment of the review, removed ones too, in the order given."""
        ...


class Outbox(Protocol):
    """The outbox inside one unit of work: messages queued once per key, leased to one sender."""

    def has(self, key: str) -> bool: ...

    def add(self, key: str, reference: str, kind: str, role: str, subject: str, text: str, html: str,
            now: datetime, ics: str | None = None, digest_item: DigestItem | None = None) -> bool:
        """Queue a message unless its key is queued already (then False); ``ics``: an iCalendar to attach;
        ``digest_item``: hold it for its role's daily digest (``models.digest``) as this line, not to be sent alone."""
        ...

    def held_for_digest(self) -> list[HeldReminder]:
        """The held reminders no digest carries yet, locked for this unit of work."""
        ...

    def add_digest(self, key: str, role: str, subject: str, text: str, html: str, now: datetime,
                   carrying: list[int]) -> bool:
        """Queue a digest (a pending message of no one review) and mark the held reminders ``carrying`` as carried
        by it, unless ``key`` is queued already (then False, and nothing marked)."""
        ...

    def release(self, message_ids: list[int], now: datetime) -> int:
        """Make held reminders no digest carries pending, to be sent alone (their role no longer gets a digest)."""
        ...

    def claim(self, due_by: datetime, at: datetime, worker: str, reference: str | None,
              batch: int) -> list[Claimed]: ...

    def hold(self, message_id: int, worker: str, at: datetime) -> bool: ...

    def finish(self, message_id: int, worker: str, error: str | None, now: datetime,
               backoff: Callable[[int], timedelta], sent_to: str = "") -> bool:
        """Record a send's outcome if ``worker`` still holds the message; ``sent_to``: where it went when not to its
        role's own addresses. A digest sent marks the reminders it carries sent."""
        ...

    def retry_now(self, now: datetime) -> int: ...

    def messages(self, *statuses: str | None) -> list[OutboxEntry]:
        """The messages in these statuses (none given: every one), oldest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the register and the outbox: committed by ``commit()``, else rolled back."""

    @property
    def reviews(self) -> Reviews: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def delegations(self) -> Delegations: ...

    @property
    def meetings(self) -> Meetings: ...

    @property
    def quality(self) -> QualityAssessments: ...

    @property
    def themes(self) -> ThemeAssignments: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...


class Dispatcher(Protocol):
    """Sends one message to every address of a role; raises ``DeliveryFailed`` (or ``NoRecipient``)."""

    def send(self, *, role: str, message: RenderedMessage, to: str | None = None) -> None:
        """``to``: an email address that takes the role's place (a delegate), sent through the role's email
        services; NoRecipient when the role has none."""
        ...

    def addresses(self, role: str) -> list[str]:
        """The email addresses the role's messages go to (none if it has no email service): the attendees and
        organiser of a meeting invitation."""
        ...


class Warm(Protocol):
    """A process that has loaded the system already (the command server of ``lcspr up``), for the work a
    new flow-run process would otherwise load libraries for."""

    def deliver(self, reference: str | None) -> tuple[list[str], dict[str, str]] | None:
        """Deliver the pending messages due (of ``reference`` only, if given) there: the keys sent and the
        failures with their errors, as ``services.messages.deliver`` reports them; None when it could not be
        asked, or did not finish (the caller delivers itself: the outbox's leases keep a message sent once)."""
        ...

    def publish(self, reference: str) -> bool:
        """Start publishing the review's artifacts and the portfolio there, in the background; False when it
        could not be handed over (the caller publishes itself)."""
        ...


class Runs(Protocol):
    """The review runs on the Prefect server."""

    def check(self) -> None: ...

    def observe(self, flow_run_id: str) -> RunView | None: ...

    def observe_all(self, flow_run_ids: Sequence[str]) -> dict[str, RunView | None]:
        """``observe`` of each run, in as few calls as the server allows (``lcspr list`` of every review)."""
        ...

    def unpaused(self, flow_run_ids: Sequence[str]) -> dict[str, RunView]:
        """``observe`` of those of the runs that are not paused (in flight, scheduled or final): the few of a
        register whose runs wait, found without reading the many that do."""
        ...

    def count_paused(self, flow_run_ids: Sequence[str]) -> int:
        """How many of these runs are paused: a count on the server, however many runs."""
        ...

    def start(self, reference: str, parameters: Mapping[str, Any], idempotency_key: str) -> str: ...

    def reschedule(self, flow_run_id: str) -> None: ...

    def resume(self, flow_run_id: str, key: str, payload: Mapping[str, Any], seen: RunView | None = None) -> None:
        """Resume the run suspended on ``key`` with the answer; ``seen``: the run as just observed, not read again
        unless it must be waited for."""
        ...

    # A review run's housekeeping of itself (the review flow's tasks).
    def rename(self, flow_run_id: str, name: str) -> None: ...

    def retag(self, flow_run_id: str, tags: Sequence[str]) -> bool:
        """Give the run ``tags`` as its tags of ours (``models.run_tags``), keeping every other tag it has;
        write only if that changes something. True when it wrote."""
        ...

    def replace_parameters(self, flow_run_id: str, parameters: Mapping[str, Any]) -> None: ...

    def forget_answer(self, flow_run_id: str, wait: str) -> None: ...

    def wait_for(self, flow_run_id: str, step_key: str) -> Wait: ...

    # What the UI shows of the register (``services/artifacts.py``).
    def publish_artifact(self, key: str, kind: str, data: str | float, description: str,
                         flow_run_id: str | None = None) -> bool:
        """Create a new version of the artifact ``key`` (``kind``: "markdown" or "progress"), linked to
        the run if one is given, unless its latest version holds ``data`` already; True when it created one."""
        ...


RunsFactory = Callable[[], AbstractContextManager[Runs]]
