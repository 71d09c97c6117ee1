"""The review lifecycle: stages, the step each stage waits on, and named transition rules.

A review's state is a pure value (``Review``) rebuilt by replaying its decision log
(``replay``). A new decision goes through ``decide``: it is checked against the open
step, the dates and the rule of that step, and either refused with a reason (nothing
changes) or turned into the next state. Checks and effects are separate so that a
replay after a calendar or rule change never re-judges what was already accepted.

Routes (``Route``): a full LCSPR; another learning review (reflective learning
session or practice review); no further review; a national review commissioned by
the National Panel. Each rule names the stages it leaves from and can lead to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.clocks import DEFAULT_RULES, Clock, ClockKind, ClockRule, Extension
from models.errors import Refused
from models.identifiers import ensure_no_identifiers
from models.referral import Referral
from models.reminders import agency_role
from models.steps import (
    SPECS,
    ActionInput,
    ActionUpdateInput,
    AgencyReportInput,
    AuthorAppointmentInput,
    ChairDecisionInput,
    ClosureInput,
    DraftCirculatedInput,
    DraftReviewInput,
    EngagementInput,
    FinalReportInput,
    FinalReportSentInput,
    InformBodiesInput,
    LearningReviewInput,
    NotificationInput,
    PublicationInput,
    RapidReviewInput,
    StepInput,
    StepKind,
    TermsOfReferenceInput,
    parse_step_key,
    step_key,
)
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
    number: int
    recommendation_number: int
    owner_agency: str
    description: str
    due_on: date
    completed_on: date | None = None
    evidence: str = ""


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


# ---------------------------------------------------------------- clock helpers


def _start_clock(
    review: Review, policy: Policy, kind: ClockKind, start: date, subject: str = "", owner_role: str = ""
) -> Review:
    clock = Clock(kind=kind, start=start, rule=policy.rule(kind), subject=subject, owner_role=owner_role)
    if review.has_clock(clock.key):  # replays and retries start a clock once
        return review
    return replace(review, clocks=(*review.clocks, clock))


def _update_clock(review: Review, key: str, change: Callable[[Clock], Clock]) -> Review:
    return replace(review, clocks=tuple(change(c) if c.key == key else c for c in review.clocks))


def _meet(review: Review, key: str, on: date) -> Review:
    if not review.has_clock(key) or review.clock(key).met_on is not None:
        return review
    return _update_clock(review, key, lambda c: c.meet(on))


def _stop_running(review: Review, on: date, reason: str) -> Review:
    """Stop every clock still running: the route no longer needs them."""

    def stop(c: Clock) -> Clock:
        if c.met_on is None and c.stopped_on is None:
            return c.stop(on, reason)
        return c

    return replace(review, clocks=tuple(stop(c) for c in review.clocks))


def split_list(text: str) -> list[str]:
    """Split a free-text list given as ' | '-separated or one item per line."""
    parts = re.split(r"\s*\|\s*|\s*\n\s*", text)
    return [p.strip(" ;,.") for p in parts if p.strip(" ;,.")]


def split_agencies(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """A named transition: the step it answers, where it may start and where it may lead."""

    name: str
    step: StepKind
    from_stages: frozenset[Stage]
    to_stages: frozenset[Stage]
    check: Callable[[Review, Any, Policy], None]
    effect: Callable[[Review, Any, Policy], Review]


def _no_check(review: Review, value: Any, policy: Policy) -> None:
    return None


# -- notification
def _check_notification(review: Review, v: NotificationInput, policy: Policy) -> None:
    r = review.referral
    if v.outcome == "notified" and not v.panel_reference:
        raise Refused("Give the reference the notification service returned (Panel reference).")
    if v.outcome == "not_notifiable":
        if r.harm == "died" and (r.looked_after or r.care_leaver):
            raise Refused(
                "The death of a looked-after child or care leaver must be notified to the National "
                "Panel whether or not abuse or neglect is suspected."
            )
        if len(v.rationale) < 10:
            raise Refused("Record why the incident is not notifiable (Rationale, at least 10 characters).")


def _notification(review: Review, v: NotificationInput, policy: Policy) -> Review:
    key = ClockKind.SERIOUS_INCIDENT_NOTIFICATION.value
    if v.outcome == "not_notifiable":
        review = _update_clock(review, key, lambda c: c.stop(v.decided_on, "not notifiable"))
        return replace(review, stage=Stage.AWAITING_DECISION)
    review = _meet(review, key, v.decided_on)
    review = replace(review, notified=True, panel_reference=v.panel_reference)
    if review.referral.care_leaver and not review.referral.meets_criteria:
        # A care leaver's death is notified, but no rapid review follows unless the criteria are met.
        return replace(review, stage=Stage.AWAITING_DECISION)
    # The rapid review clock starts the working day after the notification (day 0 = SIN date).
    review = _start_clock(review, policy, ClockKind.RAPID_REVIEW, v.decided_on, owner_role="safeguarding_partners")
    return replace(review, stage=Stage.RAPID_REVIEW)


# -- rapid review
def _check_rapid_review(review: Review, v: RapidReviewInput, policy: Policy) -> None:
    if not v.sent_to_panel:
        raise Refused(
            "The rapid review must go to the National Panel before the Chair decides; "
            "tick 'Sent to the National Panel' once it has."
        )
    if not v.immediate_safety_actions:
        raise Refused(
            "The partners must consider immediate safety actions as part of the rapid review; confirm they did."
        )


def _rapid_review(review: Review, v: RapidReviewInput, policy: Policy) -> Review:
    review = _meet(review, ClockKind.RAPID_REVIEW.value, v.decided_on)
    return replace(review, stage=Stage.AWAITING_DECISION)


# -- chair decision
def _check_chair_decision(review: Review, v: ChairDecisionInput, policy: Policy) -> None:
    if v.outcome in ("lcspr", "national_review") and not review.notified:
        raise Refused(
            "An LCSPR or national review needs a serious incident notification, and this referral was "
            "recorded as not notifiable. Choose a reflective learning session, a practice review or no further review."
        )


def _chair_decision(review: Review, v: ChairDecisionInput, policy: Policy) -> Review:
    if v.outcome == "lcspr":
        review = _start_clock(review, policy, ClockKind.INFORM_BODIES, v.decided_on, owner_role="business_unit")
        review = _start_clock(review, policy, ClockKind.PUBLICATION, v.decided_on, owner_role="safeguarding_partners")
        return replace(review, route=Route.LCSPR, stage=Stage.INFORMING_BODIES)
    if v.outcome in ("reflective_learning_session", "practice_review"):
        return replace(review, route=Route.LEARNING_REVIEW, learning_kind=v.outcome, stage=Stage.LEARNING_REVIEW)
    route = Route.NATIONAL_REVIEW if v.outcome == "national_review" else Route.NO_FURTHER_REVIEW
    review = _stop_running(review, v.decided_on, f"decision: {v.outcome}")
    return replace(review, route=route, stage=Stage.CLOSED, closed_on=v.decided_on)


# -- inform bodies
def _check_inform_bodies(review: Review, v: InformBodiesInput, policy: Policy) -> None:
    missing = [n for n, ok in (("the DfE", v.dfe_informed), ("Ofsted", v.ofsted_informed),
                               ("the National Panel", v.panel_informed)) if not ok]
    if missing:
        raise Refused(
            f"All three bodies must be informed of the decision to hold an LCSPR; not yet: {', '.join(missing)}."
        )


def _inform_bodies(review: Review, v: InformBodiesInput, policy: Policy) -> Review:
    review = _meet(review, ClockKind.INFORM_BODIES.value, v.decided_on)
    return replace(review, stage=Stage.AUTHOR_APPOINTMENT)


# -- author
def _check_author(review: Review, v: AuthorAppointmentInput, policy: Policy) -> None:
    if not v.independence_confirmed:
        raise Refused(
            "The independent author must be independent of the agencies and people involved; "
            "confirm independence or appoint another author."
        )
    if v.conflicts == "declared_and_managed" and len(v.conflict_details) < 10:
        raise Refused("Describe how the declared conflicts of interest are managed (Conflict details).")


def _author(review: Review, v: AuthorAppointmentInput, policy: Policy) -> Review:
    return replace(review, author=v.author, stage=Stage.TERMS_OF_REFERENCE)


# -- terms of reference
def _check_tor(review: Review, v: TermsOfReferenceInput, policy: Policy) -> None:
    if v.period_from >= v.period_to:
        raise Refused(
            f"The period under review must start before it ends ({v.period_from} is not before {v.period_to})."
        )
    if v.period_to > v.decided_on:
        raise Refused("The period under review cannot end after the Terms of Reference are signed off.")
    agencies = split_agencies(v.agencies_in_scope)
    if not agencies:
        raise Refused("Name at least one agency in scope (comma-separated).")
    for agency in agencies:
        agency_role(agency)  # refuses a name with no letter or digit: it could not be addressed
    if len({a.lower() for a in agencies}) != len(agencies):
        raise Refused("An agency is named twice in 'Agencies in scope'.")


def _tor(review: Review, v: TermsOfReferenceInput, policy: Policy) -> Review:
    requests = tuple(AgencyRequest(agency=a, requested_on=v.decided_on) for a in split_agencies(v.agencies_in_scope))
    review = replace(review, agencies=requests, stage=Stage.AGENCY_REPORTS)
    for a in requests:
        review = _start_clock(review, policy, ClockKind.AGENCY_REPORT, v.decided_on, a.agency, agency_role(a.agency))
    return review


# -- agency reports (a collect-until-complete loop: one wait at a time)
def _find_agency(review: Review, name: str) -> AgencyRequest:
    for a in review.agencies:
        if a.agency.lower() == name.strip().lower():
            return a
    raise Refused(f"'{name}' is not an agency in scope. In scope: {', '.join(a.agency for a in review.agencies)}.")


def _check_agency_report(review: Review, v: AgencyReportInput, policy: Policy) -> None:
    request = _find_agency(review, v.agency)
    if request.received_on is not None:
        raise Refused(f"The report from {request.agency} was already recorded as received on {request.received_on}.")
    if not v.author_independent:
        raise Refused(
            f"The report author must be independent of direct involvement in, or line management of, the case. "
            f"Ask {request.agency} for a report by an independent author."
        )


def _agency_report(review: Review, v: AgencyReportInput, policy: Policy) -> Review:
    request = _find_agency(review, v.agency)
    received = replace(request, received_on=v.decided_on, author_independent=True)
    review = replace(review, agencies=tuple(received if a is request else a for a in review.agencies))
    review = _meet(review, f"{ClockKind.AGENCY_REPORT.value}:{request.agency}", v.decided_on)
    if not review.outstanding_agencies:
        review = replace(review, stage=Stage.ENGAGEMENT)
    return review


# -- engagement
def _check_engagement(review: Review, v: EngagementInput, policy: Policy) -> None:
    if v.family_views == "not_sought" and len(v.family_reason) < 10:
        raise Refused("Record why the family's views were not sought (Reason).")


def _engagement(review: Review, v: EngagementInput, policy: Policy) -> Review:
    return replace(review, stage=Stage.DRAFTING)


# -- drafts (a loop of rounds)
def _draft_circulated(review: Review, v: DraftCirculatedInput, policy: Policy) -> Review:
    review = _start_clock(review, policy, ClockKind.DRAFT_ROUND, v.decided_on, f"round-{review.draft_round}", "panel")
    return replace(review, stage=Stage.DRAFT_REVIEW)


def _draft_review(review: Review, v: DraftReviewInput, policy: Policy) -> Review:
    review = _meet(review, f"{ClockKind.DRAFT_ROUND.value}:round-{review.draft_round}", v.decided_on)
    if v.outcome == "accepted":
        return replace(review, stage=Stage.FINAL_REPORT)
    return replace(review, stage=Stage.DRAFTING, draft_round=review.draft_round + 1)


# -- final report
def _check_final_report(review: Review, v: FinalReportInput, policy: Policy) -> None:
    if not split_list(v.recommendations):
        raise Refused("Give at least one recommendation.")
    before = policy.rule(ClockKind.FINAL_REPORT_TO_BODIES).length
    earliest = policy.calendar.add(v.decided_on, before)
    if v.planned_publication < earliest:
        raise Refused(
            f"The final report must reach the National Panel, the DfE and Ofsted at least {before} working days "
            f"before publication: plan publication on or after {earliest}."
        )


def _final_report(review: Review, v: FinalReportInput, policy: Policy) -> Review:
    review = replace(review, recommendations=tuple(split_list(v.recommendations)),
                     planned_publication=v.planned_publication, stage=Stage.SENDING_FINAL_REPORT)
    return _start_clock(
        review, policy, ClockKind.FINAL_REPORT_TO_BODIES, v.planned_publication, owner_role="business_unit"
    )


def _check_final_report_sent(review: Review, v: FinalReportSentInput, policy: Policy) -> None:
    missing = [n for n, ok in (("the National Panel", v.sent_to_panel), ("the DfE", v.sent_to_dfe),
                               ("Ofsted", v.sent_to_ofsted)) if not ok]
    if missing:
        raise Refused(f"The final report must go to all three bodies; not yet sent to: {', '.join(missing)}.")
    planned = v.new_planned_publication or review.planned_publication
    assert planned is not None
    before = policy.rule(ClockKind.FINAL_REPORT_TO_BODIES).length
    latest = policy.calendar.before(planned, before)
    if v.decided_on > latest:
        earliest = policy.calendar.add(v.decided_on, before)
        raise Refused(
            f"Sent on {v.decided_on}, which is less than {before} working days before publication on {planned}. "
            f"Give a new planned publication date on or after {earliest}."
        )


def _final_report_sent(review: Review, v: FinalReportSentInput, policy: Policy) -> Review:
    key = ClockKind.FINAL_REPORT_TO_BODIES.value
    if v.new_planned_publication and v.new_planned_publication != review.planned_publication:
        # A new publication date moves the "7 working days before" clock with it.
        new_start = v.new_planned_publication
        review = _update_clock(review, key, lambda c: replace(c, start=new_start))
        review = replace(review, planned_publication=new_start)
    review = _meet(review, key, v.decided_on)
    return replace(review, stage=Stage.PUBLICATION)


# -- publication / deferral loop
def _check_publication(review: Review, v: PublicationInput, policy: Policy) -> None:
    if v.outcome == "published":
        if not v.published_url:
            raise Refused("Give where the report is published (Where it is published).")
        sent = review.clock(ClockKind.FINAL_REPORT_TO_BODIES.value).met_on
        before = policy.rule(ClockKind.FINAL_REPORT_TO_BODIES).length
        if sent is not None and v.decided_on < policy.calendar.add(sent, before):
            raise Refused(
                f"Publication on {v.decided_on} is less than {before} working days after the report went to the "
                f"Panel, DfE and Ofsted ({sent}); the earliest date is {policy.calendar.add(sent, before)}."
            )
    else:
        if not v.deferral_reason:
            raise Refused("Give the reason publication is deferred (e.g. criminal proceedings, inquest).")
        if not v.panel_told:
            raise Refused("Tell the National Panel that publication is deferred, then confirm it here.")


def _publication(review: Review, v: PublicationInput, policy: Policy) -> Review:
    pub_key = ClockKind.PUBLICATION.value
    if review.deferrals:
        review = _meet(review, f"{ClockKind.DEFERRAL_REVIEW.value}:deferral-{review.deferrals}", v.decided_on)
    review = replace(review, publication_decisions=review.publication_decisions + 1)
    if v.outcome == "published":
        if review.has_clock(pub_key) and review.clock(pub_key).is_paused:
            review = _update_clock(review, pub_key, lambda c: c.resume(max(v.decided_on, c.start)))
        review = _meet(review, pub_key, v.decided_on)
        review = _start_clock(review, policy, ClockKind.STAYS_PUBLISHED, v.decided_on, owner_role="business_unit")
        review = replace(review, published_on=v.decided_on, published_url=v.published_url)
        return replace(review, stage=Stage.ACTION_PLAN if review.recommendations else Stage.CLOSURE)
    n = review.deferrals + 1
    if review.has_clock(pub_key) and not review.clock(pub_key).is_paused and review.clock(pub_key).met_on is None:
        reason = f"publication deferred: {v.deferral_reason}"
        review = _update_clock(review, pub_key, lambda c: c.pause(max(v.decided_on, c.start), reason, v.decided_by))
    review = _start_clock(review, policy, ClockKind.DEFERRAL_REVIEW, v.decided_on, f"deferral-{n}", "subgroup")
    return replace(review, deferrals=n)


# -- other learning review
def _learning_review(review: Review, v: LearningReviewInput, policy: Policy) -> Review:
    recs = tuple(split_list(v.recommendations))
    return replace(review, recommendations=recs, stage=Stage.ACTION_PLAN if recs else Stage.CLOSURE)


# -- action plan (one action per answer) and monitoring
def _check_action(review: Review, v: ActionInput, policy: Policy) -> None:
    if v.recommendation_number > len(review.recommendations):
        raise Refused(
            f"There is no recommendation {v.recommendation_number}; this review has "
            f"{len(review.recommendations)} recommendation(s)."
        )
    agency_role(v.owner_agency)  # refuses a name with no letter or digit
    if v.due_on <= v.decided_on:
        raise Refused(f"The action's due date ({v.due_on}) must be after the date it is agreed ({v.decided_on}).")
    if v.last_action:
        covered = {a.recommendation_number for a in review.actions} | {v.recommendation_number}
        uncovered = [str(i) for i in range(1, len(review.recommendations) + 1) if i not in covered]
        if uncovered:
            raise Refused(
                "Every recommendation needs an action before the plan is complete; "
                f"none yet for: {', '.join(uncovered)}."
            )


def _action(review: Review, v: ActionInput, policy: Policy) -> Review:
    number = len(review.actions) + 1
    action = Action(number, v.recommendation_number, v.owner_agency, v.action, v.due_on)
    review = replace(review, actions=(*review.actions, action))
    review = _start_clock(review, policy, ClockKind.ACTION, v.due_on, f"action-{number}", agency_role(v.owner_agency))
    return replace(review, stage=Stage.ACTION_MONITORING) if v.last_action else review


def _find_action(review: Review, number: int) -> Action:
    for a in review.actions:
        if a.number == number:
            return a
    raise Refused(f"There is no action {number}; this plan has {len(review.actions)} action(s).")


def _check_action_update(review: Review, v: ActionUpdateInput, policy: Policy) -> None:
    action = _find_action(review, v.action_number)
    if action.completed_on is not None:
        raise Refused(f"Action {action.number} was already completed on {action.completed_on}.")


def _action_update(review: Review, v: ActionUpdateInput, policy: Policy) -> Review:
    action = _find_action(review, v.action_number)
    done = replace(action, completed_on=v.decided_on, evidence=v.evidence)
    review = replace(review, actions=tuple(done if a is action else a for a in review.actions))
    review = _meet(review, f"{ClockKind.ACTION.value}:action-{action.number}", v.decided_on)
    return review if review.open_actions else replace(review, stage=Stage.CLOSURE)


def _closure(review: Review, v: ClosureInput, policy: Policy) -> Review:
    # "Stays published" is not a deadline to meet; closing the review does not stop it.
    for c in review.clocks:
        if c.kind is not ClockKind.STAYS_PUBLISHED and c.met_on is None and c.stopped_on is None:
            review = _update_clock(review, c.key, lambda x: x.stop(v.decided_on, "review closed"))
    return replace(review, stage=Stage.CLOSED, closed_on=v.decided_on)


def _rule(name: str, step: StepKind, frm: Iterable[Stage], to: Iterable[Stage],
          effect: Callable[[Review, Any, Policy], Review],
          check: Callable[[Review, Any, Policy], None] = _no_check) -> Rule:
    return Rule(name, step, frozenset(frm), frozenset(to), check, effect)


S = Stage
RULES: Mapping[StepKind, Rule] = {
    r.step: r
    for r in (
        _rule("record_notification", StepKind.NOTIFICATION, [S.REFERRED],
              [S.RAPID_REVIEW, S.AWAITING_DECISION], _notification, _check_notification),
        _rule("complete_rapid_review", StepKind.RAPID_REVIEW, [S.RAPID_REVIEW], [S.AWAITING_DECISION],
              _rapid_review, _check_rapid_review),
        _rule("decide_review", StepKind.CHAIR_DECISION, [S.AWAITING_DECISION],
              [S.INFORMING_BODIES, S.LEARNING_REVIEW, S.CLOSED], _chair_decision, _check_chair_decision),
        _rule("inform_bodies", StepKind.INFORM_BODIES, [S.INFORMING_BODIES], [S.AUTHOR_APPOINTMENT],
              _inform_bodies, _check_inform_bodies),
        _rule("appoint_author", StepKind.AUTHOR_APPOINTMENT, [S.AUTHOR_APPOINTMENT], [S.TERMS_OF_REFERENCE],
              _author, _check_author),
        _rule("sign_off_terms_of_reference", StepKind.TERMS_OF_REFERENCE, [S.TERMS_OF_REFERENCE],
              [S.AGENCY_REPORTS], _tor, _check_tor),
        _rule("receive_agency_report", StepKind.AGENCY_REPORT, [S.AGENCY_REPORTS],
              [S.AGENCY_REPORTS, S.ENGAGEMENT], _agency_report, _check_agency_report),
        _rule("record_engagement", StepKind.ENGAGEMENT, [S.ENGAGEMENT], [S.DRAFTING],
              _engagement, _check_engagement),
        _rule("circulate_draft", StepKind.DRAFT_CIRCULATED, [S.DRAFTING], [S.DRAFT_REVIEW], _draft_circulated),
        _rule("review_draft", StepKind.DRAFT_REVIEW, [S.DRAFT_REVIEW], [S.DRAFTING, S.FINAL_REPORT], _draft_review),
        _rule("sign_off_final_report", StepKind.FINAL_REPORT, [S.FINAL_REPORT], [S.SENDING_FINAL_REPORT],
              _final_report, _check_final_report),
        _rule("send_final_report", StepKind.FINAL_REPORT_SENT, [S.SENDING_FINAL_REPORT], [S.PUBLICATION],
              _final_report_sent, _check_final_report_sent),
        _rule("publish_or_defer", StepKind.PUBLICATION, [S.PUBLICATION],
              [S.PUBLICATION, S.ACTION_PLAN, S.CLOSURE], _publication, _check_publication),
        _rule("complete_learning_review", StepKind.LEARNING_REVIEW, [S.LEARNING_REVIEW],
              [S.ACTION_PLAN, S.CLOSURE], _learning_review),
        _rule("add_action", StepKind.ACTION, [S.ACTION_PLAN], [S.ACTION_PLAN, S.ACTION_MONITORING],
              _action, _check_action),
        _rule("complete_action", StepKind.ACTION_UPDATE, [S.ACTION_MONITORING],
              [S.ACTION_MONITORING, S.CLOSURE], _action_update, _check_action_update),
        _rule("close_review", StepKind.CLOSURE, [S.CLOSURE], [S.CLOSED], _closure),
    )
}


# ---------------------------------------------------------------- opening, the open step


def open_review(reference: str, referral: Referral, policy: Policy) -> Review:
    """A new review at its first step, with the notification clock running from awareness."""
    review = Review(reference=reference, referral=referral, stage=Stage.REFERRED,
                    step_opened_on=referral.la_aware_date)
    return _start_clock(review, policy, ClockKind.SERIOUS_INCIDENT_NOTIFICATION, referral.la_aware_date,
                        owner_role="business_unit")


def _occurrence(review: Review, kind: StepKind) -> int:
    if kind is StepKind.AGENCY_REPORT:
        return len(review.agencies) - len(review.outstanding_agencies) + 1
    if kind in (StepKind.DRAFT_CIRCULATED, StepKind.DRAFT_REVIEW):
        return review.draft_round
    if kind is StepKind.PUBLICATION:
        return review.publication_decisions + 1
    if kind is StepKind.ACTION:
        return len(review.actions) + 1
    if kind is StepKind.ACTION_UPDATE:
        return len(review.actions) - len(review.open_actions) + 1
    return 1


def _step_clock(review: Review, kind: StepKind, policy: Policy) -> str:
    """The clock that sets the open step's due date ('' if none does)."""
    candidates: list[Clock] = []
    if kind is StepKind.AGENCY_REPORT:
        candidates = [c for c in review.clocks if c.kind is ClockKind.AGENCY_REPORT and c.met_on is None]
    elif kind is StepKind.ACTION_UPDATE:
        candidates = [
            c for c in review.clocks if c.kind is ClockKind.ACTION and c.met_on is None and c.stopped_on is None
        ]
    elif kind is StepKind.DRAFT_REVIEW:
        candidates = [c for c in review.clocks if c.key == f"draft_round:round-{review.draft_round}"]
    elif kind is StepKind.PUBLICATION:
        key = f"deferral_review:deferral-{review.deferrals}" if review.deferrals else "publication"
        candidates = [c for c in review.clocks if c.key == key]
    else:
        by_step = {
            StepKind.NOTIFICATION: "serious_incident_notification",
            StepKind.RAPID_REVIEW: "rapid_review",
            StepKind.INFORM_BODIES: "inform_bodies",
            StepKind.FINAL_REPORT: "publication",
            StepKind.FINAL_REPORT_SENT: "final_report_to_bodies",
        }
        candidates = [c for c in review.clocks if c.key == by_step.get(kind)]
    candidates.sort(key=lambda c: c.due(policy.calendar))
    return candidates[0].key if candidates else ""


