"""Which messages a review owes today: reminders and escalations for its clocks, and the
announcements when a step opens. Pure: it names messages by idempotency key, role
and template kind; rendering and sending happen elsewhere.

A notice's context carries only the reference, the step's title, the due date, days
overdue, who it was escalated from, the recipient role and the figures of the
partnership's clock rules that its message quotes: never the pseudonym, the outline or
any free text of the case.

Every figure a partnership can configure comes from its rules, never from a default
written here: a clock's title quotes the clock's own rule, and the statutory messages
quote the rules passed to :func:`step_notices`.

A local target (``ClockKind.is_local_target``) is named as one in every message about it,
its figure included: "Chair decision (local target: 10 working days)", so nobody reads a
partnership's expectation as a statutory deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from models.clocks import DEFAULT_RULES, Clock, ClockKind, ClockRule, RuleUnit
from models.errors import ConfigurationError
from models.lifecycle import OpenStep
from models.reminders import ReminderPolicy, messages_due
from models.steps import StepKind
from models.workdays import WorkingCalendar

# "{rule}" is the clock's own rule in words ("6 calendar months"), "{subject}" its subject.
CLOCK_TITLES: Mapping[ClockKind, str] = {
    ClockKind.SERIOUS_INCIDENT_NOTIFICATION: "Serious incident notification to the National Panel",
    ClockKind.RAPID_REVIEW: "Rapid review",
    ClockKind.INFORM_BODIES: "Inform DfE, Ofsted and the National Panel of the LCSPR",
    ClockKind.AGENCY_REPORT: "Agency report or chronology ({subject})",
    ClockKind.DRAFT_ROUND: "Panel comments on the draft report ({subject})",
    ClockKind.FINAL_REPORT_TO_BODIES: "Final report to the National Panel, DfE and Ofsted",
    ClockKind.PUBLICATION: "Publication within {rule} of the decision",
    ClockKind.DEFERRAL_REVIEW: "Review of the publication deferral ({subject})",
    ClockKind.STAYS_PUBLISHED: "Report published for {rule}: it may now be withdrawn",
    ClockKind.ACTION: "{subject}",  # "Action 3": the action plan's, or an immediate one (side_records)
    # Local targets say so, with their figure, wherever they are named: they are a
    # partnership's expectation, not a statutory deadline.
    ClockKind.CHAIR_DECISION_TARGET: "Chair decision (local target: {rule})",
    ClockKind.AUTHOR_APPOINTMENT_TARGET: "Independent author appointed (local target: {rule})",
    ClockKind.TERMS_OF_REFERENCE_TARGET: "Terms of Reference sign-off (local target: {rule})",
    ClockKind.ENGAGEMENT_TARGET: "Practitioner and family engagement (local target: {rule})",
    ClockKind.DRAFT_CIRCULATION_TARGET: "Draft report circulated, {subject} (local target: {rule})",
    ClockKind.FINAL_REPORT_TARGET: "Final report sign-off (local target: {rule})",
    ClockKind.LEARNING_REVIEW_TARGET: "Learning review completed (local target: {rule})",
    ClockKind.ACTION_PLAN_TARGET: "Action plan agreed (local target: {rule})",
    ClockKind.CLOSURE_TARGET: "Review closure (local target: {rule})",
}

# Statutory messages that go to the business unit, ready to send, when these steps open.
STATUTORY_ON_OPEN: Mapping[StepKind, str] = {
    StepKind.INFORM_BODIES: "inform_bodies",
    StepKind.FINAL_REPORT_SENT: "final_report_to_bodies",
}


@dataclass(frozen=True)
class Notice:
    """One message to one role, not yet rendered."""

    key: str
    kind: str  # a notifications template kind
    role: str
    step: str
    due: date | None
    days_overdue: int = 0
    escalated_from: str = ""
    # Set on the statutory messages that quote it (inform_bodies, final_report_to_bodies).
    final_report_working_days: int | None = None

    def context(self, *, reference: str, link: str, partnership: str) -> dict[str, object]:
        """The template variables; a figure the notice does not carry is left out, so a
        template that needs it fails to render instead of quoting a default."""
        context: dict[str, object] = {
            "reference": reference,
            "step": self.step,
            # A step with no deadline: the templates say so in words, never "by <nothing>".
            "due": self.due.isoformat() if self.due else "",
            "days_overdue": self.days_overdue,
            "escalated_from": self.escalated_from.replace("_", " "),
            "recipient_role": self.role,
            "link": link,
            "partnership": partnership,
        }
        if self.final_report_working_days is not None:
            context["final_report_working_days"] = self.final_report_working_days
        return context


def clock_title(clock: Clock) -> str:
    """The clock in words, quoting its own rule where the title has a figure."""
    return title_of(clock.kind, clock.subject, clock.rule)


def title_of(kind: ClockKind, subject: str, rule: ClockRule) -> str:
    """A clock's title from all it reads of the clock: its kind, subject and rule (the sweep's projected
    clocks carry just those)."""
    title = CLOCK_TITLES[kind].format(subject=subject.replace("-", " "), rule=rule_length(rule))
    return title[:1].upper() + title[1:]


def rule_length(rule: ClockRule) -> str:
    """How long a rule gives, in words: "6 calendar months", "15 working days"."""
    if rule.unit is RuleUnit.FIXED:
        return "a fixed date"
    if rule.unit is RuleUnit.CALENDAR_MONTHS:
        return f"{rule.length} calendar month{'' if rule.length == 1 else 's'}"
    return f"{rule.length} working day{'' if rule.length == 1 else 's'}"


def clock_notices(
    reference: str,
    clocks: Iterable[Clock],
    today: date,
    calendar: WorkingCalendar,
    policies: Mapping[ClockKind, ReminderPolicy],
) -> list[Notice]:
    """Reminders and escalations current today for a review's clocks (paused, met and stopped ones are silent)."""
    notices: list[Notice] = []
    for clock in clocks:
        if clock.met_on or clock.stopped_on or clock.is_paused:
            continue
        policy = policies[clock.kind]
        try:
            due_messages = messages_due(clock_key=clock.key, due=clock.due(calendar), today=today,
                                        policy=policy, calendar=calendar, owner_role=clock.owner_role or None)
        except ConfigurationError:
            continue  # an agency clock without an agency cannot be routed; the register never makes one
        notices.extend(
            Notice(key=m.key(reference), kind=m.level.value, role=m.role, step=clock_title(clock), due=m.due,
                   days_overdue=m.days_overdue, escalated_from=m.escalated_from)
            for m in due_messages
        )
    return notices


