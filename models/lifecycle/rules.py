"""The 17 named transition rules of a review, and the table (``RULES``) that finds one by step.

A rule answers one step (``StepKind``): its ``check`` refuses an answer that may not be
recorded (raising ``Refused`` with a reason a person can read) and its ``effect`` turns
an accepted answer into the next ``Review``. Checks and effects are separate so that a
replay after a calendar or rule change applies what was accepted without judging it
again. Each rule names the stages it leaves from and the stages it can lead to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from models.clocks import ClockKind
from models.errors import Refused
from models.lifecycle.review_clocks import meet, start_clock, stop_running, update_clock
from models.lifecycle.state import Action, AgencyRequest, Policy, Review, Route, Stage
from models.reminders import agency_role
from models.steps import (
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
    StepKind,
    TermsOfReferenceInput,
)

# ---------------------------------------------------------------- reading free-text lists


def split_list(text: str) -> list[str]:
    """Split a free-text list given as ' | '-separated or one item per line."""
    parts = re.split(r"\s*\|\s*|\s*\n\s*", text)
    return [p.strip(" ;,.") for p in parts if p.strip(" ;,.")]


def split_agencies(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


# ---------------------------------------------------------------- the rules


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
    if v.outcome == "notified" and not v.panel_reference:
        raise Refused("Give the reference the notification service returned (Panel reference).")
    if v.outcome == "not_notifiable":
        if died := review.referral.died_in_or_after_care:
            raise Refused(
                f"{' and '.join(c.pseudonym for c in died)} died while looked after or as a care leaver: "
                "the death of a looked-after child or care leaver must be notified to the National "
                "Panel whether or not abuse or neglect is suspected."
            )
        if len(v.rationale) < 10:
            raise Refused("Record why the incident is not notifiable (Rationale, at least 10 characters).")


def _notification(review: Review, v: NotificationInput, policy: Policy) -> Review:
    key = ClockKind.SERIOUS_INCIDENT_NOTIFICATION.value
    if v.outcome == "not_notifiable":
        review = update_clock(review, key, lambda c: c.stop(v.decided_on, "not notifiable"))
        return replace(review, stage=Stage.AWAITING_DECISION)
    review = meet(review, key, v.decided_on)
    review = replace(review, notified=True, panel_reference=v.panel_reference)
    if review.referral.care_leavers and not review.referral.meets_criteria:
        # A care leaver's death is notified, but no rapid review follows unless the criteria are met
        # (for any child of the incident: one rapid review covers them all).
        return replace(review, stage=Stage.AWAITING_DECISION)
    # The rapid review clock starts the working day after the notification (day 0 = SIN date).
    review = start_clock(review, policy, ClockKind.RAPID_REVIEW, v.decided_on, owner_role="safeguarding_partners")
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
    review = meet(review, ClockKind.RAPID_REVIEW.value, v.decided_on)
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
        review = start_clock(review, policy, ClockKind.INFORM_BODIES, v.decided_on, owner_role="business_unit")
        review = start_clock(review, policy, ClockKind.PUBLICATION, v.decided_on, owner_role="safeguarding_partners")
        return replace(review, route=Route.LCSPR, stage=Stage.INFORMING_BODIES)
    if v.outcome in ("reflective_learning_session", "practice_review"):
        return replace(review, route=Route.LEARNING_REVIEW, learning_kind=v.outcome, stage=Stage.LEARNING_REVIEW)
    route = Route.NATIONAL_REVIEW if v.outcome == "national_review" else Route.NO_FURTHER_REVIEW
    if review.open_actions:
        # Immediate actions go on whatever is decided: the review waits on its closure, which waits on them.
        review = stop_running(review, v.decided_on, f"decision: {v.outcome}", keep=ClockKind.ACTION)
        return replace(review, route=route, stage=Stage.CLOSURE)
    review = stop_running(review, v.decided_on, f"decision: {v.outcome}")
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
    review = meet(review, ClockKind.INFORM_BODIES.value, v.decided_on)
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
        review = start_clock(review, policy, ClockKind.AGENCY_REPORT, v.decided_on, a.agency, agency_role(a.agency))
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
    review = meet(review, f"{ClockKind.AGENCY_REPORT.value}:{request.agency}", v.decided_on)
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
    review = start_clock(review, policy, ClockKind.DRAFT_ROUND, v.decided_on, f"round-{review.draft_round}", "panel")
    return replace(review, stage=Stage.DRAFT_REVIEW)


def _draft_review(review: Review, v: DraftReviewInput, policy: Policy) -> Review:
    review = meet(review, f"{ClockKind.DRAFT_ROUND.value}:round-{review.draft_round}", v.decided_on)
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
    return start_clock(
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
        review = update_clock(review, key, lambda c: replace(c, start=new_start))
        review = replace(review, planned_publication=new_start)
    review = meet(review, key, v.decided_on)
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
        review = meet(review, f"{ClockKind.DEFERRAL_REVIEW.value}:deferral-{review.deferrals}", v.decided_on)
    review = replace(review, publication_decisions=review.publication_decisions + 1)
    if v.outcome == "published":
        if review.has_clock(pub_key) and review.clock(pub_key).is_paused:
            review = update_clock(review, pub_key, lambda c: c.resume(max(v.decided_on, c.start)))
        review = meet(review, pub_key, v.decided_on)
        review = start_clock(review, policy, ClockKind.STAYS_PUBLISHED, v.decided_on, owner_role="business_unit")
        review = replace(review, published_on=v.decided_on, published_url=v.published_url)
        return replace(review, stage=Stage.ACTION_PLAN if review.recommendations else Stage.CLOSURE)
    n = review.deferrals + 1
    if review.has_clock(pub_key) and not review.clock(pub_key).is_paused and review.clock(pub_key).met_on is None:
        reason = f"publication deferred: {v.deferral_reason}"
        review = update_clock(review, pub_key, lambda c: c.pause(max(v.decided_on, c.start), reason, v.decided_by))
    review = start_clock(review, policy, ClockKind.DEFERRAL_REVIEW, v.decided_on, f"deferral-{n}", "subgroup")
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
    action = Action(number, v.recommendation_number, v.owner_agency, v.action, v.due_on, agreed_on=v.decided_on)
    review = replace(review, actions=(*review.actions, action))
    review = start_clock(review, policy, ClockKind.ACTION, v.due_on, f"action-{number}", agency_role(v.owner_agency))
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
    review = meet(review, f"{ClockKind.ACTION.value}:action-{action.number}", v.decided_on)
    return review if review.open_actions else replace(review, stage=Stage.CLOSURE)


def _check_closure(review: Review, v: ClosureInput, policy: Policy) -> None:
    if still_open := review.open_actions:
        listed = ", ".join(f"{a.number} ({a.owner_agency}, due {a.due_on})" for a in still_open)
        raise Refused(f"A review closes once its actions are completed; still open: action {listed}. "
                      "Record each completion with its evidence (lcspr action REFERENCE --complete N).")


def _closure(review: Review, v: ClosureInput, policy: Policy) -> Review:
    # "Stays published" is not a deadline to meet; closing the review does not stop it.
    for c in review.clocks:
        if c.kind is not ClockKind.STAYS_PUBLISHED and c.met_on is None and c.stopped_on is None:
            review = update_clock(review, c.key, lambda x: x.stop(v.decided_on, "review closed"))
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
              [S.INFORMING_BODIES, S.LEARNING_REVIEW, S.CLOSURE, S.CLOSED], _chair_decision, _check_chair_decision),
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
        _rule("close_review", StepKind.CLOSURE, [S.CLOSURE], [S.CLOSED], _closure, _check_closure),
    )
}

