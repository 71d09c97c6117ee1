"""The reminder policy: who hears what on which working day, for every kind of clock."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.clocks import ClockKind
from models.errors import ConfigurationError, Refused
from models.reminders import (
    DEFAULT_POLICIES,
    DueMessage,
    MessageLevel,
    ReminderPolicy,
    RemindersOn,
    Role,
    Rung,
    agency_role,
    escalation_ladder,
    messages_due,
)
from models.workdays import WorkingCalendar

CAL = WorkingCalendar()
POLICE = agency_role("Thames Valley Police")
AGENCY_KINDS = {ClockKind.AGENCY_REPORT, ClockKind.ACTION}

REMIND, DUE, OVER, ESC = (
    MessageLevel.REMINDER,
    MessageLevel.DUE_TODAY,
    MessageLevel.OVERDUE,
    MessageLevel.ESCALATION,
)
BUM, SGC, CHAIR = (
    Role.BUSINESS_UNIT_MANAGER.value,
    Role.SUBGROUP_CHAIR.value,
    Role.INDEPENDENT_CHAIR.value,
)

EXPECTED_OWNER = {
    ClockKind.SERIOUS_INCIDENT_NOTIFICATION: "business_unit",
    ClockKind.RAPID_REVIEW: "safeguarding_partners",
    ClockKind.INFORM_BODIES: "business_unit",
    ClockKind.AGENCY_REPORT: POLICE,
    ClockKind.DRAFT_ROUND: "panel",
    ClockKind.FINAL_REPORT_TO_BODIES: "business_unit",
    ClockKind.PUBLICATION: "safeguarding_partners",
    ClockKind.DEFERRAL_REVIEW: "subgroup",
    ClockKind.STAYS_PUBLISHED: "business_unit",
    ClockKind.ACTION: POLICE,
    # Local targets: owned by whoever the step is asked of.
    ClockKind.CHAIR_DECISION_TARGET: "independent_chair",
    ClockKind.AUTHOR_APPOINTMENT_TARGET: "business_unit",
    ClockKind.TERMS_OF_REFERENCE_TARGET: "panel_chair",
    ClockKind.ENGAGEMENT_TARGET: "author",
    ClockKind.DRAFT_CIRCULATION_TARGET: "author",
    ClockKind.FINAL_REPORT_TARGET: "safeguarding_partners",
    ClockKind.LEARNING_REVIEW_TARGET: "subgroup",
    ClockKind.ACTION_PLAN_TARGET: "panel_chair",
    ClockKind.CLOSURE_TARGET: "subgroup",
}


def _top_of_ladder(kind: ClockKind) -> str:
    """Who hears last: the Independent Chair, or, about the Chair's own decision, the safeguarding partners."""
    return "safeguarding_partners" if EXPECTED_OWNER[kind] == CHAIR else CHAIR


def _owner_for(kind: ClockKind) -> str | None:
    return POLICE if kind in AGENCY_KINDS else None


def daily_sweeps(
    *,
    clock_key: str,
    due: date,
    policy: ReminderPolicy,
    until: date,
    owner_role: str | None = None,
) -> list[tuple[date, DueMessage]]:
    """What a sweep run every day up to ``until`` sends, each message on the day it is first sent.

    Each day asks ``messages_due`` what is current, as the sweep does, and the outbox
    drops a key it already holds, so a message current on several days is sent once.
    """
    day = CAL.before(due, max(policy.before, default=0) + 1)
    seen: set[str] = set()
    sent: list[tuple[date, DueMessage]] = []
    while day <= until:
        for msg in messages_due(
            clock_key=clock_key, due=due, today=day, policy=policy, calendar=CAL, owner_role=owner_role
        ):
            if msg.key("") not in seen:
                seen.add(msg.key(""))
                sent.append((day, msg))
        day += timedelta(days=1)
    return sent


