"""How fast, and how right, ``WorkingCalendar.add`` is against other ways of counting working days.

    .venv/bin/python bench/working_days.py [--quick] [--repeats N] [--baseline FILE]

For every start date 2013-01-01..2035-12-31 (``--quick``: every 6th day, a few seconds, for
CI) and N in 5, 15 and 20 working days, it moves N working days forward (England &
Wales bank holidays, no closure days) with:

* ours: ``models.workdays.WorkingCalendar().add``;
* holidays: the ``holidays`` package's own helper, ``get_nth_working_day`` on
  ``holidays.country_holidays("GB", subdiv="ENG")`` built for 2012-2036 beforehand;
* GOV.UK: ``govuk-bank-holidays``' ``get_next_work_day`` (division England and Wales) N times, on
  the GOV.UK data bundled in the package (``use_cached_holidays=True``: no network). It is not a
  project dependency; without it that comparison is skipped (install it with
  ``.venv/bin/pip install govuk-bank-holidays``);
* with ``--baseline FILE``, also the ``WorkingCalendar`` of another copy of ``models/workdays.py``
  (an earlier version, say: ``git show REV:models/workdays.py > /tmp/workdays_before.py``).

It first checks that every answer is the same as ours (GOV.UK's only where its data has the
years: a deadline past its last year would miss that year's bank holidays) and exits 1 if any
differs. Then it times each way over the same start dates, timeit-style: in each of the repeats,
for each year of start dates, each way makes an untimed pass over that year's dates and then a
timed one (fresh date objects each pass, garbage collection off); a year's median pass counts, per
call. "µs per call" is the mean of the years' medians weighted by their dates; "slowest year" the
smallest ratio among the 23 years. The loop's own overhead is included for every way. Times are
the CPU time of the benchmark's thread (``time.thread_time``), so other processes on a busy
machine do not count. Our calendar's tables are built before timing; what building them costs
is reported separately.

docs/performance.md ("Working days") records a run.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import holidays  # noqa: E402 - after the path is set, like the import below

import models.workdays as workdays  # noqa: E402 - after the path is set, for a plain `python bench/...`

FIRST, LAST = date(2013, 1, 1), date(2035, 12, 31)
STEPS = (5, 15, 20)
GOAL = 50  # times faster than the holidays package's helper
INSTALL_GOVUK = ".venv/bin/pip install govuk-bank-holidays"

Add = Callable[[date, int], date]


def start_dates(every: int) -> list[date]:
    return [FIRST + timedelta(days=i) for i in range(0, (LAST - FIRST).days + 1, every)]


def holidays_helper() -> Add:
    bank = holidays.country_holidays("GB", subdiv="ENG", years=range(FIRST.year - 1, LAST.year + 2))
    nth: Add = bank.get_nth_working_day
    return nth


def govuk_counting() -> tuple[Add, range] | None:
    """GOV.UK's day-by-day counting and the years its bundled data covers, or None when not installed."""
    try:
        from govuk_bank_holidays.bank_holidays import BankHolidays
    except ImportError:
        return None
    bank = BankHolidays(use_cached_holidays=True)  # the copy inside the package: no download
    division = BankHolidays.ENGLAND_AND_WALES
    years = sorted({event["date"].year for event in bank.get_holidays(division=division)})
    covered = range(years[0], years[-1] + 1)
    next_work_day = bank.get_next_work_day

    def add(start: date, n: int) -> date:
        d = start
        for _ in range(n):
            d = next_work_day(division=division, date=d)
        return d

    return add, covered


