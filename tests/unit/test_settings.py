"""The settings of the local targets (issue 13): their names, defaults, and what changing one changes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from lcspr.settings import Settings
from models.clocks import DEFAULT_RULES, LOCAL_TARGETS, ClockKind, ClockRule, RuleUnit
from models.lifecycle import open_step, replay
from models.reminders import Rung
from models.roles import Role
from models.workdays import WorkingCalendar
from tests.conftest import make_referral
from tests.unit.test_lifecycle import GOOD, REFERENCE, log_of

# setting -> (the clock kind it sets, its default in working days)
TARGETS = {
    "chair_decision_target_working_days": (ClockKind.CHAIR_DECISION_TARGET, 10),
    "author_appointment_target_working_days": (ClockKind.AUTHOR_APPOINTMENT_TARGET, 10),
    "terms_of_reference_target_working_days": (ClockKind.TERMS_OF_REFERENCE_TARGET, 15),
    "engagement_target_working_days": (ClockKind.ENGAGEMENT_TARGET, 20),
    "draft_circulation_target_working_days": (ClockKind.DRAFT_CIRCULATION_TARGET, 15),
    "final_report_target_working_days": (ClockKind.FINAL_REPORT_TARGET, 10),
    "learning_review_target_working_days": (ClockKind.LEARNING_REVIEW_TARGET, 40),
    "action_plan_target_working_days": (ClockKind.ACTION_PLAN_TARGET, 20),
    "closure_target_working_days": (ClockKind.CLOSURE_TARGET, 40),
}


def settings(**values: Any) -> Settings:
    """Settings from these values and the environment only, never a ``.env`` file of the checkout."""
    return Settings(_env_file=None, **values)


def test_every_local_target_has_a_setting() -> None:
    assert {kind for kind, _ in TARGETS.values()} == LOCAL_TARGETS


@pytest.mark.parametrize(("name", "kind", "default"), [(n, k, d) for n, (k, d) in TARGETS.items()])
def test_each_target_defaults_to_its_working_days_after_its_step_opens(name: str, kind: ClockKind,
                                                                        default: int) -> None:
    assert getattr(settings(), name) == default
    assert settings().rules()[kind] == DEFAULT_RULES[kind] == ClockRule(RuleUnit.WORKING_DAYS_AFTER, default)


@pytest.mark.parametrize(("name", "kind"), [(n, k) for n, (k, _) in TARGETS.items()])
def test_each_target_is_read_from_its_lcspr_environment_variable(
    name: str, kind: ClockKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"LCSPR_{name.upper()}", "7")
    assert settings().rules()[kind] == ClockRule(RuleUnit.WORKING_DAYS_AFTER, 7)


@pytest.mark.parametrize("name", list(TARGETS))
def test_a_target_of_no_working_days_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        settings(**{name: 0})


def test_a_changed_target_changes_the_open_steps_due_date() -> None:
    log = log_of(list(GOOD.items())[:2])  # waiting on the Chair's decision since Fri 20 Mar 2026
    default = open_step(replay(REFERENCE, make_referral(), log, settings().policy()), settings().policy())
    quicker = settings(chair_decision_target_working_days=3).policy()
    changed = open_step(replay(REFERENCE, make_referral(), log, quicker), quicker)
    assert default is not None and changed is not None
    assert (default.clock_key, default.due) == ("chair_decision_target", date(2026, 4, 7))
    assert (changed.clock_key, changed.due) == ("chair_decision_target", date(2026, 3, 25))


def test_the_reminder_settings_apply_to_local_targets_as_to_statutory_clocks() -> None:
    policies = settings(reminders_before_working_days="3", escalate_after_working_days=2,
                        escalate_to_independent_chair_after_working_days=6,
                        escalation_repeat_working_days=4).reminder_policies()
    for kind in LOCAL_TARGETS | {ClockKind.RAPID_REVIEW}:
        policy = policies[kind]
        assert (policy.before, policy.repeat_every) == ((3,), 4)
        assert [r.after_working_days for r in policy.ladder] == [2, 6]
    assert policies[ClockKind.RAPID_REVIEW].ladder[-1] == Rung(6, (Role.INDEPENDENT_CHAIR.value,))
    # Nobody is escalated to about their own step: the Chair's decision climbs to the partners.
    assert policies[ClockKind.CHAIR_DECISION_TARGET].ladder[-1] == Rung(6, (Role.SAFEGUARDING_PARTNERS.value,))


@pytest.mark.parametrize("month", range(1, 13))
def test_the_default_targets_fit_an_lcspr_with_one_draft_round_into_its_six_months(month: int) -> None:
    """From the decision, each step taking its whole target (and the statutory clocks theirs), the
    report can still go to the national bodies and be published before the publication deadline."""
    rules, cal = settings().rules(), WorkingCalendar()
    decided = cal.next_working_day(date(2026, month, 1))
    day = decided
    for kind in (ClockKind.INFORM_BODIES, ClockKind.AUTHOR_APPOINTMENT_TARGET, ClockKind.TERMS_OF_REFERENCE_TARGET,
                 ClockKind.AGENCY_REPORT, ClockKind.ENGAGEMENT_TARGET, ClockKind.DRAFT_CIRCULATION_TARGET,
                 ClockKind.DRAFT_ROUND, ClockKind.FINAL_REPORT_TARGET):
        day = rules[kind].due_from(day, cal)
    published = cal.add(day, rules[ClockKind.FINAL_REPORT_TO_BODIES].length)
    assert cal.between(decided, published) == 112
    assert published < rules[ClockKind.PUBLICATION].due_from(decided, cal)
