"""``models/bank_holiday_table.py`` holds the ``holidays`` package's own answers, so a process need not
load that package's every country (about 0.09 s, paid by each ``lcspr`` command and flow-run process)
to know England's bank holidays. This test holds the table to the installed package, year by year; when
a new release of ``holidays`` is locked, it fails until the table is written again:

    .venv/bin/python -m tests.unit.test_bank_holiday_table > models/bank_holiday_table.py

Until then the calendar does not use a table written from another release (``models/workdays.py``).
"""

from __future__ import annotations

import holidays
from holidays.version import __version__ as holidays_version

from models import bank_holiday_table, workdays


def from_the_package(year: int) -> tuple[str, ...]:
    return tuple(sorted(d.strftime("%m-%d") for d in holidays.country_holidays("GB", subdiv="ENG", years=year)))


def table_module() -> str:
    first, last = bank_holiday_table.FIRST_YEAR, bank_holiday_table.LAST_YEAR
    lines = [
        '"""England & Wales bank holidays, as the ``holidays`` package computes them (``country_holidays("GB",',
        'subdiv="ENG")``), written out by ``tests/unit/test_bank_holiday_table.py``, which holds them to the',
        'installed package. Month-day strings by year."""',
        "",
        f'HOLIDAYS_VERSION = "{holidays_version}"',
        f"FIRST_YEAR = {first}",
        f"LAST_YEAR = {last}",
        "",
        "DAYS: dict[int, tuple[str, ...]] = {",
    ]
    lines += [f"    {year}: {from_the_package(year)!r}," for year in range(first, last + 1)]
    lines += ["}", ""]
    return "\n".join(lines)


def test_the_table_is_the_installed_packages_answer_for_every_year() -> None:
    assert holidays_version == bank_holiday_table.HOLIDAYS_VERSION, (
        "holidays was upgraded: write the table again (see this module's docstring)")
    for year in range(bank_holiday_table.FIRST_YEAR, bank_holiday_table.LAST_YEAR + 1):
        assert bank_holiday_table.DAYS[year] == from_the_package(year), year


def test_the_calendar_reads_the_table_inside_its_years_and_asks_the_package_outside_them() -> None:
    inside, outside = bank_holiday_table.LAST_YEAR, bank_holiday_table.LAST_YEAR + 1
    workdays._bank_holidays.cache_clear()
    try:
        assert workdays._bank_holidays(inside) == frozenset(holidays.country_holidays("GB", subdiv="ENG", years=inside))
        assert workdays._bank_holidays(outside) == frozenset(
            holidays.country_holidays("GB", subdiv="ENG", years=outside))
    finally:
        workdays._bank_holidays.cache_clear()


if __name__ == "__main__":
    print(table_module(), end="")
