"""Statutory and configured clocks of a review, and the local targets of the other steps, as immutable values.

A :class:`Clock` records *facts* (when it started, which rule applies, pauses,
extensions, when it was met or stopped) and derives everything else (due date, state,
RAG colour) from those facts plus a :class:`~models.workdays.WorkingCalendar` and a
``today`` passed in by the caller. Nothing is stored that could go stale: when the
calendar gains a closure day or a rule changes, the due date is simply recomputed.

Every change returns a new clock, so the history of a clock is a sequence of values
the caller can persist and audit. A change that breaks a rule raises
:class:`~models.errors.Refused` with a sentence a person can read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from models.errors import ConfigurationError, Refused
from models.workdays import WorkingCalendar


class ClockKind(StrEnum):
    """What a clock measures; the comment on each says what starts it and its default."""

    SERIOUS_INCIDENT_NOTIFICATION = "serious_incident_notification"  # LA aware -> 5 wd
    RAPID_REVIEW = "rapid_review"  # SIN date -> 15 wd
    INFORM_BODIES = "inform_bodies"  # chair decision -> 5 wd (inform DfE/Ofsted/Panel)
    AGENCY_REPORT = "agency_report"  # request sent -> 20 wd (one per agency)
    DRAFT_ROUND = "draft_round"  # draft circulated -> 10 wd (subject "round-N")
    FINAL_REPORT_TO_BODIES = "final_report_to_bodies"  # 7 wd BEFORE planned publication
    PUBLICATION = "publication"  # decision to hold -> 6 calendar months
    DEFERRAL_REVIEW = "deferral_review"  # deferral recorded -> 20 wd (subject "deferral-N")
    STAYS_PUBLISHED = "stays_published"  # publication -> 12 calendar months
    ACTION = "action"  # fixed due date per action (subject "action-N")
    # Local targets, not statutory: "expected within N working days" of the step opening, for
    # the steps no law or guidance times. Each starts when its step opens and is met when the
    # step is answered (``models.lifecycle.targets``); defaults and reasons: ``lcspr/settings.py``.
    CHAIR_DECISION_TARGET = "chair_decision_target"  # rapid review done -> 10 wd
    AUTHOR_APPOINTMENT_TARGET = "author_appointment_target"  # bodies informed -> 10 wd
    TERMS_OF_REFERENCE_TARGET = "terms_of_reference_target"  # author appointed -> 15 wd
    ENGAGEMENT_TARGET = "engagement_target"  # last agency report -> 20 wd
    DRAFT_CIRCULATION_TARGET = "draft_circulation_target"  # engagement / changes asked -> 15 wd ("round-N")
    FINAL_REPORT_TARGET = "final_report_target"  # draft accepted -> 10 wd
    LEARNING_REVIEW_TARGET = "learning_review_target"  # chair decision -> 40 wd
    ACTION_PLAN_TARGET = "action_plan_target"  # published / learning recorded -> 20 wd
    CLOSURE_TARGET = "closure_target"  # last action completed -> 40 wd

    @property
    def is_local_target(self) -> bool:
        """True for a partnership's own "expected within" target, False for a statutory or guidance clock."""
        return self in LOCAL_TARGETS


LOCAL_TARGETS: frozenset[ClockKind] = frozenset({
    ClockKind.CHAIR_DECISION_TARGET,
    ClockKind.AUTHOR_APPOINTMENT_TARGET,
    ClockKind.TERMS_OF_REFERENCE_TARGET,
    ClockKind.ENGAGEMENT_TARGET,
    ClockKind.DRAFT_CIRCULATION_TARGET,
    ClockKind.FINAL_REPORT_TARGET,
    ClockKind.LEARNING_REVIEW_TARGET,
    ClockKind.ACTION_PLAN_TARGET,
    ClockKind.CLOSURE_TARGET,
})


class RuleUnit(StrEnum):
    """How a rule's length turns a start date into a due date."""

    WORKING_DAYS_AFTER = "working_days_after"
    WORKING_DAYS_BEFORE = "working_days_before"
    CALENDAR_MONTHS = "calendar_months"
    FIXED = "fixed"  # the start date *is* the due date (actions); length ignored


@dataclass(frozen=True)
class ClockRule:
    """A length and a unit: "15 working days", "6 calendar months", ..."""

    unit: RuleUnit
    length: int

    def __post_init__(self) -> None:
        # Rules come from settings; a negative length is a configuration mistake, not
        # a request to count backwards (that is what WORKING_DAYS_BEFORE is for).
        if self.length < 0:
            raise ConfigurationError(
                f"A clock rule cannot have a negative length ({self.length} {self.unit.value})."
            )

    def due_from(self, start: date, calendar: WorkingCalendar) -> date:
        """The due date for a clock that starts on ``start`` under this rule."""
        if self.unit is RuleUnit.WORKING_DAYS_AFTER:
            return calendar.add(start, self.length)
        if self.unit is RuleUnit.WORKING_DAYS_BEFORE:
            return calendar.before(start, self.length)
        if self.unit is RuleUnit.CALENDAR_MONTHS:
            return calendar.add_months(start, self.length)
        return start