def _sweeps(
    kind: ClockKind, due: date, until: date, key: str | None = None
) -> list[tuple[date, DueMessage]]:
    return daily_sweeps(
        clock_key=key or kind.value,
        due=due,
        policy=DEFAULT_POLICIES[kind],
        owner_role=_owner_for(kind),
        until=until,
    )


def _due(kind: ClockKind, due: date | None, today: date) -> list[DueMessage]:
    return messages_due(
        clock_key=kind.value,
        due=due,
        today=today,
        policy=DEFAULT_POLICIES[kind],
        calendar=CAL,
        owner_role=_owner_for(kind),
    )


def _brief(sent: list[tuple[date, DueMessage]]) -> list[tuple[str, str, str, str]]:
    return [(d.isoformat(), m.level.value, m.occurrence, m.role) for d, m in sent]


# -- every clock kind ------------------------------------------------------------------

CHASED_KINDS = [k for k in ClockKind if k is not ClockKind.STAYS_PUBLISHED]


def test_there_is_a_policy_for_every_clock_kind() -> None:
    assert set(DEFAULT_POLICIES) == set(ClockKind)


@pytest.mark.parametrize("kind", list(ClockKind))
def test_each_kind_is_owned_by_the_role_the_domain_names(kind: ClockKind) -> None:
    messages = _due(kind, date(2026, 6, 17), date(2026, 6, 17))
    assert [m.role for m in messages] == [EXPECTED_OWNER[kind]]
    assert messages[0].level is DUE


@pytest.mark.parametrize("kind", CHASED_KINDS)
def test_a_chased_clock_reminds_then_chases_daily_then_climbs_the_ladder(kind: ClockKind) -> None:
    owner, top = EXPECTED_OWNER[kind], _top_of_ladder(kind)
    # Wed 17 June 2026: no bank holidays anywhere near.
    sent = _sweeps(kind, date(2026, 6, 17), until=date(2026, 7, 1))

    assert _brief(sent) == [
        ("2026-06-10", "reminder", "before-5", owner),
        ("2026-06-16", "reminder", "before-1", owner),
        ("2026-06-17", "due_today", "due", owner),
        ("2026-06-18", "overdue", "overdue-1", owner),
        ("2026-06-18", "escalation", "rung-1", BUM),
        ("2026-06-18", "escalation", "rung-1", SGC),
        ("2026-06-19", "overdue", "overdue-2", owner),
        ("2026-06-22", "overdue", "overdue-3", owner),
        ("2026-06-23", "overdue", "overdue-4", owner),
        ("2026-06-24", "overdue", "overdue-5", owner),
        ("2026-06-24", "escalation", "rung-5", top),
        ("2026-06-25", "overdue", "overdue-6", owner),
        ("2026-06-26", "overdue", "overdue-7", owner),
        ("2026-06-29", "overdue", "overdue-8", owner),
        ("2026-06-30", "overdue", "overdue-9", owner),
        ("2026-07-01", "overdue", "overdue-10", owner),
        ("2026-07-01", "escalation", "rung-10", top),
    ]


@pytest.mark.parametrize("kind", CHASED_KINDS)
def test_escalations_name_the_owner_they_were_escalated_from(kind: ClockKind) -> None:
    messages = _due(kind, date(2026, 6, 17), date(2026, 6, 24))
    escalations = [m for m in messages if m.level is ESC]
    assert escalations
    assert all(m.escalated_from == EXPECTED_OWNER[kind] for m in escalations)
    assert all(m.days_overdue == 5 for m in messages)
    assert all(m.escalated_from == "" for m in messages if m.level is not ESC)


def test_nobody_is_escalated_to_about_their_own_step() -> None:
    """The Chair's own decision (its local target) climbs to the safeguarding partners, whose decision it is in law."""
    assert escalation_ladder(2, 7) == (Rung(2, (BUM, SGC)), Rung(7, (CHAIR,)))
    assert escalation_ladder(2, 7, owner_role=CHAIR) == (Rung(2, (BUM, SGC)), Rung(7, ("safeguarding_partners",)))
    for kind, policy in DEFAULT_POLICIES.items():
        assert all(policy.owner_role not in rung.roles for rung in policy.ladder), kind


