"""The human steps of a review: what is asked, of whom, and the flat input each one takes.

Each input model is flat (str, bool, int, date, Literal) so that Prefect renders it as
the Resume form in the UI and the server validates it against its JSON schema. These
models check shape only; the rules that depend on the review (order, dates, routes)
live in ``models.lifecycle``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.errors import Refused
from models.inputs import Count, Day, Flag, Line, Person, Prose, Reference
from models.roles import Role


class StepKind(StrEnum):
    NOTIFICATION = "notification"
    RAPID_REVIEW = "rapid_review"
    CHAIR_DECISION = "chair_decision"
    INFORM_BODIES = "inform_bodies"
    AUTHOR_APPOINTMENT = "author_appointment"
    TERMS_OF_REFERENCE = "terms_of_reference"
    AGENCY_REPORT = "agency_report"
    ENGAGEMENT = "engagement"
    DRAFT_CIRCULATED = "draft_circulated"
    DRAFT_REVIEW = "draft_review"
    FINAL_REPORT = "final_report"
    FINAL_REPORT_SENT = "final_report_sent"
    PUBLICATION = "publication"
    LEARNING_REVIEW = "learning_review"
    ACTION = "action"
    ACTION_UPDATE = "action_update"
    CLOSURE = "closure"


class StepInput(BaseModel):
    """Fields every decision carries: who recorded it and the date it was made.

    ``legacy``: what a replay reads in a field an answer recorded before the field was asked for."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    legacy: ClassVar[Mapping[str, Any]] = {}

    decided_on: Day = Field(title="Date", description="The date this step was done (yyyy-MM-dd).")
    decided_by: Person = Field(
        title="Recorded by",
        min_length=2,
        max_length=80,
        description="Name and role of the person recording this decision.",
    )


class NotificationInput(StepInput):
    outcome: Literal["notified", "not_notifiable"] = Field(
        title="Outcome",
        description="'notified': the serious incident notification was submitted to the National Panel. "
        "'not_notifiable': the local authority decided it is not notifiable (give the reason).",
    )
    panel_reference: Reference = Field(
        default="", title="Panel reference", max_length=40,
        description="The reference the notification service gave (required when notified).",
    )
    rationale: Prose = Field(
        default="", title="Rationale", max_length=2000,
        description="Why it is not notifiable (required then). No identifying details.",
    )


# What a rapid review answer recorded before the form asked for the whole of the rapid review (Working
# Together 2023): a replay of such an answer reads this in each field it did not have.
NOT_RECORDED = "Not recorded: answered before the form asked for it."


class RapidReviewInput(StepInput):
    """The rapid review as Working Together 2023 asks for it: the facts and agency involvement, key practice
    episodes, immediate safety action and how learning is shared, possible improvements, how racism and other
    inequalities may have affected the family's experience and the practice, and next steps (the
    recommendation). The text stays in the register; messages never carry it."""

    legacy: ClassVar[Mapping[str, Any]] = {
        "facts": NOT_RECORDED, "practice_episodes": NOT_RECORDED, "learning_shared": NOT_RECORDED,
        "possible_improvements": NOT_RECORDED, "inequalities": NOT_RECORDED,
    }

    facts: Prose = Field(
        title="Facts and agency involvement", min_length=10, max_length=4000,
        description="The facts of the incident and which agencies were involved with the children and family. "
        "Pseudonyms and agency names only.",
    )
    practice_episodes: Prose = Field(
        title="Key practice episodes", min_length=10, max_length=4000,
        description="The key practice episodes and what the partners' analysis of them found.",
    )
    learning_shared: Prose = Field(
        title="How learning is shared", min_length=10, max_length=2000,
        description="How the learning identified so far is being shared now, before any review reports.",
    )
    possible_improvements: Prose = Field(
        title="Possible improvements", min_length=10, max_length=4000,
        description="Improvements to practice or systems the rapid review identified. Record each one to be "
        "progressed at once as an immediate action (`lcspr action`), with its owner and due date.",
    )
    inequalities: Prose = Field(
        title="Racism and other inequalities", min_length=10, max_length=4000,
        description="How racism and other inequalities linked to protected characteristics, including "
        "disability, may have affected the family's experience and the quality of practice. "
        "If none was found, say what was considered.",
    )
    recommendation: Literal["lcspr", "other_learning_review", "no_further_review"] = Field(
        title="Recommendation", description="The partners' recommendation to the Chair."
    )
    immediate_safety_actions: Flag = Field(
        title="Immediate safety actions agreed",
        description="The partners considered and agreed any immediate action to keep children safe.",
    )
    sent_to_panel: Flag = Field(
        title="Sent to the National Panel",
        description="The rapid review and recommendation have gone to the National Panel.",
    )
    rationale: Prose = Field(
        title="Rationale", min_length=10, max_length=4000,
        description="Next steps, and the reasons for the recommendation. No identifying details.",
    )