DEFAULT_RULES: Mapping[ClockKind, ClockRule] = MappingProxyType(
    {
        ClockKind.SERIOUS_INCIDENT_NOTIFICATION: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 5),
        ClockKind.RAPID_REVIEW: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 15),
        ClockKind.INFORM_BODIES: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 5),
        ClockKind.AGENCY_REPORT: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 20),
        ClockKind.DRAFT_ROUND: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 10),
        ClockKind.FINAL_REPORT_TO_BODIES: ClockRule(RuleUnit.WORKING_DAYS_BEFORE, 7),
        ClockKind.PUBLICATION: ClockRule(RuleUnit.CALENDAR_MONTHS, 6),
        ClockKind.DEFERRAL_REVIEW: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 20),
        ClockKind.STAYS_PUBLISHED: ClockRule(RuleUnit.CALENDAR_MONTHS, 12),
        ClockKind.ACTION: ClockRule(RuleUnit.FIXED, 0),
        ClockKind.CHAIR_DECISION_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 10),
        ClockKind.AUTHOR_APPOINTMENT_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 10),
        ClockKind.TERMS_OF_REFERENCE_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 15),
        ClockKind.ENGAGEMENT_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 20),
        ClockKind.DRAFT_CIRCULATION_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 15),
        ClockKind.FINAL_REPORT_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 10),
        ClockKind.LEARNING_REVIEW_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 40),
        ClockKind.ACTION_PLAN_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 20),
        ClockKind.CLOSURE_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 40),
    }
)


@dataclass(frozen=True)
class Pause:
    """A period in which the clock did not run; ``end`` is None while still paused."""

    start: date
    reason: str
    by: str
    end: date | None = None


@dataclass(frozen=True)
class Extension:
    """An agreed new due date, with who agreed it, when and why."""

    new_due: date
    reason: str
    by: str
    on: date


