"""How long the deadline sweep takes to find today's reminders and escalations, against the sweep
before projections (load and replay every review with a clock open), in the same run.

    .venv/bin/python bench/sweep_planning.py [--sizes 1000,10000,100000] [--databases sqlite,postgresql]
                                             [--repeats 5] [--quick]

The register is filled through its own API, then copied: ``templates`` reviews are referred and
answered through the use cases (``services.referrals``, ``services.answers``, ``services.clocks``), as
a partnership's would be, then each is copied row for row (review row, decision log, clocks, agency
requests, recommendations, actions) until the register holds N open and closed reviews. The templates
follow the full LCSPR of ``tests/flows/answers.py`` started on each of 63 weeks up to the day of the
sweep, so every stage is there with its clocks at every distance from their due dates; one in two
stops a step short (a review running late). Copies share their template's dates, so the share of
reviews with something due is the templates' share.

Then, on the day of the sweep, for each size and database:

* **plan** (``services.messages.plan``): the clocks due by the furthest reminder, from the clock
  projection, judged by the reminder policy; median of ``--repeats``;
* **replay** (the sweep before this): every review with a running or paused clock loaded and its
  decision log replayed, then judged the same way; once from 10,000 reviews up (it takes minutes),
  the median of ``--repeats`` below; ``--replay-up-to postgresql=10000`` skips it above a size;
* both must give the same notices (keys, roles, due dates, days overdue): the run stops otherwise.

PostgreSQL: a database of its own on ``--postgres`` (default the project machines' 127.0.0.1:5432,
trust auth), created and dropped by the run. ``--quick`` (CI): templates from every fourth week,
150 reviews, 1 repeat, SQLite, and PostgreSQL when it answers. docs/performance.md ("Deadline sweep")
records a full run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# After the path is set, for a plain `python bench/...`.
from sqlalchemy import create_engine, insert, select, text  # noqa: E402

from adapters.register import database  # noqa: E402
from adapters.register.mapping import (  # noqa: E402
    ActionRow,
    AgencyRequestRow,
    ClockRow,
    Decision,
    Recommendation,
    ReviewRow,
)
from bench.common import referral_json, shifted  # noqa: E402
from lcspr.bootstrap import bootstrap  # noqa: E402
from lcspr.settings import Settings  # noqa: E402
from models.errors import Refused  # noqa: E402
from models.lifecycle import ClockAdjustment  # noqa: E402
from models.notices import Notice, clock_notices  # noqa: E402
from models.referral import Referral  # noqa: E402
from services import answers, clocks, messages, referrals, reviews  # noqa: E402
from services.app import App  # noqa: E402
from tests.flows import answers as A  # noqa: E402

SWEEP_DAY = date(2027, 3, 2)  # a Tuesday, a working day
BASE_AWARE = date(2026, 3, 3)  # the day the full LCSPR of tests/flows/answers.py starts
WEEKS = range(-10, 53)  # its start moved by these many weeks: 63 starts, the last on the sweep day
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Clock:
    """A clock the fill moves to each answer's day (the use cases read time from it alone)."""

    def __init__(self, day: date) -> None:
        self.day = day

    def now(self) -> datetime:
        return datetime.combine(self.day, datetime.min.time(), UTC) + timedelta(hours=10)

    def today(self) -> date:
        return self.day


def referral(agency_reference: str, aware: date) -> Referral:
    return Referral.model_validate({**referral_json(agency_reference, aware), "looked_after": False})