class ChairDecisionInput(StepInput):
    outcome: Literal[
        "lcspr", "reflective_learning_session", "practice_review", "no_further_review", "national_review"
    ] = Field(
        title="Decision",
        description="'national_review' records that the National Panel commissioned a national review instead.",
    )
    decider_role: Literal[
        "independent_chair", "delegated_safeguarding_partner", "lead_safeguarding_partner"
    ] = Field(title="Decided in the role of", description="Whose decision this is in law.")
    delegation: Line = Field(
        title="Delegation", min_length=3, max_length=200,
        description="The delegation or arrangement under which the decision was taken.",
    )
    rationale: Prose = Field(
        title="Rationale", min_length=10, max_length=4000, description="Reasons for the decision."
    )


class InformBodiesInput(StepInput):
    dfe_informed: Flag = Field(title="DfE informed", description="The Department for Education was informed.")
    ofsted_informed: Flag = Field(title="Ofsted informed", description="Ofsted was informed.")
    panel_informed: Flag = Field(title="National Panel informed", description="The National Panel was informed.")


class AuthorAppointmentInput(StepInput):
    author: Person = Field(title="Independent author", min_length=2, max_length=80,
                        description="Name of the independent author (reviewer).")
    independence_confirmed: Flag = Field(
        title="Independence confirmed",
        description="The author is independent of the agencies and people involved.",
    )
    conflicts: Literal["none", "declared_and_managed"] = Field(
        title="Conflicts of interest", description="What the author declared."
    )
    conflict_details: Prose = Field(
        default="", title="Conflict details", max_length=2000,
        description="How declared conflicts are managed (required if any were declared).",
    )


class TermsOfReferenceInput(StepInput):
    period_from: Day = Field(title="Period under review from")
    period_to: Day = Field(title="Period under review to")
    agencies_in_scope: Prose = Field(
        title="Agencies in scope", min_length=2, max_length=1000,
        description="Comma-separated names of the agencies asked for a report/chronology.",
    )
    methodology: Literal["systems_approach", "silp", "appreciative_inquiry", "other"] = Field(
        title="Methodology"
    )
    family_involvement: Prose = Field(
        title="Family involvement", min_length=3, max_length=2000,
        description="How the child and family will be involved.",
    )
    parallel_processes: Prose = Field(
        default="", title="Parallel processes", max_length=2000,
        description="Police/CPS, coroner, disciplinary processes and disclosure arrangements.",
    )


class AgencyReportInput(StepInput):
    agency: Line = Field(title="Agency", min_length=2, max_length=80,
                        description="Which agency's report or chronology was received.")
    author_independent: Flag = Field(
        title="Report author independent",
        description="The report author declared no direct involvement in, or line management of, the case.",
    )


class EngagementInput(StepInput):
    practitioner_events: Count = Field(
        title="Practitioner events held", ge=0, le=100,
        description="How many practitioner events (1:1 or group) the author held.",
    )
    family_views: Literal["contributed", "declined", "not_possible", "not_sought"] = Field(
        title="Family views"
    )
    family_reason: Prose = Field(
        default="", title="Reason", max_length=2000,
        description="Why the family's views were not sought (required then).",
    )


class DraftCirculatedInput(StepInput):
    version: Line = Field(title="Draft version", min_length=1, max_length=20, description="e.g. 'v0.3'.")


