"""Working-day arithmetic for the statutory clocks of a review.

A working day is Monday to Friday, minus England & Wales bank holidays (from the
``holidays`` package with ``subdiv="ENG"``; without the subdivision Easter Monday and
the August bank holiday go missing) and minus any local closure days the partnership
configures, such as a Christmas shutdown.

No guidance defines "working day", so the convention is stated once, here: day 0 is the
start date and a deadline of N working days is the Nth working day *after* it, whether
or not the start date itself is a working day.

The calendar never reads the real clock; every date is an argument.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterable
from datetime import date, timedelta

import holidays

_ONE_DAY = timedelta(days=1)


class WorkingCalendar:
    """Monday-Friday minus England & Wales bank holidays minus configured local closure days.

    Bank holidays come from ``holidays.country_holidays("GB", subdiv="ENG")``, looked up
    once per year and cached, so clock recomputation across many reviews stays cheap.
    """

    def __init__(self, closures: Iterable[date] = ()) -> None:
        self._closures: frozenset[date] = frozenset(closures)
        # year -> the weekdays of that year that are not working days (bank holidays and
        # closures). Weekends are handled arithmetically, so only exceptions are stored.
        self._days_off_by_year: dict[int, frozenset[date]] = {}

    @property
    def closures(self) -> frozenset[date]:
        """The local closure days this calendar treats as non-working."""
        return self._closures

    def __repr__(self) -> str:
        return f"WorkingCalendar(closures={sorted(self._closures)!r})"

    def _days_off(self, year: int) -> frozenset[date]:
        cached = self._days_off_by_year.get(year)
        if cached is None:
            # Creating the holidays object per year (not once for all years) keeps the
            # lookup lazy: only the years a clock actually touches are computed.
            bank = holidays.country_holidays("GB", subdiv="ENG", years=year)
            cached = frozenset(
                d for d in (*bank.keys(), *self._closures) if d.year == year and d.weekday() < 5
            )
            self._days_off_by_year[year] = cached
        return cached

    def is_working_day(self, d: date) -> bool:
        """True when ``d`` is a weekday that is neither a bank holiday nor a closure day."""
        return d.weekday() < 5 and d not in self._days_off(d.year)

    def next_working_day(self, d: date) -> date:
        """``d`` itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def add(self, start: date, n: int) -> date:
        """The Nth working day after ``start`` (day 0 is ``start``).

        ``n == 0`` returns ``start`` unchanged, even when it is not a working day, because
        a zero-length rule means "due on the start date". Negative ``n`` counts backwards
        like :meth:`before`.
        """
        return self._step(start, n, _ONE_DAY) if n >= 0 else self._step(start, -n, -_ONE_DAY)

    def before(self, d: date, n: int) -> date:
        """The Nth working day before ``d`` (``n == 0`` returns ``d``; negative ``n`` adds)."""
        return self._step(d, n, -_ONE_DAY) if n >= 0 else self._step(d, -n, _ONE_DAY)

    def _step(self, d: date, n: int, direction: timedelta) -> date:
        """Move ``n`` working days from ``d``, one calendar day at a time in ``direction``."""
        year = d.year
        days_off = self._days_off(year)
        while n > 0:
            d += direction
            if d.year != year:
                year = d.year
                days_off = self._days_off(year)
            # Inlined is_working_day: this loop runs for every clock on every recomputation.
            if d.weekday() < 5 and d not in days_off:
                n -= 1
        return d

    def between(self, start: date, end: date) -> int:
        """Working days ``x`` with ``start < x <= end``; negative when ``end < start``.

        So ``between(d, add(d, n)) == n`` and the count of a pause from its start to its
        end is the number of working days it actually swallowed.
        """
        if end < start:
            return -self.between(end, start)
        count = _weekdays_in(start, end)
        for year in range(start.year, end.year + 1):
            count -= sum(1 for x in self._days_off(year) if start < x <= end)
        return count

    def add_months(self, start: date, months: int) -> date:
        """``start`` plus calendar months, clamped to the target month's last day.

        Not moved to a working day: "within 6 months" is a calendar deadline, and
        quietly moving it would hide the true statutory date.
        """
        index = start.year * 12 + (start.month - 1) + months
        year, month0 = divmod(index, 12)
        month = month0 + 1
        last = _gregorian.monthrange(year, month)[1]
        return date(year, month, min(start.day, last))


def _weekdays_in(start: date, end: date) -> int:
    """Count Monday-Friday dates ``x`` with ``start < x <= end`` (``start <= end``)."""
    days = (end - start).days
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    # Walk only the leftover (< 7) days so the count is O(1) for any span.
    weekday = start.weekday()
    for _ in range(rest):
        weekday = (weekday + 1) % 7
        if weekday < 5:
            count += 1
    return count