def open_step(review: Review, policy: Policy) -> OpenStep | None:
    """The step the review is waiting on, or None once it is closed."""
    kind = STEP_OF_STAGE.get(review.stage)
    if kind is None:
        return None
    spec = SPECS[kind]
    occurrence = _occurrence(review, kind)
    clock_key = _step_clock(review, kind, policy)
    due = review.clock(clock_key).due(policy.calendar) if clock_key else None
    asked_of = spec.asked_of
    if kind is StepKind.AGENCY_REPORT:
        asked_of = ",".join(agency_role(a.agency) for a in review.outstanding_agencies)
    return OpenStep(
        kind=kind, key=step_key(kind, occurrence, review.attempt), occurrence=occurrence,
        attempt=review.attempt, title=spec.title, asked_of=asked_of, question=spec.question,
        opened_on=review.step_opened_on, due=due, clock_key=clock_key,
        last_refusal=review.last_refusal, input_model=spec.input_model,
    )


# ---------------------------------------------------------------- deciding


def parse_input(kind: StepKind, payload: Mapping[str, Any]) -> StepInput:
    """Validate a raw answer against the step's input model, refusing with a readable reason."""
    model = SPECS[kind].input_model
    try:
        return model.model_validate(dict(payload))
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    return "The answer is not valid: " + "; ".join(parts) + "."