class DraftReviewInput(StepInput):
    outcome: Literal["accepted", "changes_requested"] = Field(title="Panel's verdict")
    comments: Prose = Field(default="", title="Summary of comments", max_length=4000)


class FinalReportInput(StepInput):
    recommendations: Prose = Field(
        title="Recommendations", min_length=5, max_length=8000,
        description="The report's recommendations, separated by ' | ' or one per line.",
    )
    executive_summary: Flag = Field(title="Executive summary agreed")
    planned_publication: Day = Field(title="Planned publication date")


class FinalReportSentInput(StepInput):
    sent_to_panel: Flag = Field(title="Sent to the National Panel")
    sent_to_dfe: Flag = Field(title="Sent to the DfE (Secretary of State)")
    sent_to_ofsted: Flag = Field(title="Sent to Ofsted")
    new_planned_publication: Day | None = Field(
        default=None, title="New planned publication date",
        description="Only if the report went out later than the notice period before publication allows.",
    )


class PublicationInput(StepInput):
    outcome: Literal["published", "deferred"] = Field(title="Outcome")
    published_url: Line = Field(default="", title="Where it is published", max_length=500)
    deferral_reason: Literal["", "criminal_proceedings", "inquest", "other"] = Field(
        default="", title="Reason for deferral"
    )
    deferral_details: Prose = Field(default="", title="Deferral details", max_length=2000)
    panel_told: Flag = Field(default=False, title="National Panel told of the deferral")


class LearningReviewInput(StepInput):
    learning: Prose = Field(title="Learning identified", min_length=10, max_length=8000)
    recommendations: Prose = Field(
        default="", title="Recommendations", max_length=8000,
        description="Any recommendations, separated by ' | ' or one per line; empty if none.",
    )


class ActionInput(StepInput):
    recommendation_number: Count = Field(title="Recommendation number", ge=1, le=500)
    owner_agency: Line = Field(title="Owner agency", min_length=2, max_length=80)
    action: Prose = Field(title="Action", min_length=5, max_length=2000)
    due_on: Day = Field(title="Due date")
    last_action: Flag = Field(default=False, title="This is the last action of the plan")


class ActionUpdateInput(StepInput):
    action_number: Count = Field(title="Action number", ge=1, le=5000)
    evidence: Prose = Field(title="Evidence of completion", min_length=5, max_length=4000)


class ClosureInput(StepInput):
    impact_evidence: Prose = Field(
        title="Evidence of impact", min_length=10, max_length=4000,
        description="What the sub group saw that shows the learning made a difference.",
    )


@dataclass(frozen=True)
class StepSpec:
    kind: StepKind
    title: str
    asked_of: str  # a role (models.roles.Role)
    question: str
    input_model: type[StepInput]


