"""Statutory clocks: default rules, pause/resume, extensions, meeting, state, RAG, what the sweep reads of one."""

from __future__ import annotations

from datetime import date

import pytest

from models.clocks import (
    DEFAULT_RULES,
    Clock,
    ClockKind,
    ClockRule,
    ClockState,
    RuleUnit,
)
from models.errors import ConfigurationError, Refused
from models.records import DueClock, due_clock
from models.workdays import WorkingCalendar

CAL = WorkingCalendar()


def clock(kind: ClockKind, start: date, subject: str = "") -> Clock:
    return Clock(kind=kind, start=start, rule=DEFAULT_RULES[kind], subject=subject)


RAPID = clock(ClockKind.RAPID_REVIEW, date(2026, 3, 27))  # due Tue 21 April 2026


# -- default rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start", "due"),
    [
        (ClockKind.SERIOUS_INCIDENT_NOTIFICATION, date(2025, 12, 22), date(2025, 12, 31)),
        (ClockKind.RAPID_REVIEW, date(2026, 3, 27), date(2026, 4, 21)),
        (ClockKind.INFORM_BODIES, date(2026, 4, 30), date(2026, 5, 8)),
        (ClockKind.AGENCY_REPORT, date(2026, 5, 1), date(2026, 6, 2)),
        (ClockKind.DRAFT_ROUND, date(2026, 8, 24), date(2026, 9, 8)),
        (ClockKind.FINAL_REPORT_TO_BODIES, date(2026, 6, 15), date(2026, 6, 4)),
        (ClockKind.PUBLICATION, date(2026, 4, 30), date(2026, 10, 30)),
        (ClockKind.DEFERRAL_REVIEW, date(2026, 11, 2), date(2026, 11, 30)),
        (ClockKind.STAYS_PUBLISHED, date(2026, 10, 30), date(2027, 10, 30)),
        (ClockKind.ACTION, date(2027, 1, 15), date(2027, 1, 15)),
    ],
)
def test_every_default_rule_gives_the_expected_due_date(
    kind: ClockKind, start: date, due: date
) -> None:
    """Bank holidays (May Day, August) are skipped; months are calendar months."""
    assert clock(kind, start).due(CAL) == due


def test_every_clock_kind_has_a_default_rule() -> None:
    assert set(DEFAULT_RULES) == set(ClockKind)


def test_a_negative_rule_length_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        ClockRule(RuleUnit.WORKING_DAYS_AFTER, -1)


def test_the_key_adds_the_subject_for_per_subject_clocks() -> None:
    assert RAPID.key == "rapid_review"
    assert clock(ClockKind.AGENCY_REPORT, date(2026, 5, 1), "Police").key == "agency_report:Police"


# -- pause and resume ------------------------------------------------------------------------


def test_pause_and_resume_gives_back_the_paused_working_days() -> None:
    """Paused Wed 8 April, resumed Mon 13 April: 3 working days (9, 10, 13) given back."""
    resumed = RAPID.pause(date(2026, 4, 8), "awaiting police disclosure", "manager").resume(
        date(2026, 4, 13)
    )
    assert resumed.due(CAL) == date(2026, 4, 24)
    assert not resumed.is_paused


def test_an_open_pause_leaves_the_due_date_alone_and_reads_as_paused() -> None:
    paused = RAPID.pause(date(2026, 4, 8), "awaiting police disclosure", "manager")
    assert paused.is_paused
    assert paused.due(CAL) == date(2026, 4, 21)
    assert paused.state_on(date(2026, 5, 1), CAL) is ClockState.PAUSED
    assert paused.rag(date(2026, 5, 1), CAL) == "paused"


def test_a_paused_clock_cannot_be_paused_again() -> None:
    paused = RAPID.pause(date(2026, 4, 8), "awaiting disclosure", "manager")
    with pytest.raises(Refused, match="resume it before pausing it again"):
        paused.pause(date(2026, 4, 9), "again", "manager")


def test_a_met_clock_cannot_be_paused() -> None:
    met = RAPID.meet(date(2026, 4, 2))
    with pytest.raises(Refused) as refused:
        met.pause(date(2026, 4, 8), "late", "manager")
    assert refused.value.reason == (
        "The rapid_review clock is already met on 2026-04-02; a met clock cannot be paused."
    )