def check_decision(review: Review, key: str, value: StepInput, today: date, policy: Policy) -> Rule:
    """Refuse a decision that may not be recorded now; return the rule that will apply it."""
    step = open_step(review, policy)
    if step is None:
        raise Refused(f"Review {review.reference} is closed; it waits on no step.")
    kind, _, _ = parse_step_key(key)
    if kind is not step.kind:
        raise Refused(
            f"Review {review.reference} is not waiting on '{SPECS[kind].title}'; it is waiting on "
            f"'{step.title}' (step {step.key}). Steps are taken in order."
        )
    if key != step.key:
        raise Refused(f"Step {key} is not open; the open step is {step.key}.")
    rule = RULES[kind]
    if review.stage not in rule.from_stages:  # a guard on the table itself
        raise Refused(f"Rule {rule.name} cannot run from stage {review.stage}.")
    if value.decided_on > today:
        raise Refused(f"The date given ({value.decided_on}) is in the future; today is {today}.")
    if value.decided_on < step.opened_on:
        raise Refused(
            f"The date given ({value.decided_on}) is before this step opened ({step.opened_on}). "
            "Check the date."
        )
    for name, field_info in type(value).model_fields.items():
        text = getattr(value, name)
        if isinstance(text, str) and name != "decided_by":
            ensure_no_identifiers(field_info.title or name, text)
    rule.check(review, value, policy)
    return rule