SPECS: dict[StepKind, StepSpec] = {
    s.kind: s
    for s in (
        StepSpec(StepKind.NOTIFICATION, "Serious incident notification", Role.BUSINESS_UNIT,
                 "Confirm the serious incident notification to the National Panel, or record why it is not notifiable.",
                 NotificationInput),
        StepSpec(StepKind.RAPID_REVIEW, "Rapid Review outcome", Role.SAFEGUARDING_PARTNERS,
                 "Record the rapid review as Working Together 2023 asks: the facts and agency involvement, key "
                 "practice episodes, immediate safety action and how learning is shared, possible improvements, how "
                 "racism and other inequalities may have affected the family and the practice, and the "
                 "recommendation.",
                 RapidReviewInput),
        StepSpec(StepKind.CHAIR_DECISION, "Chair decision", Role.INDEPENDENT_CHAIR,
                 "Decide whether a Local Child Safeguarding Practice Review goes ahead, "
                 "and record under which delegation.",
                 ChairDecisionInput),
        StepSpec(StepKind.INFORM_BODIES, "Inform DfE, Ofsted and the National Panel", Role.BUSINESS_UNIT,
                 "Confirm that the DfE, Ofsted and the National Panel were told of the decision to hold an LCSPR.",
                 InformBodiesInput),
        StepSpec(StepKind.AUTHOR_APPOINTMENT, "Independent author appointed", Role.BUSINESS_UNIT,
                 "Record the independent author appointed and their declaration of conflicts of interest.",
                 AuthorAppointmentInput),
        StepSpec(StepKind.TERMS_OF_REFERENCE, "Terms of Reference sign-off", Role.PANEL_CHAIR,
                 "Sign off the Terms of Reference: period, agencies in scope, methodology, family involvement.",
                 TermsOfReferenceInput),
        StepSpec(StepKind.AGENCY_REPORT, "Agency report received", Role.BUSINESS_UNIT,
                 "Record an agency report or chronology received, with its author's independence declaration.",
                 AgencyReportInput),
        StepSpec(StepKind.ENGAGEMENT, "Practitioner and family engagement", Role.AUTHOR,
                 "Record the practitioner events held and how the family's views were sought.",
                 EngagementInput),
        StepSpec(StepKind.DRAFT_CIRCULATED, "Draft report circulated", Role.AUTHOR,
                 "Record that the next draft report was circulated to the panel.",
                 DraftCirculatedInput),
        StepSpec(StepKind.DRAFT_REVIEW, "Draft report review", Role.PANEL_CHAIR,
                 "Record the panel's verdict on the draft: accepted, or changes requested.",
                 DraftReviewInput),
        StepSpec(StepKind.FINAL_REPORT, "Final report sign-off", Role.SAFEGUARDING_PARTNERS,
                 "Sign off the final report and its recommendations, and set the planned publication date.",
                 FinalReportInput),
        StepSpec(StepKind.FINAL_REPORT_SENT, "Final report sent to Panel, DfE and Ofsted", Role.BUSINESS_UNIT,
                 "Confirm the final report went to the National Panel, the DfE and Ofsted "
                 "at least {final_report_before_publication} working days before publication.",
                 FinalReportSentInput),
        StepSpec(StepKind.PUBLICATION, "Publication or deferral", Role.SAFEGUARDING_PARTNERS,
                 "Record that the report was published, or that publication is deferred (with the reason).",
                 PublicationInput),
        StepSpec(StepKind.LEARNING_REVIEW, "Learning review completed", Role.SUBGROUP,
                 "Record the learning from the reflective learning session or practice review.",
                 LearningReviewInput),
        StepSpec(StepKind.ACTION, "Action plan", Role.PANEL_CHAIR,
                 "Add one action of the action plan (tick 'last action' with the final one).",
                 ActionInput),
        StepSpec(StepKind.ACTION_UPDATE, "Action completed", Role.SUBGROUP,
                 "Record an action completed, with the evidence.",
                 ActionUpdateInput),
        StepSpec(StepKind.CLOSURE, "Review closure", Role.SUBGROUP,
                 "Close the review, with evidence of the impact of its learning.",
                 ClosureInput),
    )
}


_KEY = re.compile(r"^(?P<kind>[a-z-]+?)-(?P<occurrence>\d+)(?:-retry-(?P<attempt>\d+))?$")


def step_key(kind: StepKind, occurrence: int = 1, attempt: int = 1) -> str:
    """The stable key of a wait: 'rapid-review-1', and 'rapid-review-1-retry-2' after a refused answer.

    Prefect accepts only lowercase letters, digits and dashes in input keys.
    """
    key = f"{kind.value.replace('_', '-')}-{occurrence}"
    return key if attempt == 1 else f"{key}-retry-{attempt}"


def parse_step_key(key: str) -> tuple[StepKind, int, int]:
    """Split 'agency-report-2' or 'draft-review-1-retry-3' into (kind, occurrence, attempt)."""
    match = _KEY.match(key)
    if match is None:
        shown = f"'{key}'" if re.fullmatch(r"[a-z0-9_-]{1,60}", key) else "The step given"
        raise Refused(f"{shown} is not a step key such as 'rapid-review-1'.")
    kind = StepKind(match["kind"].replace("-", "_"))
    return kind, int(match["occurrence"]), int(match["attempt"] or 1)
