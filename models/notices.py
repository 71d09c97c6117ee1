"""Which messages a review owes today: reminders and escalations for its clocks, and the
announcements when a step opens. Pure: it names messages by idempotency key, role
and template kind; rendering and sending happen elsewhere.

A notice's context carries only the reference, the step's title, the due date, days
overdue, who it was escalated from and the recipient role: never the pseudonym, the
outline or any free text of the case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from models.clocks import Clock, ClockKind
from models.errors import ConfigurationError
from models.lifecycle import OpenStep
from models.reminders import DEFAULT_POLICIES, ReminderPolicy, messages_due
from models.steps import StepKind
from models.workdays import WorkingCalendar

CLOCK_TITLES: Mapping[ClockKind, str] = {
    ClockKind.SERIOUS_INCIDENT_NOTIFICATION: "Serious incident notification to the National Panel",
    ClockKind.RAPID_REVIEW: "Rapid review",
    ClockKind.INFORM_BODIES: "Inform DfE, Ofsted and the National Panel of the LCSPR",
    ClockKind.AGENCY_REPORT: "Agency report or chronology ({subject})",
    ClockKind.DRAFT_ROUND: "Panel comments on the draft report ({subject})",
    ClockKind.FINAL_REPORT_TO_BODIES: "Final report to the National Panel, DfE and Ofsted",
    ClockKind.PUBLICATION: "Publication within 6 months of the decision",
    ClockKind.DEFERRAL_REVIEW: "Review of the publication deferral ({subject})",
    ClockKind.STAYS_PUBLISHED: "Report published for 12 months: it may now be withdrawn",
    ClockKind.ACTION: "Action plan: {subject}",
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

    def context(self, *, reference: str, link: str, partnership: str) -> dict[str, object]:
        return {
            "reference": reference,
            "step": self.step,
            "due": self.due.isoformat() if self.due else "no statutory due date",
            "days_overdue": self.days_overdue,
            "escalated_from": self.escalated_from.replace("_", " "),
            "recipient_role": self.role,
            "link": link,
            "partnership": partnership,
        }


def clock_title(clock: Clock) -> str:
    return CLOCK_TITLES[clock.kind].format(subject=clock.subject.replace("-", " "))


def clock_notices(
    reference: str,
    clocks: Iterable[Clock],
    today: date,
    calendar: WorkingCalendar,
    policies: Mapping[ClockKind, ReminderPolicy] = DEFAULT_POLICIES,
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


def step_notices(reference: str, step: OpenStep) -> list[Notice]:
    """When a step opens: tell whoever owes it, and hand the business unit any statutory message."""
    roles = [r for r in step.asked_of.split(",") if r]
    notices = [Notice(key=f"{reference}:step:{step.key}:{role}", kind="step_opened", role=role,
                      step=step.title, due=step.due) for role in roles]
    statutory = STATUTORY_ON_OPEN.get(step.kind)
    if statutory and step.attempt == 1:
        notices.append(Notice(key=f"{reference}:statutory:{statutory}:business_unit", kind=statutory,
                              role="business_unit", step=step.title, due=step.due))
    return notices
