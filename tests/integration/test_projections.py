"""The register's projections answer as replaying the decision logs does.

The deadline sweep's plan, ``lcspr status``, ``list``, ``calendar``, the portfolio and the run tags
read the projections (``services.reviews.views``, ``services.messages.plan``) and replay no review
with nothing due. Here they are compared, on every day over more than a year, with the answers of
a replay of every decision log, for reviews at every stage of a full LCSPR, the yearly report's
cases (late, refused, learning review, no further review) and clocks paused, resumed and extended.
After a change of policy (a closure day) the projections made under the old one are never believed:
those reviews are replayed until they are projected again.

On SQLite, and on PostgreSQL when LCSPR_TEST_DATABASE_URL is set (``.ci/run``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from lcspr.settings import Settings
from models.lifecycle import ClockAdjustment
from models.notices import Notice, clock_notices
from models.records import ReviewView
from services import clocks, messages, queries, reviews
from services.app import App
from tests.conftest import make_app, register_settings
from tests.fakes import FrozenClock
from tests.flows import answers as A
from tests.report_cases import CASES, Case, seed

FIRST, LAST = date(2026, 3, 2), date(2027, 4, 30)


def days(first: date = FIRST, last: date = LAST, every: int = 1) -> list[date]:
    return [first + timedelta(days=n) for n in range(0, (last - first).days + 1, every)]


def on(app: App, day: date) -> App:
    clock = app.clock
    assert isinstance(clock, FrozenClock)
    clock.set(day)
    return app


def adjust(app: App, reference: str, **values: Any) -> None:
    on(app, date.fromisoformat(values["on"]))
    clocks.adjust_clock(app, reference, ClockAdjustment.model_validate({"by": "A. Jones, Partnership Manager",
                                                                        "reason": "Police asked us to wait.",
                                                                        **values}))


def fill(app: App) -> list[str]:
    """Reviews at every stage: a full LCSPR stopped after each of its answers, the report's cases, and
    the rapid review's clock paused (still), paused and resumed, and extended."""
    references = [seed(app, Case(f"PROJ-{k:02d}", date(2026, 3, 3), [answer for _, answer in A.FULL_LCSPR[:k]]))
                  for k in range(len(A.FULL_LCSPR) + 1)]
    references += [seed(app, case) for case in CASES]
    paused, resumed, extended = (seed(app, Case(f"PROJ-ADJ-{n}", date(2026, 3, 3), [A.NOTIFIED])) for n in range(3))
    adjust(app, paused, clock="rapid_review", action="pause", on="2026-03-09")
    adjust(app, resumed, clock="rapid_review", action="pause", on="2026-03-09")
    adjust(app, resumed, clock="rapid_review", action="resume", on="2026-03-16")
    adjust(app, extended, clock="rapid_review", action="extend", on="2026-03-10", new_due="2026-04-17")
    return [*references, paused, resumed, extended]


class Replayed:
    """What the sweep queued before projections: every review with a running or paused clock, replayed
    (once: a review's clocks do not change with the day it is read on)."""

    def __init__(self, app: App) -> None:
        self.app = app
        with app.uow() as uow:
            stored = [uow.reviews.get(reference) for reference in uow.reviews.with_running_clocks()]
        self.reviews = [(s.reference, reviews.rebuild(app, s)) for s in stored]

    def notices(self, today: date) -> list[Notice]:
        policy = self.app.config.policy
        found = [n for reference, review in self.reviews
                 for n in clock_notices(reference, review.clocks, today, policy.calendar,
                                        self.app.config.reminder_policies)]
        return sorted(found, key=lambda n: n.key)


def planned_notices(app: App, today: date) -> list[Notice]:
    return sorted((n for planned in messages.plan(app, today) for n in planned.notices), key=lambda n: n.key)


def replayed_view(app: App, reference: str) -> ReviewView:
    with app.uow() as uow:
        return reviews.replayed(app, uow.reviews.get(reference))


def comparable(view: ReviewView) -> ReviewView:
    # A clock's stop reason is kept in the decision log only: nothing that reads the projections shows it.
    return replace(view, clocks=tuple(replace(c, stop_reason="") for c in view.clocks), projected_with="")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, list[str]]]:
    home = tmp_path_factory.mktemp("projections")
    with register_settings(home, os.environ.get("LCSPR_TEST_DATABASE_URL")) as settings:
        app = make_app(settings)
        yield settings, fill(app)


def test_the_plan_gives_the_notices_of_a_replay_of_every_review_on_every_day(
        filled: tuple[Settings, list[str]]) -> None:
    settings, _ = filled
    app = make_app(settings)
    compared = 0
    replay = Replayed(app)
    for day in days():
        replayed = replay.notices(day)
        assert planned_notices(app, day) == replayed, day
        compared += len(replayed)
    assert compared > 1000  # reminders, due-today, overdue and escalation messages, not an empty year


def test_every_review_reads_from_its_projections_as_its_replay_says(filled: tuple[Settings, list[str]]) -> None:
    settings, references = filled
    app = make_app(settings)
    with app.uow() as uow:
        assert uow.reviews.projected_otherwise(app.config.policy.fingerprint) == []
    stages = set()
    for reference in references:
        from_projections = reviews.view(app, reference)
        assert comparable(from_projections) == comparable(replayed_view(app, reference)), reference
        stages.add(from_projections.stage)
    assert len(stages) >= 15  # every stage of the full route, closed included
    for day in days(every=29):
        on(app, day)
        for reference in references:
            expected = queries.status_of(app, replayed_view(app, reference))
            assert queries.status(app, reference) == expected, (reference, day)
        listed = {row.reference: row for row in queries.open_reviews(app, include_closed=True).rows}
        assert set(listed) == set(references)
        assert [s["reference"] for s in queries.statuses(app)] == [
            r for r in references if replayed_view(app, r).closed_on is None]


def test_after_a_change_of_policy_the_old_projections_are_replayed_until_projected_again(
        filled: tuple[Settings, list[str]]) -> None:
    settings, references = filled
    # A Christmas shutdown added: every due date across it moves, and the rules' fingerprint with it.
    shutdown = [date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)]
    changed = make_app(settings.model_copy(update={"closure_days": shutdown}))
    fingerprint = changed.config.policy.fingerprint
    assert fingerprint != make_app(settings).config.policy.fingerprint
    with changed.uow() as uow:
        assert uow.reviews.projected_otherwise(fingerprint) == references
    around = days(date(2026, 12, 14), date(2027, 1, 22))
    replay, before = Replayed(changed), Replayed(make_app(settings))
    assert [day for day in around if replay.notices(day) != before.notices(day)], "the shutdown moves something"
    for day in around:
        assert planned_notices(changed, day) == replay.notices(day), day
    for reference in references:
        assert comparable(reviews.view(changed, reference)) == comparable(replayed_view(changed, reference))

    assert reviews.reproject(changed, references) == len(references)
    with changed.uow() as uow:
        assert uow.reviews.projected_otherwise(fingerprint) == []
    for day in around:
        assert planned_notices(changed, day) == replay.notices(day), day
    # Projected again under the new policy, the reviews are stale for the old one: no policy is
    # ever answered from another's projections.
    with changed.uow() as uow:
        assert uow.reviews.projected_otherwise(make_app(settings).config.policy.fingerprint) == references
    reviews.reproject(make_app(settings), references)