def fill_templates(app: App, clock: Clock, weeks: range = WEEKS) -> tuple[int, int]:
    """Refer and answer the template reviews through the use cases; (reviews, answers refused)."""
    made = refused = 0
    for week in weeks:
        offset = 7 * week
        aware = BASE_AWARE + timedelta(days=offset)
        steps = [shifted(answer, offset) for _, answer in A.FULL_LCSPR]
        done = [a for a in steps if date.fromisoformat(a["decided_on"]) <= SWEEP_DAY]
        for late in (0, 1):
            chosen = done[:max(len(done) - late, 0)]
            clock.day = aware
            reference = referrals.register_referral(app, referral(f"BENCH-{week + 100}-{late}", aware)).reference
            made += 1
            for answer in chosen:
                clock.day = date.fromisoformat(answer["decided_on"])
                step = reviews.waiting_on(app, reference)
                if step is None:
                    break
                if not answers.record_answer(app, reference, step.key, answer).accepted:
                    refused += 1
                    break
            if week % 9 == 0 and not late:
                # Now and then a clock paused for criminal proceedings, and one extended.
                refused += _adjust(app, clock, reference)
    return made, refused


def _adjust(app: App, clock: Clock, reference: str) -> int:
    standing = reviews.view(app, reference)
    running = [c for c in standing.clocks if c.met_on is None and c.stopped_on is None and not c.is_paused]
    if not running:
        return 0
    target = running[0]
    clock.day = min(SWEEP_DAY, max(target.start + timedelta(days=3), clock.day))
    action = {"clock": target.key, "on": clock.day.isoformat(), "by": "A. Jones, Partnership Manager",
              "reason": "Police asked the partnership to wait."}
    try:
        if target.start.toordinal() % 2:
            clocks.adjust_clock(app, reference, ClockAdjustment.model_validate({**action, "action": "pause"}))
        else:
            new_due = target.due(app.config.policy.calendar) + timedelta(days=14)
            clocks.adjust_clock(app, reference, ClockAdjustment.model_validate(
                {**action, "action": "extend", "new_due": new_due.isoformat()}))
    except Refused:
        return 1
    return 0


CHILDREN = (Decision, ClockRow, AgencyRequestRow, Recommendation, ActionRow)


