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
from notifications.render import NOTICE_KINDS, RenderedMessage, render

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
    context = notice.context(reference="LCSPR-2026-0001", link="", partnership="Test SCP")
    return render(notice.kind, {**context, "portfolio_link": ""})


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
    assert context["due"] == ""
    assert replace(notice, final_report_working_days=None).context(
        reference="REF", link="", partnership="Test SCP"
    ) == {k: v for k, v in context.items() if k != "final_report_working_days"}


# ---------------------------------------------------------------- reading right (issue 13)


def _agency_step(occurrence: int, asked_of: str, attempt: int = 1) -> OpenStep:
    """The agency-report step as ``open_step`` gives it: asked of every agency still to report."""
    return replace(_step(StepKind.AGENCY_REPORT), key=step_key(StepKind.AGENCY_REPORT, occurrence, attempt),
                   occurrence=occurrence, attempt=attempt, asked_of=asked_of)


POLICE, ICB = "agency-thames-valley-police", "agency-frimley-icb"


def test_each_agency_hears_once_that_its_report_is_requested_not_again_when_another_reports() -> None:
    requested = step_notices("LCSPR-2026-0001", _agency_step(1, f"{POLICE},{ICB}"), RULES)
    after_police = step_notices("LCSPR-2026-0001", _agency_step(2, ICB), RULES)
    after_refusal = step_notices("LCSPR-2026-0001", _agency_step(2, ICB, attempt=2), RULES)

    assert [n.role for n in requested] == [POLICE, ICB]
    assert len({n.key for n in requested}) == 2
    keys = {n.role: n.key for n in requested}
    # The outbox keeps one message per key, so the same key means the agency is not told again.
    assert [n.key for n in after_police] == [keys[ICB]]
    assert [n.key for n in after_refusal] == [keys[ICB]]


def test_a_request_to_an_agency_is_keyed_by_review_and_agency() -> None:
    [notice] = step_notices("LCSPR-2026-0001", _agency_step(3, POLICE), RULES)
    assert notice.key == f"LCSPR-2026-0001:step:agency-report:{POLICE}"
    [other] = step_notices("LCSPR-2026-0002", _agency_step(3, POLICE), RULES)
    assert other.key != notice.key


def test_other_steps_are_still_announced_again_after_a_refused_answer() -> None:
    first = step_notices("LCSPR-2026-0001", _step(StepKind.RAPID_REVIEW), RULES)
    again = step_notices("LCSPR-2026-0001", _step(StepKind.RAPID_REVIEW, attempt=2), RULES)
    assert first[0].key != again[0].key


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_a_notice_without_a_due_date_never_reads_by_no_statutory_due_date(kind: str) -> None:
    notice = Notice(key="k", kind=kind, role="independent_chair", step="Chair decision", due=None,
                    days_overdue=2, escalated_from="safeguarding_partners", final_report_working_days=7)

    message = _rendered(notice)

    for part in (message.subject, message.text, message.html):
        assert "statutory due date" not in part
        assert "by no" not in part


def test_a_step_with_no_due_date_opens_with_a_message_that_reads_naturally() -> None:
    [notice] = step_notices("LCSPR-2026-0001", replace(_step(StepKind.CHAIR_DECISION), due=None), RULES)

    message = _rendered(notice)

    assert message.subject == "[LCSPR-2026-0001] Action needed: Chair decision"
    assert _words(message.text).startswith(
        "Review LCSPR-2026-0001 has reached a new step: Chair decision. "
        "No statutory deadline applies to this step; please answer as soon as you can."
    )


# ---------------------------------------------------------------- local targets (issue 13)


def _target(kind: ClockKind, start: date, length: int, subject: str = "", owner: str = "") -> Clock:
    return Clock(kind=kind, start=start, rule=ClockRule(RuleUnit.WORKING_DAYS_AFTER, length), subject=subject,
                 owner_role=owner)


