"""Notices quote the partnership's own rules, never a figure written into the code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from models.clocks import DEFAULT_RULES, Clock, ClockKind, ClockRule, RuleUnit
from models.errors import ConfigurationError
from models.lifecycle import OpenStep
from models.notices import Notice, clock_notices, clock_title, step_notices
from models.reminders import DEFAULT_POLICIES
from models.steps import SPECS, StepKind, step_key
from models.workdays import WorkingCalendar
from notifications.render import RenderedMessage, render

CALENDAR = WorkingCalendar()
RULES: dict[ClockKind, ClockRule] = {
    **DEFAULT_RULES,
    ClockKind.FINAL_REPORT_TO_BODIES: ClockRule(RuleUnit.WORKING_DAYS_BEFORE, 10),
    ClockKind.PUBLICATION: ClockRule(RuleUnit.CALENDAR_MONTHS, 9),
    ClockKind.STAYS_PUBLISHED: ClockRule(RuleUnit.CALENDAR_MONTHS, 18),
}


def _step(kind: StepKind, attempt: int = 1) -> OpenStep:
    spec = SPECS[kind]
    return OpenStep(kind=kind, key=step_key(kind, 1, attempt), occurrence=1, attempt=attempt, title=spec.title,
                    asked_of=spec.asked_of, question=spec.question, opened_on=date(2026, 3, 2),
                    due=date(2026, 3, 9), clock_key="", last_refusal="", input_model=spec.input_model)


def _rendered(notice: Notice) -> RenderedMessage:
    return render(notice.kind, notice.context(reference="LCSPR-2026-0001", link="", partnership="Test SCP"))


def _words(text: str) -> str:
    return " ".join(text.split())


def test_a_publication_clock_is_titled_with_its_own_rule() -> None:
    clock = Clock(kind=ClockKind.PUBLICATION, start=date(2026, 1, 5), rule=RULES[ClockKind.PUBLICATION])
    assert clock_title(clock) == "Publication within 9 calendar months of the decision"


def test_a_stays_published_clock_is_titled_with_its_own_rule() -> None:
    clock = Clock(kind=ClockKind.STAYS_PUBLISHED, start=date(2026, 1, 5), rule=RULES[ClockKind.STAYS_PUBLISHED])
    assert clock_title(clock) == "Report published for 18 calendar months: it may now be withdrawn"


def test_a_one_month_rule_reads_in_the_singular() -> None:
    clock = Clock(kind=ClockKind.PUBLICATION, start=date(2026, 1, 5), rule=ClockRule(RuleUnit.CALENDAR_MONTHS, 1))
    assert clock_title(clock) == "Publication within 1 calendar month of the decision"


def test_a_per_subject_clock_is_titled_with_its_subject() -> None:
    clock = Clock(kind=ClockKind.AGENCY_REPORT, start=date(2026, 1, 5), rule=DEFAULT_RULES[ClockKind.AGENCY_REPORT],
                  subject="thames-valley-police", owner_role="agency-thames-valley-police")
    assert clock_title(clock) == "Agency report or chronology (thames valley police)"


def test_a_reminder_for_a_nine_month_publication_rule_says_nine_months_everywhere() -> None:
    clock = Clock(kind=ClockKind.PUBLICATION, start=date(2026, 1, 5), rule=RULES[ClockKind.PUBLICATION])
    due = clock.due(CALENDAR)
    assert due == date(2026, 10, 5)

    [notice] = clock_notices("LCSPR-2026-0001", [clock], due, CALENDAR, DEFAULT_POLICIES)
    message = _rendered(notice)

    assert notice.kind == "due_today"
    assert notice.step == "Publication within 9 calendar months of the decision"
    assert message.subject == (
        "[LCSPR-2026-0001] Due today: Publication within 9 calendar months of the decision (2026-10-05)"
    )
    assert "Publication within 9 calendar months of the decision" in message.text
    assert "Publication within 9 calendar months of the decision" in message.html
    for part in (message.subject, message.text, message.html):
        assert "6 months" not in part
        assert "6 calendar months" not in part


@pytest.mark.parametrize(
    ("step_kind", "kind"),
    [(StepKind.INFORM_BODIES, "inform_bodies"), (StepKind.FINAL_REPORT_SENT, "final_report_to_bodies")],
)
def test_the_statutory_message_quotes_the_partnerships_final_report_rule(step_kind: StepKind, kind: str) -> None:
    notices = step_notices("LCSPR-2026-0001", _step(step_kind), RULES)

    assert [(n.kind, n.role, n.final_report_working_days) for n in notices] == [
        ("step_opened", "business_unit", None),
        (kind, "business_unit", 10),
    ]
    message = _rendered(notices[1])
    assert "at least 10 working days before it is published" in _words(message.text)
    assert "at least 10 working days before it is published" in _words(message.html)
    assert "seven" not in message.text
    assert "seven" not in message.html


def test_the_statutory_message_goes_once_not_again_on_a_retried_step() -> None:
    notices = step_notices("LCSPR-2026-0001", _step(StepKind.INFORM_BODIES, attempt=2), RULES)
    assert [(n.key, n.kind) for n in notices] == [
        ("LCSPR-2026-0001:step:inform-bodies-1-retry-2:business_unit", "step_opened"),
    ]


def test_a_final_report_rule_not_counted_in_working_days_before_publication_is_refused() -> None:
    rules = {**RULES, ClockKind.FINAL_REPORT_TO_BODIES: ClockRule(RuleUnit.CALENDAR_MONTHS, 1)}
    with pytest.raises(ConfigurationError, match="working days before publication, not 1 calendar month"):
        step_notices("LCSPR-2026-0001", _step(StepKind.FINAL_REPORT_SENT), rules)


def test_a_final_report_rule_counted_after_an_event_is_refused() -> None:
    rules = {**RULES, ClockKind.FINAL_REPORT_TO_BODIES: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 7)}
    with pytest.raises(ConfigurationError, match="not 7 working days after"):
        step_notices("LCSPR-2026-0001", _step(StepKind.INFORM_BODIES), rules)


def test_a_step_without_a_statutory_message_needs_no_final_report_rule() -> None:
    rules: dict[ClockKind, ClockRule] = {k: v for k, v in RULES.items() if k is not ClockKind.FINAL_REPORT_TO_BODIES}
    notices = step_notices("LCSPR-2026-0001", _step(StepKind.RAPID_REVIEW), rules)
    assert [(n.kind, n.role) for n in notices] == [("step_opened", "safeguarding_partners")]


def test_a_notice_context_holds_exactly_its_values() -> None:
    notice = Notice(key="k", kind="escalation", role="independent_chair", step="Rapid review",
                    due=date(2026, 4, 21), days_overdue=5, escalated_from="safeguarding_partners")

    assert notice.context(reference="REF", link="http://ui/1", partnership="Test SCP") == {
        "reference": "REF",
        "step": "Rapid review",
        "due": "2026-04-21",
        "days_overdue": 5,
        "escalated_from": "safeguarding partners",
        "recipient_role": "independent_chair",
        "link": "http://ui/1",
        "partnership": "Test SCP",
    }


def test_a_notice_quoting_the_final_report_rule_carries_it_into_its_context() -> None:
    notice = Notice(key="k", kind="final_report_to_bodies", role="business_unit", step="Final report sent",
                    due=None, final_report_working_days=12)

    context = notice.context(reference="REF", link="", partnership="Test SCP")

    assert context["final_report_working_days"] == 12
    assert context["due"] == "no statutory due date"
    assert replace(notice, final_report_working_days=None).context(
        reference="REF", link="", partnership="Test SCP"
    ) == {k: v for k, v in context.items() if k != "final_report_working_days"}