def copy_until(app: App, url: str, size: int) -> int:
    """Copy the template reviews, row for row, until the register holds ``size`` reviews."""
    engine = database.engine_for(url)
    with engine.begin() as conn:
        everyone = [dict(r._mapping) for r in conn.execute(select(ReviewRow.__table__).order_by(ReviewRow.id))]
        # The reviews filled through the use cases; copies (of an earlier, smaller size) are named "-C<id>".
        templates = [t for t in everyone if "-C" not in t["reference"]]
        wanted = [t["id"] for t in templates]
        children = {model: [dict(r._mapping) for r in conn.execute(
            select(model.__table__).where(model.__table__.c.review_id.in_(wanted)))] for model in CHILDREN}
        by_review = {model: _group(rows) for model, rows in children.items()}
        next_id = max(t["id"] for t in everyone) + 1
        count = len(everyone)
        while count < size:
            batch = templates[: size - count]
            rows, child_rows = [], {model: [] for model in CHILDREN}  # type: ignore[var-annotated]
            for t in batch:
                new = {**t, "id": next_id, "reference": f"{t['reference']}-C{next_id}",
                       "agency_reference": f"{t['agency_reference']}-C{next_id}",
                       "audit_head_seq": None, "audit_head_mac": None}
                rows.append(new)
                for model in CHILDREN:
                    child_rows[model] += [{**c, "id": None, "review_id": next_id}
                                          for c in by_review[model].get(t["id"], [])]
                next_id += 1
            conn.execute(insert(ReviewRow.__table__), rows)
            for model, values in child_rows.items():
                for chunk in _chunks([{k: v for k, v in c.items() if k != "id"} for c in values], 20_000):
                    conn.execute(insert(model.__table__), chunk)
            count += len(batch)
        if url.startswith("sqlite"):
            conn.execute(text("ANALYZE"))
    if not url.startswith("sqlite"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return count


def _group(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(r["review_id"], []).append(r)
    return grouped


def _chunks(values: list[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(values), n):
        yield values[i:i + n]


def replay_plan(app: App, today: date) -> list[Notice]:
    """The sweep before projections: every review with a running or paused clock, loaded and replayed."""
    policy = app.config.policy
    with app.uow() as uow:
        references = uow.reviews.with_running_clocks()
    found: list[Notice] = []
    for reference in references:
        with app.uow() as uow:
            stored = uow.reviews.get(reference)
        review = reviews.rebuild(app, stored)
        found += clock_notices(reference, review.clocks, today, policy.calendar, app.config.reminder_policies)
    return found


def projection_plan(app: App, today: date) -> list[Notice]:
    return [n for planned in messages.plan(app, today) for n in planned.notices]


def timed(run: Callable[[], list[Notice]], repeats: int) -> tuple[float, list[Notice]]:
    times, result = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def same(a: list[Notice], b: list[Notice]) -> bool:
    return sorted(a, key=lambda n: n.key) == sorted(b, key=lambda n: n.key)


@contextmanager
def register(kind: str, home: Path, postgres: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'register.db'}"
        return
    name = f"lcspr_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        engine = database._engines.pop(url, None)
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_answers(url: str) -> bool:
    try:
        create_engine(url, connect_args={"connect_timeout": 3}).connect().close()
    except Exception:
        # Any failure means: not here.
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--replay-up-to", default="", type=lambda v: dict(
        (k, int(n)) for k, n in (pair.split("=") for pair in v.split(",") if pair)),
        help="e.g. postgresql=10000: time the old sweep only up to that size there (it takes minutes)")
    parser.add_argument("--quick", action="store_true", help="CI: 150 reviews, 1 repeat")
    args = parser.parse_args()
    sizes = [150] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    kinds = [k for k in args.databases.split(",") if k]
    if "postgresql" in kinds and not postgres_answers(args.postgres):
        print(f"PostgreSQL does not answer at {args.postgres}: measured on SQLite only.")
        kinds.remove("postgresql")
    print(f"Sweep planning on {SWEEP_DAY}, {date.today()}, Python {platform.python_version()}, "
          f"{platform.machine()}; median of {repeats}.\n")
    print("| database | reviews | with a clock due by the last reminder day | notices | plan (projection) | "
          "replay every review | replay ÷ plan |")
    print("|---|---|---|---|---|---|---|")
    failed = False
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp, register(kind, Path(tmp), args.postgres) as url:
            clock = Clock(BASE_AWARE)
            settings = Settings(home=Path(tmp), database_url=url, _env_file=None)
            app = bootstrap(settings, clock=clock, environ={})
            fill_started = time.perf_counter()
            templates, refused = fill_templates(app, clock, range(-10, 53, 4) if args.quick else WEEKS)
            fill_seconds = time.perf_counter() - fill_started
            clock.day = SWEEP_DAY
            for size in sorted(sizes):
                copy_until(app, url, size)
                plan_time, planned = timed(partial(projection_plan, app, SWEEP_DAY), repeats)
                with_due = len({n.key.split(":")[0] for n in planned})
                row = f"| {kind} | {size:,} | {with_due:,} | {len(planned):,} | {plan_time * 1000:,.0f} ms |"
                if size > args.replay_up_to.get(kind, size):
                    print(f"{row} not measured | |")
                    continue
                replay_repeats = 1 if size >= 10_000 else repeats
                replay_time, replayed = timed(partial(replay_plan, app, SWEEP_DAY), replay_repeats)
                if not same(planned, replayed):
                    print(f"DIFFERENT NOTICES on {kind} at {size}: plan {len(planned)}, replay {len(replayed)}")
                    failed = True
                print(f"{row} {replay_time * 1000:,.0f} ms | {replay_time / plan_time:,.1f}× |")
            print(f"\n{kind}: {templates} template reviews filled through the use cases in {fill_seconds:.1f} s "
                  f"({fill_seconds / templates * 1000:.0f} ms each; {refused} answers refused)\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