def step_notices(reference: str, step: OpenStep, rules: Mapping[ClockKind, ClockRule]) -> list[Notice]:
    """When a step opens: tell whoever owes it, and hand the business unit any statutory message.

    ``rules`` are the partnership's clock rules (``Settings.rules()``, ``Policy.rules``);
    the statutory messages quote them.
    """
    roles = [r for r in step.asked_of.split(",") if r]
    title = step_title(step, rules)
    notices = [Notice(key=_step_opened_key(reference, step, role), kind="step_opened", role=role,
                      step=title, due=step.due) for role in roles]
    statutory = STATUTORY_ON_OPEN.get(step.kind)
    if statutory and step.attempt == 1:
        notices.append(Notice(key=f"{reference}:statutory:{statutory}:business_unit", kind=statutory,
                              role="business_unit", step=step.title, due=step.due,
                              final_report_working_days=_final_report_working_days(rules)))
    return notices


def step_title(step: OpenStep, rules: Mapping[ClockKind, ClockRule]) -> str:
    """The step in words; when its due date is a local target's, saying so with the target's figure
    ("Chair decision (local target: 10 working days)"), as that target's reminders will."""
    kind = _clock_kind(step.clock_key)
    if kind is None or not kind.is_local_target:
        return step.title
    return f"{step.title} (local target: {rule_length(rules.get(kind, DEFAULT_RULES[kind]))})"


def _clock_kind(clock_key: str) -> ClockKind | None:
    """The kind of the clock with this key ('rapid_review', 'draft_circulation_target:round-2')."""
    try:
        return ClockKind(clock_key.split(":", 1)[0])
    except ValueError:
        return None


def _step_opened_key(reference: str, step: OpenStep, role: str) -> str:
    """The outbox key of the message telling ``role`` that ``step`` is open.

    The agency-report step stays open, one occurrence per report received (and one attempt
    per refused answer), each asking every agency still to report. An agency is asked for
    its report once, when the terms of reference request it, so its key leaves out the
    occurrence and attempt: the outbox then sends each agency's request once. Every other
    step is announced again on each occurrence and after a refused answer.
    """
    if step.kind is StepKind.AGENCY_REPORT:
        return f"{reference}:step:agency-report:{role}"
    return f"{reference}:step:{step.key}:{role}"


def _final_report_working_days(rules: Mapping[ClockKind, ClockRule]) -> int:
    """How many working days before publication the final report must reach the national bodies.

    The statutory messages say "at least N working days before it is published", so a
    rule counted any other way is a configuration mistake, refused here.
    """
    rule = rules.get(ClockKind.FINAL_REPORT_TO_BODIES)
    if rule is None or rule.unit is not RuleUnit.WORKING_DAYS_BEFORE:
        if rule is None:
            found = "no rule at all"
        else:
            found = rule_length(rule) + (" after" if rule.unit is RuleUnit.WORKING_DAYS_AFTER else "")
        raise ConfigurationError(
            "The rule for sending the final report to the National Panel, DfE and Ofsted must count "
            f"working days before publication, not {found}."
        )
    return rule.length