def test_stays_published_only_tells_the_business_unit_on_the_due_date() -> None:
    sent = _sweeps(ClockKind.STAYS_PUBLISHED, date(2027, 6, 17), until=date(2027, 9, 30))
    assert _brief(sent) == [("2027-06-17", "due_today", "due", "business_unit")]


def test_a_due_date_on_a_saturday_is_announced_on_the_next_working_day() -> None:
    # Calendar-month clocks (publication, stays published) can fall due at a weekend.
    sent = _sweeps(ClockKind.STAYS_PUBLISHED, date(2027, 6, 19), until=date(2027, 7, 30))
    assert _brief(sent) == [("2027-06-21", "due_today", "due", "business_unit")]


def test_an_agency_owned_clock_without_its_agency_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="owned by an agency"):
        messages_due(
            clock_key="action:1",
            due=date(2026, 6, 17),
            today=date(2026, 6, 17),
            policy=DEFAULT_POLICIES[ClockKind.ACTION],
            calendar=CAL,
        )


# -- bank holidays and weekends --------------------------------------------------------


def test_reminders_around_christmas_2026_skip_christmas_boxing_day_and_weekends() -> None:
    sent = _sweeps(ClockKind.RAPID_REVIEW, date(2026, 12, 30), until=date(2027, 1, 7))

    assert _brief(sent) == [
        # Working days back from Wed 30 Dec: 29, 24, 23, 22, 21 (25 and 28 are holidays).
        ("2026-12-21", "reminder", "before-5", "safeguarding_partners"),
        ("2026-12-29", "reminder", "before-1", "safeguarding_partners"),
        ("2026-12-30", "due_today", "due", "safeguarding_partners"),
        ("2026-12-31", "overdue", "overdue-1", "safeguarding_partners"),
        ("2026-12-31", "escalation", "rung-1", BUM),
        ("2026-12-31", "escalation", "rung-1", SGC),
        # Fri 1 Jan 2027 is New Year's Day.
        ("2027-01-04", "overdue", "overdue-2", "safeguarding_partners"),
        ("2027-01-05", "overdue", "overdue-3", "safeguarding_partners"),
        ("2027-01-06", "overdue", "overdue-4", "safeguarding_partners"),
        ("2027-01-07", "overdue", "overdue-5", "safeguarding_partners"),
        ("2027-01-07", "escalation", "rung-5", CHAIR),
    ]


def test_reminders_around_easter_2026_skip_good_friday_and_easter_monday() -> None:
    sent = _sweeps(ClockKind.DRAFT_ROUND, date(2026, 4, 8), until=date(2026, 4, 9))

    assert _brief(sent) == [
        # Back from Wed 8 Apr: 7, 2, 1, 31 Mar, 30 Mar (3 and 6 April are bank holidays).
        ("2026-03-30", "reminder", "before-5", "panel"),
        ("2026-04-07", "reminder", "before-1", "panel"),
        ("2026-04-08", "due_today", "due", "panel"),
        ("2026-04-09", "overdue", "overdue-1", "panel"),
        ("2026-04-09", "escalation", "rung-1", BUM),
        ("2026-04-09", "escalation", "rung-1", SGC),
    ]


def test_overdue_days_do_not_count_the_easter_weekend() -> None:
    # Due Thu 2 April 2026; Fri 3 to Mon 6 April are not working days.
    messages = _due(ClockKind.RAPID_REVIEW, date(2026, 4, 2), date(2026, 4, 7))
    assert [m.occurrence for m in messages] == ["overdue-1", "rung-1", "rung-1"]


