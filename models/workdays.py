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
import functools
import threading
from collections.abc import Callable, Iterable
from datetime import MAXYEAR, MINYEAR, date

import holidays
from holidays.version import __version__ as holidays_version

from models import bank_holiday_table as table

# No year has more weekdays than this, so a span short of k working days needs at least
# ceil(k / 262) more years: it is widened by that much at once (and again if that fell short),
# never by a year it turns out not to need, and a long jump is not made one year at a time.
_MOST_WEEKDAYS_A_YEAR = 262

# (last_index, first_index, working_days), see WorkingCalendar.__init__.
_Tables = tuple[dict[date, int], dict[date, int], list[date]]
# Where a slow path's answer lies: an index into working_days, given the tables and the date.
_Target = Callable[[_Tables, date], int]


class WorkingCalendar:
    """Monday-Friday minus England & Wales bank holidays minus configured local closure days.

    Bank holidays come from ``holidays.country_holidays("GB", subdiv="ENG")``, looked up
    once per year and process. The calendar keeps tables of a span of whole years, grown on
    demand to cover the years asked about (and those between them), so every answer is a
    couple of dictionary and list look-ups however many working days it moves.
    """

    def __init__(self, closures: Iterable[date] = ()) -> None:
        self._closures: frozenset[date] = frozenset(closures)
        # year -> the weekdays of that year that are not working days (bank holidays and
        # closures). Kept so widening the span backwards does not ask `holidays` again.
        self._days_off_by_year: dict[int, frozenset[date]] = {}
        # The span's tables, swapped as one tuple so a reader in another thread never pairs
        # the indexes of one span with the days of another:
        # * working_days: every working day of the span, in order;
        # * last_index[d]: index in working_days of the last working day <= d (-1 if none);
        # * first_index[d]: index of the first working day >= d (len(working_days) if none).
        # Every date of the span is a key of both dicts: a missing key means "outside the span".
        self._tables: _Tables = ({}, {}, [])
        self._years: tuple[int, int] | None = None  # first and last year of the span
        self._growing = threading.Lock()

    @property
    def closures(self) -> frozenset[date]:
        """The local closure days this calendar treats as non-working."""
        return self._closures

    @property
    def bank_holidays_source(self) -> str:
        """Where the bank holidays come from, and which release: a new release may add or move one
        (a coronation, a jubilee), so due dates derived under another may differ."""
        return f"holidays {holidays_version} GB/ENG"

    def __repr__(self) -> str:
        return f"WorkingCalendar(closures={sorted(self._closures)!r})"

    def is_working_day(self, d: date) -> bool:
        """True when ``d`` is a weekday that is neither a bank holiday nor a closure day."""
        last, first, _ = self._tables
        try:
            return last[d] == first[d]
        except KeyError:
            last, first, _ = self._cover(d.year, d.year)
            return last[_plain(d)] == first[_plain(d)]

    def next_working_day(self, d: date) -> date:
        """``d`` itself if it is a working day, else the first working day after it."""
        _, first, days = self._tables
        try:
            return days[first[d]]
        except (KeyError, IndexError):
            return self._forward(d, lambda tables, key: tables[1][key])

    def add(self, start: date, n: int) -> date:
        """The Nth working day after ``start`` (day 0 is ``start``).

        ``n == 0`` returns ``start`` unchanged, even when it is not a working day, because
        a zero-length rule means "due on the start date". Negative ``n`` counts backwards
        like :meth:`before`.
        """
        if n > 0:
            last, _, days = self._tables
            try:
                return days[last[start] + n]
            except (KeyError, IndexError):
                return self._forward(start, lambda tables, key: tables[0][key] + n)
        return start if n == 0 else self.before(start, -n)

    def before(self, d: date, n: int) -> date:
        """The Nth working day before ``d`` (``n == 0`` returns ``d``; negative ``n`` adds)."""
        if n > 0:
            _, first, days = self._tables
            try:
                index = first[d] - n
            except KeyError:
                return self._backward(d, n)
            # A negative index would silently count from the end of the list.
            return days[index] if index >= 0 else self._backward(d, n)
        return d if n == 0 else self.add(d, -n)

    def between(self, start: date, end: date) -> int:
        """Working days ``x`` with ``start < x <= end``; negative when ``end < start``.

        So ``between(d, add(d, n)) == n`` and the count of a pause from its start to its
        end is the number of working days it actually swallowed.
        """
        last, _, _ = self._tables
        try:
            return last[end] - last[start]
        except KeyError:
            last, _, _ = self._cover(min(start.year, end.year), max(start.year, end.year))
            return last[_plain(end)] - last[_plain(start)]

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

    # The slow paths: the date, or the day it leads to, lies outside the span.

    def _forward(self, d: date, target: _Target) -> date:
        """The working day at index ``target(tables, d)``, growing the span forwards as needed."""
        key = _plain(d)
        tables = self._cover(key.year, key.year)
        while True:
            index = target(tables, key)
            days = tables[2]
            if index < len(days):
                return _shifted(d, key, days[index])
            assert self._years is not None  # covered above
            short = index - len(days) + 1
            tables = self._cover(key.year, self._years[1] + 1 + (short - 1) // _MOST_WEEKDAYS_A_YEAR)

    def _backward(self, d: date, n: int) -> date:
        """The Nth working day before ``d``, growing the span backwards as needed."""
        key = _plain(d)
        tables = self._cover(key.year, key.year)
        while True:
            index = tables[1][key] - n
            if index >= 0:
                return _shifted(d, key, tables[2][index])
            assert self._years is not None  # covered above
            short = -index
            tables = self._cover(self._years[0] - 1 - (short - 1) // _MOST_WEEKDAYS_A_YEAR, key.year)

    def _cover(self, first_year: int, last_year: int) -> _Tables:
        """The tables after growing the span, if need be, to include ``first_year..last_year``."""
        if first_year < MINYEAR or last_year > MAXYEAR:
            raise OverflowError("date value out of range")
        with self._growing:
            if self._years is None:
                tables: _Tables = ({}, {}, [])
                for year in range(first_year, last_year + 1):
                    self._append_year(tables, year)
                self._tables, self._years = tables, (first_year, last_year)
                return tables
            span_first, span_last = self._years
            if first_year < span_first:
                # Every index moves, so build new tables and swap them in whole.
                tables = ({}, {}, [])
                for year in range(first_year, max(span_last, last_year) + 1):
                    self._append_year(tables, year)
                self._tables, self._years = tables, (first_year, max(span_last, last_year))
            elif last_year > span_last:
                # Appending leaves every existing index valid, so readers may go on meanwhile.
                for year in range(span_last + 1, last_year + 1):
                    self._append_year(self._tables, year)
                self._years = (span_first, last_year)
            return self._tables

    def _append_year(self, tables: _Tables, year: int) -> None:
        """Add every date of ``year`` (the year after the tables' last) to the tables."""
        last, first, days = tables
        days_off = self._days_off(year)
        for ordinal in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1):
            d = date.fromordinal(ordinal)
            # Indexes are set before the day is appended, so a concurrent reader that finds
            # the key but not yet the day gets an IndexError and waits for the lock.
            first[d] = len(days)
            if d.weekday() < 5 and d not in days_off:
                last[d] = len(days)
                days.append(d)
            else:
                last[d] = len(days) - 1

    def _days_off(self, year: int) -> frozenset[date]:
        cached = self._days_off_by_year.get(year)
        if cached is None:
            cached = frozenset(
                d for d in (*_bank_holidays(year), *self._closures) if d.year == year and d.weekday() < 5
            )
            self._days_off_by_year[year] = cached
        return cached


@functools.cache
def _bank_holidays(year: int) -> frozenset[date]:
    """England & Wales bank holidays of ``year``, computed once per process.

    Shared by all calendars, since a calendar is built per settings object. Within
    ``models/bank_holiday_table.py``'s years, and only when that table was written from the installed
    release of ``holidays``, it is read from the table (a test holds the two equal): asking the package
    first loads every country it knows, about 0.09 s of each short-lived process. Otherwise the package
    is asked, a year at a time, so only the years some calendar's span covers are computed.
    """
    if holidays_version == table.HOLIDAYS_VERSION and table.FIRST_YEAR <= year <= table.LAST_YEAR:
        return frozenset(date(year, int(day[:2]), int(day[3:])) for day in table.DAYS[year])
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def _plain(d: date) -> date:
    """``d`` as a plain date: the tables' keys are dates, and a datetime never equals one."""
    return d if type(d) is date else date(d.year, d.month, d.day)


def _shifted(d: date, key: date, result: date) -> date:
    """``result``, moved by as many days as ``d`` by stepping would have moved (keeps a datetime)."""
    return result if d is key else d + (result - key)
