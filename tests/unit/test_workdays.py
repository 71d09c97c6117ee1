"""Working-day arithmetic: the checks in the domain brief, properties over 2024-2030, and the
table-driven calendar checked against a plain day-by-day walk."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import holidays
import pytest
from hypothesis import given, settings
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


# The reference: the definition of a working day, walked one calendar day at a time.

ONE_DAY = timedelta(days=1)
BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=range(2005, 2046))
SHUTDOWN = frozenset({
    date(2022, 12, 28), date(2022, 12, 29), date(2022, 12, 30),  # a Christmas shutdown
    date(2024, 12, 31), date(2025, 1, 2),  # either side of New Year's Day
    date(2026, 3, 31), date(2026, 4, 4),  # a weekday and a Saturday near Easter
})


def reference_is_working_day(d: date, closures: frozenset[date] = frozenset()) -> bool:
    return d.weekday() < 5 and d not in BANK_HOLIDAYS and d not in closures


def reference_add(start: date, n: int, closures: frozenset[date] = frozenset()) -> date:
    step, d = (ONE_DAY if n > 0 else -ONE_DAY), start
    for _ in range(abs(n)):
        d += step
        while not reference_is_working_day(d, closures):
            d += step
    return d


def reference_between(start: date, end: date, closures: frozenset[date] = frozenset()) -> int:
    low, high = sorted((start, end))
    count = sum(reference_is_working_day(low + i * ONE_DAY, closures) for i in range(1, (high - low).days + 1))
    return count if start <= end else -count


def every_day(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += ONE_DAY


STEPS = (0, 1, 2, 5, 15, 20, 60, -1, -5, -15, -20)


@pytest.mark.parametrize("closures", [frozenset(), SHUTDOWN], ids=["bank-holidays", "with-closures"])
def test_every_start_date_2020_to_2028_agrees_with_a_day_by_day_walk(closures: frozenset[date]) -> None:
    """add, before, between, is_working_day and next_working_day, for each day of nine years."""
    cal = WorkingCalendar(closures)
    for d in every_day(date(2020, 1, 1), date(2028, 12, 31)):
        working = reference_is_working_day(d, closures)
        assert cal.is_working_day(d) is working, d
        assert cal.next_working_day(d) == (d if working else reference_add(d, 1, closures)), d
        for n in STEPS:
            expected = reference_add(d, n, closures) if n else d
            assert cal.add(d, n) == expected, (d, n)
            assert cal.before(d, -n) == expected, (d, -n)
            assert cal.between(d, expected) == reference_between(d, expected, closures), (d, n)


@pytest.mark.parametrize("closures", [frozenset(), SHUTDOWN], ids=["bank-holidays", "with-closures"])
def test_a_fresh_calendar_widens_its_span_across_year_ends_both_ways(closures: frozenset[date]) -> None:
    """Starting in December or January, the first question already needs the next or the previous year."""
    for year in range(2021, 2027):
        for d, towards in [*((d, 1) for d in every_day(date(year, 12, 1), date(year, 12, 31))),
                           *((d, -1) for d in every_day(date(year, 1, 1), date(year, 1, 31)))]:
            for n in (5, 20):
                assert WorkingCalendar(closures).add(d, towards * n) == reference_add(d, towards * n, closures), (d, n)
            other = d + towards * timedelta(days=45)
            assert WorkingCalendar(closures).between(d, other) == reference_between(d, other, closures), d


def test_long_jumps_forwards_and_backwards_widen_the_span_by_many_years() -> None:
    start = date(2026, 6, 15)
    for n in (261, 262, 263, 1000, 2500):
        assert WorkingCalendar().add(start, n) == reference_add(start, n), n
        assert WorkingCalendar().before(start, n) == reference_add(start, -n), n
        assert WorkingCalendar(SHUTDOWN).add(date(2020, 1, 1), n) == reference_add(date(2020, 1, 1), n, SHUTDOWN)


def test_a_calendar_asked_about_years_apart_fills_the_years_between() -> None:
    cal = WorkingCalendar(SHUTDOWN)
    assert cal.add(date(2030, 5, 1), 10) == reference_add(date(2030, 5, 1), 10)
    assert cal.add(date(2012, 5, 1), 10) == reference_add(date(2012, 5, 1), 10)
    assert cal.between(date(2012, 5, 1), date(2030, 5, 1)) == reference_between(
        date(2012, 5, 1), date(2030, 5, 1), SHUTDOWN
    )
    assert cal.add(date(2022, 12, 23), 3) == reference_add(date(2022, 12, 23), 3, SHUTDOWN) == date(2023, 1, 5)


questions = st.tuples(
    st.sampled_from(["add", "before", "between", "is_working_day", "next_working_day"]),
    st.dates(min_value=date(2012, 1, 1), max_value=date(2038, 12, 31)),
    st.integers(min_value=-300, max_value=300),
)


@settings(max_examples=150)
@given(st.lists(questions, min_size=1, max_size=12), st.booleans())
def test_any_order_of_questions_gives_the_day_by_day_answers(
    asked: list[tuple[str, date, int]], closed: bool
) -> None:
    """However the span grows (forwards, backwards, by jumps), each answer is the walked one."""
    closures = SHUTDOWN if closed else frozenset()
    cal = WorkingCalendar(closures)
    for question, d, n in asked:
        if question == "add":
            assert cal.add(d, n) == (reference_add(d, n, closures) if n else d)
        elif question == "before":
            assert cal.before(d, n) == (reference_add(d, -n, closures) if n else d)
        elif question == "between":
            assert cal.between(d, d + timedelta(days=n)) == reference_between(d, d + timedelta(days=n), closures)
        elif question == "is_working_day":
            assert cal.is_working_day(d) is reference_is_working_day(d, closures)
        else:
            assert cal.next_working_day(d) == reference_add(d - ONE_DAY, 1, closures)


def test_threads_growing_one_calendar_all_get_the_walked_answers() -> None:
    cal, wrong = WorkingCalendar(SHUTDOWN), []
    starts = {year: list(every_day(date(year, 11, 1), date(year, 12, 31))) for year in range(2015, 2035)}

    def ask(years: list[int]) -> None:
        for year in years:
            for d in starts[year]:
                if cal.add(d, 20) != reference_add(d, 20, SHUTDOWN) or cal.before(d, 20) != reference_add(
                    d, -20, SHUTDOWN
                ):
                    wrong.append(d)

    orders = [list(range(2015, 2035)), list(range(2034, 2014, -1)), [2025, 2015, 2034, 2020, 2030, 2016]]
    threads = [threading.Thread(target=ask, args=(years,)) for years in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_a_datetime_is_moved_like_a_date_and_keeps_its_time() -> None:
    assert CAL.add(datetime(2026, 3, 27, 9, 30), 15) == datetime(2026, 4, 21, 9, 30)
    assert CAL.before(datetime(2026, 4, 7, 17, 0), 2) == datetime(2026, 4, 1, 17, 0)


def test_moving_past_the_last_representable_date_raises_overflow_error() -> None:
    assert WorkingCalendar().add(date(9999, 12, 28), 1) == date(9999, 12, 29)
    with pytest.raises(OverflowError):
        WorkingCalendar().add(date(9999, 12, 29), 5)
    with pytest.raises(OverflowError):
        WorkingCalendar().before(date(1, 1, 3), 5)