def test_a_local_target_is_titled_as_one_with_its_own_figure() -> None:
    chair = _target(ClockKind.CHAIR_DECISION_TARGET, date(2026, 3, 20), 10)
    draft = _target(ClockKind.DRAFT_CIRCULATION_TARGET, date(2026, 6, 10), 12, subject="round-2")
    assert clock_title(chair) == "Chair decision (local target: 10 working days)"
    assert clock_title(draft) == "Draft report circulated, round 2 (local target: 12 working days)"


@pytest.mark.parametrize("kind", list(ClockKind))
def test_every_clock_is_titled_and_only_local_targets_say_local_target(kind: ClockKind) -> None:
    clock = Clock(kind=kind, start=date(2026, 3, 2), rule=ClockRule(RuleUnit.WORKING_DAYS_AFTER, 7), subject="x-1")
    title = clock_title(clock)
    assert ("(local target: 7 working days)" in title) is kind.is_local_target
    assert "statutory" not in title


def test_a_local_targets_ladder_climbs_like_a_clocks_and_its_messages_say_local_target() -> None:
    """The Chair's own decision is escalated to the safeguarding partners, not back to the Chair."""
    chair = _target(ClockKind.CHAIR_DECISION_TARGET, date(2026, 6, 3), 10, owner="independent_chair")
    due = chair.due(CALENDAR)
    assert due == date(2026, 6, 17)

    def sent(day: date) -> list[tuple[str, str, int]]:
        return [(n.kind, n.role, n.days_overdue)
                for n in clock_notices("LCSPR-2026-0001", [chair], day, CALENDAR, DEFAULT_POLICIES)]

    assert sent(date(2026, 6, 10)) == [("reminder", "independent_chair", 0)]
    assert sent(due) == [("due_today", "independent_chair", 0)]
    assert sent(date(2026, 6, 18)) == [("overdue", "independent_chair", 1), ("escalation", "business_unit_manager", 1),
                                       ("escalation", "subgroup_chair", 1)]
    assert sent(date(2026, 6, 24)) == [("overdue", "independent_chair", 5),
                                       ("escalation", "safeguarding_partners", 5)]
    assert clock_notices("LCSPR-2026-0001", [chair.meet(date(2026, 6, 23))], date(2026, 6, 24), CALENDAR,
                         DEFAULT_POLICIES) == []
    [_, escalation] = clock_notices("LCSPR-2026-0001", [chair], date(2026, 6, 24), CALENDAR, DEFAULT_POLICIES)
    message = _rendered(escalation)
    assert "Chair decision (local target: 10 working days)" in message.subject
    for part in (message.subject, message.text, message.html):
        assert "statutory" not in part


def test_a_step_timed_by_a_local_target_is_announced_as_one_with_the_partnerships_figure() -> None:
    rules = {**RULES, ClockKind.CHAIR_DECISION_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 12)}
    step = replace(_step(StepKind.CHAIR_DECISION), clock_key="chair_decision_target")
    [notice] = step_notices("LCSPR-2026-0001", step, rules)
    assert notice.step == "Chair decision (local target: 12 working days)"
    assert _rendered(notice).subject == (
        "[LCSPR-2026-0001] Action needed: Chair decision (local target: 12 working days) by 2026-03-09")
    draft = replace(_step(StepKind.DRAFT_CIRCULATED), clock_key="draft_circulation_target:round-2")
    assert step_notices("LCSPR-2026-0001", draft, rules)[0].step == (
        "Draft report circulated (local target: 15 working days)")


def test_a_step_timed_by_a_statutory_clock_is_announced_by_its_title_alone() -> None:
    step = replace(_step(StepKind.RAPID_REVIEW), clock_key="rapid_review")
    assert step_notices("LCSPR-2026-0001", step, RULES)[0].step == "Rapid Review outcome"
    final = replace(_step(StepKind.FINAL_REPORT), clock_key="publication")  # the publication deadline came first
    assert step_notices("LCSPR-2026-0001", final, RULES)[0].step == "Final report sign-off"
