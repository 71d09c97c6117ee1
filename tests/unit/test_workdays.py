"""Working-day arithmetic: the checks in the domain brief plus properties over 2024-2030."""

from __future__ import annotations

import time
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from models.workdays import WorkingCalendar

CAL = WorkingCalendar()
dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 6, 30))
lengths = st.integers(min_value=1, max_value=60)


def test_five_working_days_from_monday_22_december_2025_is_wednesday_31st() -> None:
    """Christmas Day and Boxing Day are skipped."""
    assert CAL.add(date(2025, 12, 22), 5) == date(2025, 12, 31)


def test_fifteen_working_days_skip_easter() -> None:
    """Good Friday and Easter Monday 2026 are England bank holidays."""
    assert CAL.add(date(2026, 3, 27), 15) == date(2026, 4, 21)


def test_substitute_boxing_day_2026_is_skipped() -> None:
    """Boxing Day 2026 falls on a Saturday, so Monday 28 December is the holiday."""
    assert CAL.add(date(2026, 12, 21), 5) == date(2026, 12, 30)


def test_august_bank_holiday_is_not_a_working_day() -> None:
    """Only the ENG subdivision knows the late summer bank holiday."""
    assert not CAL.is_working_day(date(2026, 8, 31))
    assert CAL.is_working_day(date(2026, 9, 1))


def test_weekends_are_not_working_days() -> None:
    assert not CAL.is_working_day(date(2026, 3, 28))
    assert not CAL.is_working_day(date(2026, 3, 29))
    assert CAL.is_working_day(date(2026, 3, 30))


def test_zero_working_days_returns_the_start_even_on_a_weekend() -> None:
    assert CAL.add(date(2026, 3, 28), 0) == date(2026, 3, 28)


def test_adding_from_a_weekend_counts_from_the_next_working_day() -> None:
    """Day 0 is Saturday; the first working day after it is Monday."""
    assert CAL.add(date(2026, 3, 28), 1) == date(2026, 3, 30)


def test_a_closure_day_moves_the_deadline_on_by_one_day() -> None:
    with_shutdown = WorkingCalendar(closures=[date(2026, 3, 31)])
    assert CAL.add(date(2026, 3, 27), 3) == date(2026, 4, 1)
    assert with_shutdown.add(date(2026, 3, 27), 3) == date(2026, 4, 2)
    assert not with_shutdown.is_working_day(date(2026, 3, 31))
    assert with_shutdown.closures == frozenset({date(2026, 3, 31)})


def test_a_closure_on_a_weekend_changes_nothing() -> None:
    closed_saturday = WorkingCalendar(closures=[date(2026, 3, 28)])
    assert closed_saturday.add(date(2026, 3, 27), 3) == CAL.add(date(2026, 3, 27), 3)


def test_next_working_day_is_the_day_itself_when_working() -> None:
    assert CAL.next_working_day(date(2026, 4, 2)) == date(2026, 4, 2)


def test_next_working_day_skips_the_easter_weekend() -> None:
    assert CAL.next_working_day(date(2026, 4, 3)) == date(2026, 4, 7)


def test_seven_working_days_before_a_monday_publication() -> None:
    """7 working days before Mon 15 June 2026 is Thu 4 June 2026."""
    assert CAL.before(date(2026, 6, 15), 7) == date(2026, 6, 4)


def test_before_skips_easter_backwards() -> None:
    assert CAL.before(date(2026, 4, 7), 2) == date(2026, 4, 1)


def test_before_zero_is_the_date_itself() -> None:
    assert CAL.before(date(2026, 4, 4), 0) == date(2026, 4, 4)


def test_negative_add_counts_backwards() -> None:
    assert CAL.add(date(2026, 6, 15), -7) == CAL.before(date(2026, 6, 15), 7)


def test_between_counts_working_days_after_start_up_to_end() -> None:
    assert CAL.between(date(2026, 3, 27), date(2026, 4, 21)) == 15
    assert CAL.between(date(2026, 4, 2), date(2026, 4, 7)) == 1


def test_between_is_negative_when_end_is_earlier_and_zero_when_equal() -> None:
    assert CAL.between(date(2026, 4, 21), date(2026, 3, 27)) == -15
    assert CAL.between(date(2026, 4, 21), date(2026, 4, 21)) == 0


def test_between_spans_several_years() -> None:
    start, end = date(2024, 1, 1), date(2030, 1, 1)
    walked = sum(
        1 for i in range(1, (end - start).days + 1) if CAL.is_working_day(start + timedelta(days=i))
    )
    assert CAL.between(start, end) == walked


def test_add_months_clamps_to_the_last_day_of_a_short_month() -> None:
    assert CAL.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert CAL.add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)


def test_add_months_crosses_years_and_is_not_moved_to_a_working_day() -> None:
    """6 months from 4 July 2026 is Monday 4 January 2027; 12 from 26 Dec 2025 is a Saturday."""
    assert CAL.add_months(date(2026, 7, 4), 6) == date(2027, 1, 4)
    assert CAL.add_months(date(2025, 12, 26), 12) == date(2026, 12, 26)


def test_ten_thousand_additions_take_well_under_a_second() -> None:
    start = date(2024, 1, 1)
    began = time.perf_counter()
    for i in range(10_000):
        CAL.add(start + timedelta(days=i % 2000), 30)
    assert time.perf_counter() - began < 1.0


@given(dates, lengths)
def test_adding_working_days_never_lands_on_a_day_off(d: date, n: int) -> None:
    closed = WorkingCalendar(closures=[date(2026, 12, 29), date(2026, 12, 30)])
    result = closed.add(d, n)
    assert result.weekday() < 5
    assert closed.is_working_day(result)
    assert result not in closed.closures


@given(dates, lengths, lengths)
def test_adding_more_working_days_lands_later(d: date, n1: int, n2: int) -> None:
    if n1 == n2:
        return
    low, high = sorted((n1, n2))
    assert CAL.add(d, low) < CAL.add(d, high)


@given(dates, lengths)
def test_before_undoes_add_for_working_days(d: date, n: int) -> None:
    """From a non-working day it lands on the last working day before it instead."""
    back = CAL.before(CAL.add(d, n), n)
    assert CAL.is_working_day(back)
    assert back <= d
    if CAL.is_working_day(d):
        assert back == d


@given(dates, st.integers(min_value=0, max_value=60))
def test_between_counts_what_add_added(d: date, n: int) -> None:
    assert CAL.between(d, CAL.add(d, n)) == n
