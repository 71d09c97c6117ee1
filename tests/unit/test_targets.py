"""Every step has a due date (issue 13): the steps no statutory clock times get a local target.

A local target is an ordinary clock of its own kind (``ClockKind.*_TARGET``): it starts the
day its step opens and is met the day the step is answered, and the step's due date comes
from it as a statutory step's comes from its clock.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models.clocks import DEFAULT_RULES, LOCAL_TARGETS, ClockKind, ClockRule, ClockState, RuleUnit
from models.lifecycle import (
    TARGET_OF_STEP,
    ClockAdjustment,
    LoggedDecision,
    Policy,
    Review,
    Stage,
    adjust_clock,
    open_step,
    replay,
)
from models.steps import StepKind
from tests.conftest import make_referral
from tests.unit.test_lifecycle import (
    CAL,
    GOOD,
    LCSPR,
    POLICY,
    REFERENCE,
    answer,
    d,
    drive,
    log_of,
    reach,
    start,
)


def target_rule(kind: ClockKind) -> ClockRule:
    return DEFAULT_RULES[kind]


def waits(review: Review, policy: Policy = POLICY) -> Any:
    step = open_step(review, policy)
    assert step is not None
    return step


# ---------------------------------------------------------------- which steps, which targets


def test_every_target_is_a_local_target_counted_in_working_days_from_its_step_opening() -> None:
    assert set(TARGET_OF_STEP.values()) == LOCAL_TARGETS
    for kind in LOCAL_TARGETS:
        assert kind.is_local_target
        assert target_rule(kind).unit is RuleUnit.WORKING_DAYS_AFTER and target_rule(kind).length >= 1
    assert not any(k.is_local_target for k in ClockKind if k not in LOCAL_TARGETS)


def test_only_steps_no_statutory_clock_times_get_a_target_and_the_final_report_has_both() -> None:
    timed_by_law = {StepKind.NOTIFICATION, StepKind.RAPID_REVIEW, StepKind.INFORM_BODIES, StepKind.AGENCY_REPORT,
                    StepKind.DRAFT_REVIEW, StepKind.FINAL_REPORT_SENT, StepKind.PUBLICATION,
                    StepKind.ACTION_UPDATE}
    assert set(TARGET_OF_STEP) == set(StepKind) - timed_by_law
    # Signing off the final report is timed by the publication clock too; the earlier date wins.
    assert StepKind.FINAL_REPORT in TARGET_OF_STEP


@pytest.mark.parametrize(
    ("step", "clock_key", "opened_on"),
    [
        ("chair-decision-1", "chair_decision_target", "2026-03-20"),  # the rapid review's day
        ("author-appointment-1", "author_appointment_target", "2026-04-03"),  # bodies informed
        ("terms-of-reference-1", "terms_of_reference_target", "2026-04-10"),  # author appointed
        ("engagement-1", "engagement_target", "2026-05-11"),  # the last agency report
        ("draft-circulated-1", "draft_circulation_target:round-1", "2026-05-20"),  # engagement recorded
        ("draft-circulated-2", "draft_circulation_target:round-2", "2026-06-10"),  # changes requested
        ("final-report-1", "final_report_target", "2026-06-30"),  # draft accepted
        ("action-1", "action_plan_target", "2026-09-01"),  # published
        ("closure-1", "closure_target", "2026-10-05"),  # last action completed
    ],
)
def test_each_step_without_a_statutory_clock_is_due_by_its_local_target(
    step: str, clock_key: str, opened_on: str
) -> None:
    review = reach(step)
    open_ = waits(review)
    clock = review.clock(clock_key)
    assert clock.kind.is_local_target
    assert clock.start == open_.opened_on == d(opened_on)
    assert open_.clock_key == clock_key
    assert open_.due == CAL.add(d(opened_on), clock.rule.length) == clock.due(CAL)
    assert clock.owner_role == open_.asked_of


def test_the_chair_decision_is_expected_ten_working_days_after_the_rapid_review() -> None:
    """Fri 20 Mar 2026 + 10 working days, Good Friday and Easter Monday skipped: Tue 7 Apr."""
    assert waits(reach("chair-decision-1")).due == date(2026, 4, 7)


def test_a_learning_review_is_due_by_its_target_from_the_decision() -> None:
    review = drive(reach("chair-decision-1"), [answer(**{**LCSPR, "outcome": "practice_review"})])
    step = waits(review)
    assert step.kind is StepKind.LEARNING_REVIEW
    assert step.clock_key == "learning_review_target"
    assert step.due == CAL.add(date(2026, 4, 1), 40)


def _every_open_step(review: Review, answers: list[dict[str, Any]]) -> list[tuple[str, date | None]]:
    seen = []
    for payload in answers:
        step = waits(review)
        seen.append((step.key, step.due))
        review = drive(review, [payload])
    assert open_step(review, POLICY) is None
    return seen


def test_every_step_of_every_route_has_a_due_date() -> None:
    learning = [
        *[GOOD[k] for k in ("notification-1", "rapid-review-1")],
        answer(**{**LCSPR, "outcome": "reflective_learning_session"}),
        answer(decided_on="2026-05-01", learning="Strategy meetings lacked health input.",
               recommendations="Invite health to strategy meetings"),
        answer(decided_on="2026-05-05", recommendation_number=1, owner_agency="Frimley ICB",
               action="Name a health lead for every strategy meeting", due_on="2026-07-01", last_action=True),
        answer(decided_on="2026-06-15", action_number=1, evidence="Rota of named health leads."),
        answer(decided_on="2026-09-01", impact_evidence="Health attended 12 of 12."),
    ]
    care_leaver = start(harm="died", abuse_or_neglect="not_suspected", care_leaver=True)
    for review, answers in ((start(), list(GOOD.values())), (start(), learning)):
        undated = [key for key, due in _every_open_step(review, answers) if due is None]
        assert undated == []
    # A care leaver's death without the criteria skips the rapid review: the Chair's target starts at once.
    notified = drive(care_leaver, [GOOD["notification-1"]])
    assert notified.stage is Stage.AWAITING_DECISION
    assert waits(notified).due == CAL.add(date(2026, 3, 5), 10)


# ---------------------------------------------------------------- started, met, stopped


def test_answering_a_step_meets_its_target_that_day_and_every_target_of_a_closed_review_is_met() -> None:
    review = drive(start(), GOOD.values())
    targets = {c.key: c for c in review.clocks if c.kind.is_local_target}
    assert {k: c.met_on for k, c in targets.items()} == {
        "chair_decision_target": date(2026, 4, 1),
        "author_appointment_target": date(2026, 4, 10),
        "terms_of_reference_target": date(2026, 4, 20),
        "engagement_target": date(2026, 5, 20),
        "draft_circulation_target:round-1": date(2026, 6, 1),
        "draft_circulation_target:round-2": date(2026, 6, 22),
        "final_report_target": date(2026, 7, 6),
        "action_plan_target": date(2026, 9, 7),
        "closure_target": date(2026, 11, 2),
    }
    assert all(c.stopped_on is None for c in targets.values())


def test_the_action_plan_target_runs_until_the_last_action_is_added() -> None:
    review = drive(reach("action-1"), [GOOD["action-1"]])
    assert review.stage is Stage.ACTION_PLAN
    assert review.clock("action_plan_target").met_on is None
    assert waits(review).clock_key == "action_plan_target"
    assert waits(review).due == CAL.add(date(2026, 9, 1), 20)  # still from the day the plan was asked for
    review = drive(review, [GOOD["action-2"]])
    assert review.clock("action_plan_target").met_on == date(2026, 9, 7)


@pytest.mark.parametrize("outcome", ["no_further_review", "national_review"])
def test_a_decision_that_closes_the_review_meets_the_chairs_target_rather_than_stopping_it(outcome: str) -> None:
    review = drive(reach("chair-decision-1"), [answer(**{**LCSPR, "outcome": outcome})])
    chair = review.clock("chair_decision_target")
    assert (chair.met_on, chair.stopped_on) == (date(2026, 4, 1), None)


def test_closing_the_review_meets_the_closure_target_and_only_stays_published_runs_on() -> None:
    review = drive(start(), GOOD.values())
    assert review.clock("closure_target").met_on == date(2026, 11, 2)
    running = [c.key for c in review.clocks if c.state_on(date(2026, 11, 23), CAL) is not ClockState.MET]
    assert running == ["stays_published"]


# ---------------------------------------------------------------- a clock like any other


def test_a_late_target_goes_red_and_can_be_extended_with_a_reason_like_any_clock() -> None:
    review = reach("terms-of-reference-1")
    target = review.clock("terms_of_reference_target")
    late = CAL.add(target.due(CAL), 1)
    assert target.rag(late, CAL) == "red" and target.state_on(late, CAL) is ClockState.BREACHED
    extended = adjust_clock(review, ClockAdjustment(
        clock="terms_of_reference_target", action="extend", on=date(2026, 4, 20), by="A. Jones",
        reason="Panel chair on leave", new_due=date(2026, 5, 15)), date(2026, 4, 20), POLICY)
    assert waits(extended).due == date(2026, 5, 15)


def test_the_final_report_is_due_by_its_target_unless_the_publication_deadline_comes_first() -> None:
    review = reach("final-report-1")
    assert (waits(review).clock_key, waits(review).due) == ("final_report_target", CAL.add(date(2026, 6, 30), 10))
    hurried = Policy(rules={**POLICY.rules, ClockKind.PUBLICATION: ClockRule(RuleUnit.CALENDAR_MONTHS, 3)})
    review = replay(REFERENCE, make_referral(), log_of(list(GOOD.items())[:13]), hurried)
    assert (waits(review, hurried).clock_key, waits(review, hurried).due) == ("publication", date(2026, 7, 1))


# ---------------------------------------------------------------- replay and settings


def test_a_log_recorded_before_targets_existed_replays_into_them_the_same_every_time() -> None:
    """The log holds answers, not clocks: replaying it gives the targets, as a new review gets them."""
    log = log_of(list(GOOD.items())[:5])  # up to the author appointment
    once, again = (replay(REFERENCE, make_referral(), log, POLICY) for _ in range(2))
    assert once == again == reach("terms-of-reference-1")
    assert once.clock("author_appointment_target").met_on == date(2026, 4, 10)
    assert waits(once).clock_key == "terms_of_reference_target"


def test_an_answer_dated_before_its_step_opened_in_an_old_log_still_replays() -> None:
    """Replay applies what was accepted without judging it: the target is met the day it started."""
    early = {**GOOD["author-appointment-1"], "decided_on": "2026-04-02"}  # the step opened on 3 Apr
    log = [*log_of(list(GOOD.items())[:4]), LoggedDecision("author-appointment-1", early, True)]
    review = replay(REFERENCE, make_referral(), log, POLICY)
    assert review.clock("author_appointment_target").met_on == date(2026, 4, 3)


def test_a_changed_target_moves_the_due_date_on_replay_but_not_what_was_decided() -> None:
    longer = Policy(rules={**POLICY.rules, ClockKind.CHAIR_DECISION_TARGET: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 3)})
    log = log_of(list(GOOD.items())[:2])
    review = replay(REFERENCE, make_referral(), log, longer)
    assert waits(review, longer).due == date(2026, 3, 25)
    assert waits(review, longer).key == waits(replay(REFERENCE, make_referral(), log, POLICY)).key