def test_a_stopped_clock_cannot_be_paused() -> None:
    stopped = RAPID.stop(date(2026, 4, 1), "route changed to a learning review")
    with pytest.raises(Refused, match="stopped clock cannot be paused"):
        stopped.pause(date(2026, 4, 8), "late", "manager")


def test_a_pause_needs_a_reason() -> None:
    with pytest.raises(Refused, match="reason"):
        RAPID.pause(date(2026, 4, 8), "  ", "manager")


def test_a_pause_cannot_begin_before_the_clock_started() -> None:
    with pytest.raises(Refused, match="earlier"):
        RAPID.pause(date(2026, 3, 20), "awaiting disclosure", "manager")


def test_only_a_paused_clock_can_be_resumed() -> None:
    with pytest.raises(Refused, match="not paused"):
        RAPID.resume(date(2026, 4, 8))


def test_a_clock_cannot_resume_before_it_was_paused() -> None:
    paused = RAPID.pause(date(2026, 4, 8), "awaiting disclosure", "manager")
    with pytest.raises(Refused, match="earlier"):
        paused.resume(date(2026, 4, 7))


# -- extensions ------------------------------------------------------------------------------


def test_an_extension_with_a_reason_sets_the_new_due_date() -> None:
    extended = RAPID.extend(date(2026, 5, 1), "panel agreed more time", "chair", date(2026, 4, 15))
    assert extended.due(CAL) == date(2026, 5, 1)
    assert extended.extensions[-1].reason == "panel agreed more time"


def test_a_pause_before_an_extension_is_not_given_back_twice() -> None:
    """The agreed date already allows for the earlier pause; a later pause still counts."""
    paused_then_extended = (
        RAPID.pause(date(2026, 4, 8), "awaiting disclosure", "manager")
        .resume(date(2026, 4, 13))
        .extend(date(2026, 5, 1), "panel agreed", "chair", date(2026, 4, 14))
    )
    assert paused_then_extended.due(CAL) == date(2026, 5, 1)
    paused_again = paused_then_extended.pause(date(2026, 4, 20), "inquest", "manager").resume(
        date(2026, 4, 21)
    )
    assert paused_again.due(CAL) == date(2026, 5, 5)  # Monday 4 May is May Day


def test_an_extension_must_be_later_than_the_current_due_date() -> None:
    with pytest.raises(Refused, match="later date"):
        RAPID.extend(date(2026, 4, 21), "no change", "chair", date(2026, 4, 15), calendar=CAL)


def test_an_extension_is_checked_against_the_calendar_given() -> None:
    """With a closure the rapid review is due 22 April, so 22 April is no extension."""
    closed = WorkingCalendar(closures=[date(2026, 4, 14)])
    with pytest.raises(Refused, match="later date"):
        RAPID.extend(date(2026, 4, 22), "one day", "chair", date(2026, 4, 15), calendar=closed)


def test_an_extension_needs_a_reason() -> None:
    with pytest.raises(Refused, match="reason"):
        RAPID.extend(date(2026, 5, 1), "", "chair", date(2026, 4, 15))


def test_a_met_clock_cannot_be_extended() -> None:
    with pytest.raises(Refused, match="met clock cannot be extended"):
        RAPID.meet(date(2026, 4, 2)).extend(date(2026, 5, 1), "why", "chair", date(2026, 4, 15))


def test_a_stopped_clock_cannot_be_extended() -> None:
    stopped = RAPID.stop(date(2026, 4, 1), "route changed")
    with pytest.raises(Refused, match="stopped clock cannot be extended"):
        stopped.extend(date(2026, 5, 1), "why", "chair", date(2026, 4, 15))


# -- meeting and stopping --------------------------------------------------------------------


def test_meeting_records_the_date_and_the_clock_stays_met() -> None:
    met = RAPID.meet(date(2026, 4, 21))
    assert met.met_on == date(2026, 4, 21)
    assert met.state_on(date(2026, 6, 1), CAL) is ClockState.MET
    assert met.rag(date(2026, 6, 1), CAL) == "met"


def test_meeting_closes_an_open_pause() -> None:
    met = RAPID.pause(date(2026, 4, 8), "awaiting disclosure", "manager").meet(date(2026, 4, 13))
    assert not met.is_paused
    assert met.pauses[-1].end == date(2026, 4, 13)


