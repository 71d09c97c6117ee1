"""The values of the review lifecycle: where a review stands and what it is judged with.

``Review`` is everything the register knows about one review, as a frozen value; the
other modules of ``models.lifecycle`` only ever return new ones. ``Stage`` says where
a review stands and ``STEP_OF_STAGE`` which human step that stage waits on; ``Route``
is the kind of review the Chair chose. ``OpenStep`` describes the one step a review
waits on, and ``Policy`` holds the clock rules and working calendar every decision is
judged with.

Routes (``Route``): a full LCSPR; another learning review (reflective learning
session or practice review); no further review; a national review commissioned by
the National Panel.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cached_property

from models.clocks import DEFAULT_RULES, Clock, ClockKind, ClockRule
from models.errors import Refused
from models.referral import Referral
from models.steps import StepInput, StepKind
from models.workdays import WorkingCalendar


class Stage(StrEnum):
    REFERRED = "referred"
    RAPID_REVIEW = "rapid_review"
    AWAITING_DECISION = "awaiting_decision"
    INFORMING_BODIES = "informing_bodies"
    AUTHOR_APPOINTMENT = "author_appointment"
    TERMS_OF_REFERENCE = "terms_of_reference"
    AGENCY_REPORTS = "agency_reports"
    ENGAGEMENT = "engagement"
    DRAFTING = "drafting"
    DRAFT_REVIEW = "draft_review"
    FINAL_REPORT = "final_report"
    SENDING_FINAL_REPORT = "sending_final_report"
    PUBLICATION = "publication"
    LEARNING_REVIEW = "learning_review"
    ACTION_PLAN = "action_plan"
    ACTION_MONITORING = "action_monitoring"
    CLOSURE = "closure"
    CLOSED = "closed"


class Route(StrEnum):
    LCSPR = "lcspr"
    LEARNING_REVIEW = "learning_review"
    NO_FURTHER_REVIEW = "no_further_review"
    NATIONAL_REVIEW = "national_review"


# Which step each stage waits on; CLOSED waits on nothing.
STEP_OF_STAGE: Mapping[Stage, StepKind] = {
    Stage.REFERRED: StepKind.NOTIFICATION,
    Stage.RAPID_REVIEW: StepKind.RAPID_REVIEW,
    Stage.AWAITING_DECISION: StepKind.CHAIR_DECISION,
    Stage.INFORMING_BODIES: StepKind.INFORM_BODIES,
    Stage.AUTHOR_APPOINTMENT: StepKind.AUTHOR_APPOINTMENT,
    Stage.TERMS_OF_REFERENCE: StepKind.TERMS_OF_REFERENCE,
    Stage.AGENCY_REPORTS: StepKind.AGENCY_REPORT,
    Stage.ENGAGEMENT: StepKind.ENGAGEMENT,
    Stage.DRAFTING: StepKind.DRAFT_CIRCULATED,
    Stage.DRAFT_REVIEW: StepKind.DRAFT_REVIEW,
    Stage.FINAL_REPORT: StepKind.FINAL_REPORT,
    Stage.SENDING_FINAL_REPORT: StepKind.FINAL_REPORT_SENT,
    Stage.PUBLICATION: StepKind.PUBLICATION,
    Stage.LEARNING_REVIEW: StepKind.LEARNING_REVIEW,
    Stage.ACTION_PLAN: StepKind.ACTION,
    Stage.ACTION_MONITORING: StepKind.ACTION_UPDATE,
    Stage.CLOSURE: StepKind.CLOSURE,
}


@dataclass(frozen=True)
class AgencyRequest:
    agency: str
    requested_on: date
    received_on: date | None = None
    author_independent: bool | None = None


@dataclass(frozen=True)
class Action:
    """An action with its owner agency and due date: the action plan's (``kind`` "plan", for a recommendation),
    or an immediate safety action or obvious improvement recorded from the rapid review onwards
    (``recommendation_number`` 0; ``models.lifecycle.side_records``)."""

    number: int
    recommendation_number: int
    owner_agency: str
    description: str
    due_on: date
    completed_on: date | None = None
    evidence: str = ""
    kind: str = "plan"  # "plan", "immediate_safety" or "improvement"
    agreed_on: date | None = None


@dataclass(frozen=True)
class PanelResponse:
    """The National Panel's response to the rapid review: agreed, asked for more, or commissioned a national
    review."""

    response: str
    received_on: date
    note: str = ""


@dataclass(frozen=True)
class Review:
    """Everything the register knows about one review, as a value."""

    reference: str
    referral: Referral
    stage: Stage
    step_opened_on: date  # the date the open step became due to be answered
    route: Route | None = None
    learning_kind: str = ""
    notified: bool = False
    panel_reference: str = ""
    author: str = ""
    clocks: tuple[Clock, ...] = ()
    agencies: tuple[AgencyRequest, ...] = ()
    draft_round: int = 1
    publication_decisions: int = 0
    deferrals: int = 0
    recommendations: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    planned_publication: date | None = None
    published_on: date | None = None
    published_url: str = ""
    attempt: int = 1  # answers refused so far for the open step, plus one
    last_refusal: str = ""
    clock_adjustments: int = 0
    closed_on: date | None = None
    panel_responses: tuple[PanelResponse, ...] = ()

    def clock(self, key: str) -> Clock:
        for c in self.clocks:
            if c.key == key:
                return c
        raise Refused(f"Review {self.reference} has no clock '{key}'.")

    def has_clock(self, key: str) -> bool:
        return any(c.key == key for c in self.clocks)

    @property
    def outstanding_agencies(self) -> tuple[AgencyRequest, ...]:
        return tuple(a for a in self.agencies if a.received_on is None)

    @property
    def open_actions(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.completed_on is None)

    @property
    def plan_actions(self) -> tuple[Action, ...]:
        """The action plan's actions (for the final report's or learning review's recommendations)."""
        return tuple(a for a in self.actions if a.kind == "plan")


@dataclass(frozen=True)
class OpenStep:
    """The one human step a review is waiting on."""

    kind: StepKind
    key: str
    occurrence: int
    attempt: int
    title: str
    asked_of: str
    question: str
    opened_on: date
    due: date | None
    clock_key: str
    last_refusal: str
    input_model: type[StepInput]


@dataclass(frozen=True)
class Policy:
    """The clock rules and working calendar every decision is judged with."""

    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    rules: Mapping[ClockKind, ClockRule] = field(default_factory=lambda: dict(DEFAULT_RULES))

    def rule(self, kind: ClockKind) -> ClockRule:
        return self.rules.get(kind, DEFAULT_RULES[kind])

    @cached_property
    def fingerprint(self) -> str:
        """What a review's projection was derived with: the rules, the calendar's days off (its
        closures, and the release of the bank-holiday data) and :data:`PROJECTION_VERSION`. The
        register keeps it on each projected review; a review projected under another fingerprint is
        replayed, not read from its projection, until it is projected again."""
        rules = sorted((kind.value, rule.unit.value, rule.length)
                       for kind, rule in {**DEFAULT_RULES, **dict(self.rules)}.items())
        closures = sorted(d.isoformat() for d in self.calendar.closures)
        text = json.dumps([PROJECTION_VERSION, rules, closures, self.calendar.bank_holidays_source])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


# Raise it when a change of code changes what replaying a decision log derives (a new clock, another
# step title or due date): every review's projection is then rebuilt by the next deadline sweep.
PROJECTION_VERSION = 2  # 2: actions carry their kind and the date they were agreed