@pytest.mark.parametrize(
    "today",
    [
        date(2026, 12, 26),  # Saturday
        date(2026, 12, 27),  # Sunday
        date(2026, 12, 25),  # Christmas Day
        date(2026, 12, 28),  # Boxing Day (substitute)
        date(2027, 1, 1),  # New Year's Day
    ],
)
def test_nothing_is_sent_on_a_weekend_or_bank_holiday(today: date) -> None:
    for kind in ClockKind:
        for due in (date(2026, 12, 22), date(2026, 12, 30), date(2027, 1, 5)):
            assert _due(kind, due, today) == []


def test_a_partnership_closure_day_is_skipped_like_a_bank_holiday() -> None:
    shutdown = WorkingCalendar(closures=[date(2026, 6, 18)])
    messages = messages_due(
        clock_key="rapid_review",
        due=date(2026, 6, 17),
        today=date(2026, 6, 18),
        policy=DEFAULT_POLICIES[ClockKind.RAPID_REVIEW],
        calendar=shutdown,
    )
    assert messages == []


# -- paused, met or stopped --------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ClockKind))
def test_a_paused_met_or_stopped_clock_is_silent(kind: ClockKind) -> None:
    for today in (date(2026, 6, 10), date(2026, 6, 17), date(2026, 7, 1)):
        assert _due(kind, None, today) == []


# -- catch-up and repeats ----------------------------------------------------------------


def test_a_late_sweep_sends_only_the_latest_reminder_not_a_backlog() -> None:
    # before-5 was Wed 10 June; a sweep that first runs on Mon 15 June sends only it.
    messages = _due(ClockKind.RAPID_REVIEW, date(2026, 6, 17), date(2026, 6, 15))
    assert [(m.level, m.occurrence) for m in messages] == [(REMIND, "before-5")]


def test_a_sweep_after_missed_days_sends_only_the_latest_overdue_and_rung() -> None:
    # Seven working days overdue with no sweep since the due date.
    messages = _due(ClockKind.RAPID_REVIEW, date(2026, 6, 17), date(2026, 6, 26))
    assert [(m.level, m.occurrence, m.role) for m in messages] == [
        (OVER, "overdue-7", "safeguarding_partners"),
        (ESC, "rung-5", CHAIR),
    ]


def test_a_sweep_long_after_the_due_date_names_the_latest_repeat() -> None:
    # 23 working days overdue: the repeats fell on days 10, 15 and 20; only 20 is current.
    today = CAL.add(date(2026, 6, 17), 23)
    messages = _due(ClockKind.RAPID_REVIEW, date(2026, 6, 17), today)
    assert [m.occurrence for m in messages] == ["overdue-23", "rung-20"]


def test_the_last_rung_repeats_every_five_working_days_while_overdue() -> None:
    due = date(2026, 6, 17)
    sent = _sweeps(ClockKind.RAPID_REVIEW, due, until=CAL.add(due, 31))
    chair = [(d, m.occurrence) for d, m in sent if m.role == CHAIR]

    assert [occurrence for _, occurrence in chair] == [
        "rung-5",
        "rung-10",
        "rung-15",
        "rung-20",
        "rung-25",
        "rung-30",
    ]
    assert [CAL.between(due, d) for d, _ in chair] == [5, 10, 15, 20, 25, 30]


def test_without_repeats_the_last_rung_is_heard_once() -> None:
    policy = ReminderPolicy("panel", repeat_every=0)
    due = date(2026, 6, 17)
    sent = daily_sweeps(
        clock_key="draft_round:round-1",
        due=due,
        policy=policy,
        until=CAL.add(due, 30),
    )
    assert [m.occurrence for _, m in sent if m.level is ESC] == ["rung-1", "rung-1", "rung-5"]


def test_a_policy_without_reminders_or_daily_chasing_only_escalates() -> None:
    policy = ReminderPolicy(
        "subgroup",
        before=(),
        on_due=False,
        overdue_daily=False,
        ladder=(Rung(3, ("panel_chair",)),),
        repeat_every=0,
    )
    sent = daily_sweeps(
        clock_key="deferral_review:deferral-1",
        due=date(2026, 6, 17),
        policy=policy,
        until=date(2026, 8, 1),
    )
    assert _brief(sent) == [("2026-06-22", "escalation", "rung-3", "panel_chair")]