def apply_decision(review: Review, rule: Rule, value: StepInput, policy: Policy) -> Review:
    """The effect of an accepted decision (no checks: replays must not re-judge history)."""
    after = rule.effect(review, value, policy)
    if after.stage not in rule.to_stages:
        raise AssertionError(f"rule {rule.name} led to {after.stage}, outside {sorted(rule.to_stages)}")
    return replace(after, attempt=1, last_refusal="", step_opened_on=value.decided_on)


def decide(review: Review, key: str, payload: Mapping[str, Any], today: date, policy: Policy) -> Review:
    """Check and apply one answer to the open step; raises Refused and changes nothing if it may not."""
    kind, _, _ = parse_step_key(key)
    value = parse_input(kind, payload)
    rule = check_decision(review, key, value, today, policy)
    return apply_decision(review, rule, value, policy)


def refuse(review: Review, reason: str) -> Review:
    """A refused answer: the step stays open and is asked again under the next attempt's key."""
    return replace(review, attempt=review.attempt + 1, last_refusal=reason)


# ---------------------------------------------------------------- clock adjustments


class ClockAdjustment(BaseModel):
    """Pause, resume or extend a clock, with a reason and who decided (as SLA engines allow)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    clock: str = Field(description="The clock's key, as `lcspr status` shows it, e.g. 'rapid_review'.")
    action: Literal["pause", "resume", "extend"]
    on: date
    by: str = Field(min_length=2, max_length=80)
    reason: str = Field(default="", max_length=2000)
    new_due: date | None = None


def adjust_clock(review: Review, adj: ClockAdjustment, today: date, policy: Policy) -> Review:
    if adj.on > today:
        raise Refused(f"The date given ({adj.on}) is in the future; today is {today}.")
    if adj.action != "resume" and len(adj.reason) < 5:
        raise Refused(f"Give a reason to {adj.action} the clock.")
    ensure_no_identifiers("Reason", adj.reason)
    clock = review.clock(adj.clock)
    if adj.action == "pause":
        changed = clock.pause(adj.on, adj.reason, adj.by)
    elif adj.action == "resume":
        changed = clock.resume(adj.on)
    else:
        if adj.new_due is None:
            raise Refused("Give the new due date to extend the clock.")
        changed = clock.extend(adj.new_due, adj.reason, adj.by, adj.on, calendar=policy.calendar)
    review = _update_clock(review, clock.key, lambda _: changed)
    return replace(review, clock_adjustments=review.clock_adjustments + 1)


# ---------------------------------------------------------------- replay


@dataclass(frozen=True)
class LoggedDecision:
    """One line of a review's decision log, as the register keeps it."""

    key: str
    payload: Mapping[str, Any]
    accepted: bool
    reason: str = ""