class ClockState(StrEnum):
    """Where a clock stands on a given day."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Clock:
    """One statutory or configured clock of a review.

    ``start`` is the event the rule counts from. For WORKING_DAYS_BEFORE rules it is the
    later anchor (the planned publication date) and for FIXED rules it is the due date
    itself, so for those two units work can legitimately happen before ``start``.
    """

    kind: ClockKind
    start: date
    rule: ClockRule
    subject: str = ""
    owner_role: str = ""
    pauses: tuple[Pause, ...] = ()
    extensions: tuple[Extension, ...] = ()
    met_on: date | None = None
    stopped_on: date | None = None
    stop_reason: str = ""

    # -- identity --------------------------------------------------------------------

    @property
    def key(self) -> str:
        """Unique within a review: the kind, plus the subject for per-subject clocks."""
        return self.kind.value if not self.subject else f"{self.kind.value}:{self.subject}"

    # -- derived values ---------------------------------------------------------------

    def due(self, calendar: WorkingCalendar) -> date:
        """The current due date: rule or latest extension, plus working days paused since.

        Pauses that ended before the latest extension was agreed are taken to be
        already reflected in the extended date, so they are not given back twice. An
        open pause does not move the date yet; :meth:`state_on` reports PAUSED instead.
        """
        if self.extensions:
            latest = self.extensions[-1]
            base = latest.new_due
            counted = [p for p in self.pauses if p.start >= latest.on]
        else:
            base = self.rule.due_from(self.start, calendar)
            counted = list(self.pauses)
        for p in counted:
            if p.end is not None:
                base = calendar.add(base, calendar.between(p.start, p.end))
        return base

    @property
    def is_paused(self) -> bool:
        """True while the latest pause has not been resumed."""
        return bool(self.pauses) and self.pauses[-1].end is None

    def state_on(self, today: date, calendar: WorkingCalendar) -> ClockState:
        """STOPPED, MET, PAUSED, BREACHED (``today`` after due) or RUNNING, in that order."""
        if self.stopped_on is not None:
            return ClockState.STOPPED
        if self.met_on is not None:
            return ClockState.MET
        if self.is_paused:
            return ClockState.PAUSED
        if today > self.due(calendar):
            return ClockState.BREACHED
        return ClockState.RUNNING

    def working_days_left(self, today: date, calendar: WorkingCalendar) -> int:
        """Working days from ``today`` to due; 0 on the due date, negative when overdue."""
        return calendar.between(today, self.due(calendar))

    def rag(self, today: date, calendar: WorkingCalendar, amber_within: int = 5) -> str:
        """One of "met", "stopped", "paused", "red" (overdue), "amber" (due soon), "green"."""
        state = self.state_on(today, calendar)
        if state is ClockState.STOPPED:
            return "stopped"
        if state is ClockState.MET:
            return "met"
        if state is ClockState.PAUSED:
            return "paused"
        if state is ClockState.BREACHED:
            return "red"
        if self.working_days_left(today, calendar) <= amber_within:
            return "amber"
        return "green"

    # -- changes (each returns a new clock or raises Refused) -------------------------

    def pause(self, on: date, reason: str, by: str) -> Clock:
        """Stop the clock running from ``on`` (e.g. waiting on criminal proceedings)."""
        self._refuse_if_closed("paused")
        if self.is_paused:
            raise Refused(
                f"The {self.key} clock has been paused since {self.pauses[-1].start}; "
                "resume it before pausing it again."
            )
        _require_reason(reason, f"pause the {self.key} clock")
        self._refuse_if_before_start(on, "paused")
        return replace(self, pauses=(*self.pauses, Pause(start=on, reason=reason, by=by)))

    def resume(self, on: date) -> Clock:
        """Let a paused clock run again from ``on``; the paused working days are given back."""
        if not self.is_paused:
            raise Refused(f"The {self.key} clock is not paused, so it cannot be resumed.")
        return replace(self, pauses=self._close_open_pause(on, "resumed"))

    def extend(
        self,
        new_due: date,
        reason: str,
        by: str,
        on: date,
        calendar: WorkingCalendar | None = None,
    ) -> Clock:
        """Agree a later due date, with the reason recorded.

        The new date must be after the current due date. That needs a calendar; pass
        the partnership's. Without one, a calendar with bank holidays but no closure
        days is used, which can only place the current due date earlier, never later.
        """
        self._refuse_if_closed("extended")
        _require_reason(reason, f"extend the {self.key} clock")
        current = self.due(calendar if calendar is not None else WorkingCalendar())
        if new_due <= current:
            raise Refused(
                f"The {self.key} clock is already due on {current}; an extension must give "
                f"a later date than that, not {new_due}."
            )
        extension = Extension(new_due=new_due, reason=reason, by=by, on=on)
        return replace(self, extensions=(*self.extensions, extension))

    def meet(self, on: date) -> Clock:
        """Record that what the clock measures was done on ``on``; an open pause ends then."""
        if self.met_on is not None:
            raise Refused(f"The {self.key} clock was already met on {self.met_on}.")
        if self.stopped_on is not None:
            raise Refused(
                f"The {self.key} clock was stopped on {self.stopped_on}; "
                "a stopped clock cannot be met."
            )
        self._refuse_if_before_start(on, "met")
        pauses = self._close_open_pause(on, "met") if self.is_paused else self.pauses
        return replace(self, met_on=on, pauses=pauses)

    def stop(self, on: date, reason: str) -> Clock:
        """The clock no longer applies (e.g. the review route changed); it falls silent."""
        if self.stopped_on is not None:
            raise Refused(f"The {self.key} clock was already stopped on {self.stopped_on}.")
        _require_reason(reason, f"stop the {self.key} clock")
        return replace(self, stopped_on=on, stop_reason=reason)

    # -- helpers ----------------------------------------------------------------------

    def _refuse_if_closed(self, verb: str) -> None:
        if self.met_on is not None:
            raise Refused(
                f"The {self.key} clock is already met on {self.met_on}; "
                f"a met clock cannot be {verb}."
            )
        if self.stopped_on is not None:
            raise Refused(
                f"The {self.key} clock was stopped on {self.stopped_on}; "
                f"a stopped clock cannot be {verb}."
            )

    def _refuse_if_before_start(self, on: date, verb: str) -> None:
        # For "before" and fixed rules the start is a deadline or a later anchor, not
        # the moment work began, so earlier dates are normal there.
        counts_forward = self.rule.unit in (RuleUnit.WORKING_DAYS_AFTER, RuleUnit.CALENDAR_MONTHS)
        if counts_forward and on < self.start:
            raise Refused(
                f"The {self.key} clock started on {self.start}; it cannot be {verb} "
                f"on {on}, which is earlier."
            )

    def _close_open_pause(self, on: date, verb: str) -> tuple[Pause, ...]:
        open_pause = self.pauses[-1]
        if on < open_pause.start:
            raise Refused(
                f"The {self.key} clock was paused on {open_pause.start}; it cannot be "
                f"{verb} on {on}, which is earlier."
            )
        return (*self.pauses[:-1], replace(open_pause, end=on))


# The colours of a clock still running (a breached one runs on, red), from best to worst.
RAG_COLOURS = ("green", "amber", "red")


def worst_rag(clocks: Iterable[Clock], today: date, calendar: WorkingCalendar, amber_within: int = 5) -> str | None:
    """The worst colour (:meth:`Clock.rag`) among the clocks still running on ``today``, or None if none
    runs: a paused, met or stopped clock has no colour to add."""
    colours = [rag for c in clocks if (rag := c.rag(today, calendar, amber_within)) in RAG_COLOURS]
    return max(colours, key=RAG_COLOURS.index) if colours else None


def _require_reason(reason: str, doing: str) -> None:
    if not reason.strip():
        raise Refused(f"A reason is needed to {doing}; please say why.")