def load_baseline(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("workdays_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(ours: Add, contenders: dict[str, tuple[Add, range]], starts: list[date]) -> list[list[str]]:
    """One row per contender: how many answers were compared and how many differ from ours."""
    rows = []
    for name, (theirs, years) in contenders.items():
        compared = differ = 0
        first_difference = ""
        for n in STEPS:
            for d in starts:
                expected = ours(d, n)
                if d.year not in years or expected.year not in years:
                    continue
                compared += 1
                got = theirs(d, n)
                if got != expected:
                    differ += 1
                    first_difference = first_difference or f"{d} + {n}: {got}, ours {expected}"
        rows.append([name, f"{years[0]}–{years[-1]}", str(compared), str(differ), first_difference or "–"])
    return rows


def timed(adds: dict[str, Add], starts: list[date], n: int, repeats: int) -> dict[str, tuple[float, dict[int, float]]]:
    """For each way: seconds per call over all start dates, and per start year.

    Each repeat goes through the years, and in each year every way makes an untimed pass over
    that year's dates and then a timed one (hot, as under timeit). The median of a year's timed
    passes counts; as those are spread over the whole run, a burst of load elsewhere spoils one of
    them, not all. Over all dates: the mean of the years' medians, weighted by their dates.
    """
    by_year: dict[int, list[date]] = {}
    for d in starts:
        by_year.setdefault(d.year, []).append(d)
    passes: dict[str, dict[int, list[float]]] = {name: {year: [] for year in by_year} for name in adds}
    for _ in range(repeats):
        for year, block in by_year.items():
            for name, add in adds.items():
                for timing in (False, True):
                    fresh = [date(d.year, d.month, d.day) for d in block]  # no hashes cached by the last pass
                    gc.disable()
                    began = time.thread_time()
                    for d in fresh:
                        add(d, n)
                    took = time.thread_time() - began
                    gc.enable()
                    if timing:
                        passes[name][year].append(took / len(block))
    result = {}
    for name, years in passes.items():
        medians = {year: statistics.median(t) for year, t in years.items()}
        result[name] = (sum(t * len(by_year[year]) for year, t in medians.items()) / len(starts), medians)
    return result


def building_cost(repeats: int) -> list[list[str]]:
    """What the lazy tables cost: a fresh calendar's first question about a year."""
    cached = []
    for _ in range(repeats):
        for year in range(FIRST.year, LAST.year + 1):
            began = time.thread_time()
            workdays.WorkingCalendar().add(date(year, 6, 1), 20)
            cached.append(time.thread_time() - began)
    uncached = []
    for year in range(FIRST.year, LAST.year + 1):
        workdays._bank_holidays.cache_clear()  # the process-wide bank holidays, as in a new process
        began = time.thread_time()
        workdays.WorkingCalendar().add(date(year, 6, 1), 20)
        uncached.append(time.thread_time() - began)
    workdays._bank_holidays.cache_clear()
    span = workdays.WorkingCalendar()
    began = time.thread_time()
    span.between(FIRST, LAST)
    whole = time.thread_time() - began
    tracemalloc.start()
    kept = workdays.WorkingCalendar()
    kept.between(FIRST, LAST)  # bank holidays computed above: only the tables count
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return [
        ["first question about a year, new process (bank holidays computed), median over the years",
         f"{statistics.median(uncached) * 1000:.2f} ms"],
        ["first question about a year, bank holidays already computed in the process",
         f"{statistics.median(cached) * 1000:.2f} ms"],
        [f"a fresh calendar covering {FIRST.year}–{LAST.year} at once (bank holidays computed)",
         f"{whole * 1000:.1f} ms"],
        [f"memory held by one calendar's tables for {FIRST.year}–{LAST.year} (tracemalloc)",
         f"{held / 1e6:.2f} MB"],
    ]


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    with open("/proc/meminfo") as meminfo:
        kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"{date.today().isoformat()}; {os.cpu_count()} CPUs ({model}, {platform.machine()}), "
            f"{kb / 1024 / 1024:.0f} GB memory, Linux {platform.release()}, Python {platform.python_version()}; "
            f"holidays {version('holidays')}, govuk-bank-holidays {version('govuk-bank-holidays')}")


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every 6th start date only: a few seconds")
    parser.add_argument("--repeats", type=int, help="timed passes over each year's dates (default 7)")
    parser.add_argument("--baseline", type=Path, help="time the WorkingCalendar of this copy of models/workdays.py too")
    args = parser.parse_args()
    repeats = args.repeats or 7
    starts = start_dates(6 if args.quick else 1)

    calendar = workdays.WorkingCalendar()
    calendar.between(FIRST - timedelta(days=366), LAST + timedelta(days=366))  # tables built before timing
    ours: Add = calendar.add
    every_year = range(FIRST.year - 1, LAST.year + 2)  # every start date, and deadlines just past the last
    contenders: dict[str, tuple[Add, range]] = {"holidays get_nth_working_day": (holidays_helper(), every_year)}
    govuk = govuk_counting()
    if govuk is None:
        print(f"govuk-bank-holidays is not installed: skipping the GOV.UK comparison "
              f"(to include it: {INSTALL_GOVUK}; for the benchmark only, not a project dependency).\n")
    else:
        contenders["GOV.UK data, get_next_work_day × N"] = govuk
    if args.baseline:
        baseline: Any = load_baseline(args.baseline)
        contenders[f"baseline {args.baseline.name}"] = (baseline.WorkingCalendar().add, every_year)

    print(f"Machine: {machine()}")
    print(f"Start dates: {len(starts)} ({starts[0]}..{starts[-1]}{', every 6th day' if args.quick else ''}); "
          f"N: {', '.join(map(str, STEPS))}; repeats: {repeats}\n")
    checks = check(ours, contenders, starts)
    print(markdown(["same answers as ours?", "years compared", "answers compared", "differ", "first difference"],
                   checks))
    print()

    rows, goal_met = [], True
    for n in STEPS:
        times = timed({"ours": ours} | {name: add for name, (add, _) in contenders.items()}, starts, n, repeats)
        ours_s, ours_years = times.pop("ours")
        rows.append(["ours, WorkingCalendar.add", str(n), f"{ours_s * 1e6:.3f}", "1", "–"])
        for name, (their_s, their_years) in times.items():
            slowest = min(their_years[y] / ours_years[y] for y in ours_years)
            rows.append([name, str(n), f"{their_s * 1e6:.3f}", f"{their_s / ours_s:.1f}", f"{slowest:.1f}"])
            if name.startswith("holidays"):
                goal_met &= slowest >= GOAL
            elif name.startswith("GOV.UK"):
                goal_met &= slowest > 1
    print(markdown(["way", "N", "µs per call", "times ours", "times ours, slowest year"], rows))
    print()
    print(markdown(["building our tables", "cost"], building_cost(repeats)))
    print()
    also = "" if govuk is None else " and faster than GOV.UK counting"
    print(f"Goal, ≥ {GOAL}× faster than the holidays helper{also} for every N and every year of start dates: "
          f"{'met' if goal_met else 'NOT met'}")
    return 1 if any(row[3] != "0" for row in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