def replay(reference: str, referral: Referral, log: Sequence[LoggedDecision], policy: Policy) -> Review:
    """Rebuild a review from its referral and decision log, in order.

    Accepted decisions are applied without being judged again, so a changed calendar
    or rule recomputes due dates but never rewrites what was decided.
    """
    review = open_review(reference, referral, policy)
    for entry in log:
        if entry.key.startswith("clock-"):
            if entry.accepted:
                adj = ClockAdjustment.model_validate(dict(entry.payload))
                if adj.action == "extend" and adj.new_due is not None:
                    # An agreed extension is a fact: re-judging "later than the current due
                    # date" under a changed calendar or rule would refuse what was accepted.
                    clock = review.clock(adj.clock)
                    ext = Extension(new_due=adj.new_due, reason=adj.reason, by=adj.by, on=adj.on)
                    extended = replace(clock, extensions=(*clock.extensions, ext))
                    clocks = tuple(extended if c.key == clock.key else c for c in review.clocks)
                    adjustments = review.clock_adjustments + 1
                    review = replace(review, clocks=clocks, clock_adjustments=adjustments)
                else:
                    review = adjust_clock(review, adj, adj.on, policy)
            continue
        if not entry.accepted:
            review = refuse(review, entry.reason)
            continue
        kind, _, _ = parse_step_key(entry.key)
        value = SPECS[kind].input_model.model_validate(dict(entry.payload))
        review = apply_decision(review, RULES[kind], value, policy)
    return review