def test_a_clock_cannot_be_met_twice() -> None:
    with pytest.raises(Refused, match="already met"):
        RAPID.meet(date(2026, 4, 2)).meet(date(2026, 4, 3))


def test_a_clock_cannot_be_met_before_it_started() -> None:
    with pytest.raises(Refused, match="earlier"):
        RAPID.meet(date(2026, 3, 26))


def test_the_final_report_can_be_sent_before_its_anchor_date() -> None:
    """Its start is the planned publication date, so meeting it earlier is the point."""
    final = clock(ClockKind.FINAL_REPORT_TO_BODIES, date(2026, 6, 15)).meet(date(2026, 6, 3))
    assert final.met_on == date(2026, 6, 3)


def test_an_action_can_be_completed_before_its_fixed_due_date() -> None:
    action = clock(ClockKind.ACTION, date(2027, 1, 15), "action-1").meet(date(2027, 1, 4))
    assert action.met_on == date(2027, 1, 4)


def test_a_stopped_clock_is_silent() -> None:
    stopped = RAPID.stop(date(2026, 4, 1), "route changed to a learning review")
    assert stopped.stop_reason == "route changed to a learning review"
    assert stopped.state_on(date(2026, 6, 1), CAL) is ClockState.STOPPED
    assert stopped.rag(date(2026, 6, 1), CAL) == "stopped"


def test_stopping_needs_a_reason_and_happens_once() -> None:
    with pytest.raises(Refused, match="reason"):
        RAPID.stop(date(2026, 4, 1), "")
    with pytest.raises(Refused, match="already stopped"):
        RAPID.stop(date(2026, 4, 1), "route changed").stop(date(2026, 4, 2), "again")


# -- state and RAG over time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "state", "rag", "left"),
    [
        (date(2026, 3, 27), ClockState.RUNNING, "green", 15),
        (date(2026, 4, 13), ClockState.RUNNING, "green", 6),
        (date(2026, 4, 14), ClockState.RUNNING, "amber", 5),
        (date(2026, 4, 21), ClockState.RUNNING, "amber", 0),
        (date(2026, 4, 22), ClockState.BREACHED, "red", -1),
    ],
)
def test_state_rag_and_days_left_through_a_rapid_review(
    today: date, state: ClockState, rag: str, left: int
) -> None:
    assert RAPID.state_on(today, CAL) is state
    assert RAPID.working_days_left(today, CAL) == left
    assert RAPID.rag(today, CAL) == rag


def test_the_amber_window_is_configurable() -> None:
    assert RAPID.rag(date(2026, 4, 13), CAL, amber_within=6) == "amber"


# -- recomputation ---------------------------------------------------------------------------


def test_a_closure_day_added_to_the_calendar_recomputes_the_due_date() -> None:
    closed = WorkingCalendar(closures=[date(2026, 4, 14)])
    assert RAPID.due(closed) == date(2026, 4, 22)


# -- what the deadline sweep reads of a clock ----------------------------------------------------


def test_a_running_clock_is_handed_to_the_sweep_with_its_due_date_and_what_its_messages_name() -> None:
    agency = Clock(kind=ClockKind.AGENCY_REPORT, start=date(2026, 5, 1), rule=DEFAULT_RULES[ClockKind.AGENCY_REPORT],
                   subject="thames-valley-police", owner_role="agency-thames-valley-police")
    adjusted = (agency.pause(date(2026, 5, 5), "Police asked us to wait.", "A. Jones")
                .resume(date(2026, 5, 12))
                .extend(date(2026, 6, 30), "Late disclosure.", "A. Jones", date(2026, 6, 1), CAL))
    for c in (agency, adjusted):
        due = due_clock("LCSPR-2026-001", "run-1", c, CAL)
        assert due == DueClock("LCSPR-2026-001", "run-1", "agency_report:thames-valley-police", ClockKind.AGENCY_REPORT,
                               "thames-valley-police", "agency-thames-valley-police", c.rule, c.due(CAL))


def test_a_paused_met_or_stopped_clock_is_not_handed_to_the_sweep() -> None:
    assert due_clock("R", None, RAPID.pause(date(2026, 4, 1), "Police asked us to wait.", "A. Jones"), CAL) is None
    assert due_clock("R", None, RAPID.meet(date(2026, 4, 1)), CAL) is None
    assert due_clock("R", None, RAPID.stop(date(2026, 4, 1), "Route changed."), CAL) is None