# -- keys ------------------------------------------------------------------------------


def test_the_outbox_key_names_review_clock_level_occurrence_and_role() -> None:
    message = _due(ClockKind.AGENCY_REPORT, date(2026, 6, 17), date(2026, 6, 18))[1]
    assert message.key("LCSPR-2026-0001") == (
        "LCSPR-2026-0001:agency_report:escalation:rung-1:business_unit_manager"
    )


@pytest.mark.parametrize("kind", list(ClockKind))
def test_keys_are_unique_across_a_whole_schedule(kind: ClockKind) -> None:
    sent = _sweeps(kind, date(2026, 12, 30), until=date(2027, 3, 31))
    keys = [m.key("LCSPR-2026-0001") for _, m in sent]
    assert len(keys) == len(set(keys))


def test_keys_are_stable_when_the_same_day_is_swept_again() -> None:
    first = _due(ClockKind.RAPID_REVIEW, date(2026, 6, 17), date(2026, 6, 24))
    again = _due(ClockKind.RAPID_REVIEW, date(2026, 6, 17), date(2026, 6, 24))
    assert [m.key("R") for m in first] == [m.key("R") for m in again]


def test_two_agencies_reports_have_distinct_keys_and_owners() -> None:
    due, today = date(2026, 6, 17), date(2026, 6, 17)
    policy = DEFAULT_POLICIES[ClockKind.AGENCY_REPORT]
    police, health = (
        messages_due(
            clock_key=f"agency_report:{name}",
            due=due,
            today=today,
            policy=policy,
            calendar=CAL,
            owner_role=agency_role(name),
        )[0]
        for name in ("Police", "Health")
    )
    assert police.key("R") != health.key("R")
    assert (police.role, health.role) == ("agency-police", "agency-health")


# -- roles and policy validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("Thames Valley Police", "agency-thames-valley-police"),
        (
            "Buckinghamshire Council (Children's Services)",
            "agency-buckinghamshire-council-children-s-services",
        ),
        ("  NHS  Frimley ICB ", "agency-nhs-frimley-icb"),
    ],
)
def test_an_agency_is_addressed_by_a_slug_of_its_name(name: str, role: str) -> None:
    assert agency_role(name) == role


def test_an_agency_name_without_letters_or_digits_is_refused() -> None:
    with pytest.raises(Refused):
        agency_role(" -- ")


@pytest.mark.parametrize(
    "bad",
    [
        {"before": (0,)},
        {"before": (5, 5)},
        {"ladder": (Rung(5, ("a",)), Rung(1, ("b",)))},
        {"ladder": (Rung(0, ("a",)),)},
        {"ladder": (Rung(1, ()),)},
        {"repeat_every": -1},
        {"owner_role": ""},
    ],
)
def test_a_malformed_policy_is_refused_when_built(bad: dict[str, object]) -> None:
    values: dict[str, object] = {"owner_role": "panel", **bad}
    with pytest.raises(ConfigurationError):
        ReminderPolicy(**values)  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    due=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    offset=st.integers(min_value=-15, max_value=60),
    kind=st.sampled_from(list(ClockKind)),
)
def test_whatever_day_a_sweep_runs_it_sends_only_what_a_daily_sweep_sends(
    due: date, offset: int, kind: ClockKind
) -> None:
    today = due + timedelta(days=offset)
    late = _due(kind, due, today)
    daily = {m.key("R") for _, m in _sweeps(kind, due, until=today)}

    assert {m.key("R") for m in late} <= daily
    assert len({m.key("R") for m in late}) == len(late)
    if not CAL.is_working_day(today):
        assert late == []


# -- one day's judgement, shared by the clocks of a sweep ----------------------------------


def _judged(reminders: RemindersOn, kind: ClockKind, due: date, clock_key: str) -> list[DueMessage]:
    return [m.about(clock_key) for m in reminders.current(kind, due, _owner_for(kind) or "")]


@pytest.mark.parametrize("today", [date(2026, 12, 22), date(2026, 12, 29), date(2027, 1, 4), date(2027, 3, 2)])
def test_one_days_judgement_gives_what_messages_due_gives_for_every_kind_and_due_date(today: date) -> None:
    reminders = RemindersOn(today, DEFAULT_POLICIES, CAL)
    for kind in ClockKind:
        for due in (today + timedelta(days=n) for n in range(-60, 15)):
            assert _judged(reminders, kind, due, kind.value) == _due(kind, due, today), (kind, due)


def test_a_days_judgement_is_made_once_per_kind_due_date_and_owner_and_shared() -> None:
    today, due = date(2027, 3, 2), date(2027, 2, 19)
    reminders = RemindersOn(today, DEFAULT_POLICIES, CAL)
    first = reminders.current(ClockKind.AGENCY_REPORT, due, POLICE)
    assert reminders.current(ClockKind.AGENCY_REPORT, due, POLICE) is first
    other = reminders.current(ClockKind.AGENCY_REPORT, due, agency_role("Oxfordshire County Council"))
    assert [m.role for m in other if m.level is OVER] == ["agency-oxfordshire-county-council"]
    assert [m.role for m in first if m.level is OVER] == [POLICE]


def test_a_shared_message_is_keyed_as_the_message_about_each_clock() -> None:
    today = date(2027, 3, 2)
    for current in RemindersOn(today, DEFAULT_POLICIES, CAL).current(ClockKind.RAPID_REVIEW, date(2027, 2, 1)):
        for clock_key in ("rapid_review", "draft_round:round-2"):
            assert current.key_about("LCSPR-2027-001", clock_key) == current.about(clock_key).key("LCSPR-2027-001")


def test_on_a_non_working_day_or_for_a_silent_clock_nothing_is_current() -> None:
    boxing_day = RemindersOn(date(2026, 12, 26), DEFAULT_POLICIES, CAL)
    assert boxing_day.current(ClockKind.RAPID_REVIEW, date(2026, 12, 1)) == ()
    assert RemindersOn(date(2027, 3, 2), DEFAULT_POLICIES, CAL).current(ClockKind.RAPID_REVIEW, None) == ()


def test_a_days_judgement_of_an_agency_clock_without_its_agency_is_a_configuration_error() -> None:
    reminders = RemindersOn(date(2027, 3, 2), DEFAULT_POLICIES, CAL)
    with pytest.raises(ConfigurationError):
        reminders.current(ClockKind.ACTION, date(2027, 2, 1))


def test_a_days_judgement_follows_the_policies_it_is_given() -> None:
    quiet = ReminderPolicy("panel", before=(), on_due=False, overdue_daily=False, ladder=(Rung(3, ("panel_chair",)),),
                           repeat_every=0)
    reminders = RemindersOn(date(2027, 3, 2), {**DEFAULT_POLICIES, ClockKind.DRAFT_ROUND: quiet}, CAL)
    assert reminders.current(ClockKind.DRAFT_ROUND, date(2027, 3, 2)) == ()
    assert [(m.level, m.occurrence, m.role) for m in reminders.current(ClockKind.DRAFT_ROUND, date(2027, 2, 1))] == [
        (ESC, "rung-3", "panel_chair")]


@settings(max_examples=200, deadline=None)
@given(
    due=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    offset=st.integers(min_value=-15, max_value=60),
    kind=st.sampled_from(list(ClockKind)),
)
def test_whatever_the_day_its_judgement_is_messages_due(due: date, offset: int, kind: ClockKind) -> None:
    today = due + timedelta(days=offset)
    assert _judged(RemindersOn(today, DEFAULT_POLICIES, CAL), kind, due, kind.value) == _due(kind, due, today)
