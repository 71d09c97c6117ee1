"""The tags a review's flow run carries (stage, route, RAG): computed from the register, written only
when they change, and never at the cost of a tag that is not ours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from models.clocks import DEFAULT_RULES, Clock, ClockKind, worst_rag
from models.lifecycle import Policy, Route, Stage, open_review
from models.run_tags import is_ours, retagged, review_tags
from models.runs import RunView
from models.workdays import WorkingCalendar
from services import answers, referrals, reviews
from tests.conftest import make_referral, tags_implied_by_status
from tests.fakes import FakeRuns, FrozenClock, fake_app
from tests.flows import answers as A

CAL = WorkingCalendar()
REF = "LCSPR-2026-0001"
# Due Tue 21 April 2026: green until the 13th, amber from the 14th, red from the 22nd.
RAPID = Clock(kind=ClockKind.RAPID_REVIEW, start=date(2026, 3, 27), rule=DEFAULT_RULES[ClockKind.RAPID_REVIEW])
# Due Fri 8 May 2026: still green on 14 April.
INFORM = Clock(kind=ClockKind.INFORM_BODIES, start=date(2026, 4, 30), rule=DEFAULT_RULES[ClockKind.INFORM_BODIES])


# ---------------------------------------------------------------- worst_rag


def test_the_worst_colour_of_the_running_clocks_wins() -> None:
    assert worst_rag([INFORM, RAPID], date(2026, 4, 13), CAL) == "green"
    assert worst_rag([INFORM, RAPID], date(2026, 4, 14), CAL) == "amber"
    assert worst_rag([INFORM, RAPID], date(2026, 4, 22), CAL) == "red"


def test_paused_met_and_stopped_clocks_add_no_colour() -> None:
    overdue = date(2026, 4, 22)
    paused = RAPID.pause(date(2026, 4, 1), "criminal proceedings", "Chair")
    met = RAPID.meet(date(2026, 4, 2))
    stopped = RAPID.stop(date(2026, 4, 2), "route changed")
    assert worst_rag([paused, met, stopped], overdue, CAL) is None
    assert worst_rag([paused, met, stopped, INFORM], overdue, CAL) == "green"
    assert worst_rag([], overdue, CAL) is None


def test_the_amber_window_is_the_one_configured() -> None:
    assert worst_rag([RAPID], date(2026, 4, 13), CAL, amber_within=6) == "amber"


# ---------------------------------------------------------------- review_tags


def test_a_review_is_tagged_with_its_stage_route_and_worst_rag() -> None:
    review = replace(open_review(REF, make_referral(), Policy()), stage=Stage.INFORMING_BODIES, route=Route.LCSPR,
                     clocks=(INFORM, RAPID))
    assert review_tags(review, date(2026, 4, 14), CAL) == ("lcspr", "stage:informing_bodies", "route:lcspr",
                                                             "rag:amber")


def test_a_review_without_a_route_or_a_running_clock_has_no_such_tag() -> None:
    review = replace(open_review(REF, make_referral(), Policy()), stage=Stage.CLOSED,
                     clocks=(RAPID.meet(date(2026, 4, 2)),))
    assert review_tags(review, date(2026, 4, 22), CAL) == ("lcspr", "stage:closed")


def test_a_fresh_referral_is_tagged_from_its_notification_clock() -> None:
    review = open_review(REF, make_referral(child_pseudonym="Child Q"), Policy())
    [clock] = review.clocks
    tags = review_tags(review, date(2026, 3, 3), CAL)
    assert tags == ("lcspr", "stage:referred", f"rag:{clock.rag(date(2026, 3, 3), CAL)}")
    assert not any("Child" in t or "Thames" in t for t in tags)


# ---------------------------------------------------------------- retagged


def test_ours_are_replaced_and_every_other_tag_is_kept_in_its_order() -> None:
    current = ["nightly", "lcspr", "stage:referred", "team-b", "rag:green"]
    assert retagged(current, ["lcspr", "stage:rapid_review", "rag:amber"]) == [
        "nightly", "team-b", "lcspr", "stage:rapid_review", "rag:amber"]


def test_a_run_already_carrying_the_tags_is_not_written_whatever_their_order() -> None:
    current = ["rag:green", "deploy", "lcspr", "stage:referred"]
    assert retagged(current, ["lcspr", "stage:referred", "rag:green"]) is None


def test_a_tag_that_went_away_is_removed() -> None:
    assert retagged(["lcspr", "stage:informing_bodies", "route:lcspr", "rag:red"],
                    ["lcspr", "stage:closed", "route:lcspr"]) == ["lcspr", "stage:closed", "route:lcspr"]


def test_only_our_exact_tag_and_prefixes_count_as_ours() -> None:
    assert [t for t in ["lcspr", "lcspr-prod", "stage:x", "stages", "route:y", "rag:red", "ragged"] if is_ours(t)] == [
        "lcspr", "stage:x", "route:y", "rag:red"]


# ---------------------------------------------------------------- the use case, on fakes


def started(today: date = date(2026, 3, 3)) -> tuple[Any, FakeRuns, str]:
    """A referred review whose run attached itself (``run-1``), as a worker's run does."""
    runs = FakeRuns()
    app = fake_app(today, runs=runs)
    referred = referrals.refer(app, make_referral())
    assert referred.flow_run_id is not None
    referrals.attach_run(app, referred.reference, referred.flow_run_id)
    return app, runs, referred.flow_run_id


def expected_from_status(app: Any) -> set[str]:
    """The tags ``lcspr status`` implies for the review."""
    return tags_implied_by_status(app, REF)


def record(app: Any, key: str, payload: dict[str, Any]) -> None:
    assert isinstance(app.clock, FrozenClock)
    app.clock.set(date.fromisoformat(payload["decided_on"]))
    assert answers.record_answer(app, REF, key, payload).accepted


def test_retagging_writes_the_registers_standing_once_and_keeps_the_deployments_tags() -> None:
    app, runs, run_id = started()
    runs.runs[run_id].tags = ["nightly"]

    assert reviews.retag_run(app, REF, run_id) is True
    assert reviews.retag_run(app, REF, run_id) is False

    run = runs.runs[run_id]
    assert run.tag_writes == 1
    assert run.tags[0] == "nightly"
    assert set(run.tags) - {"nightly"} == expected_from_status(app)


def test_the_tags_follow_the_review_through_the_chair_decision() -> None:
    app, runs, run_id = started()
    for key, answer in [("notification-1", A.NOTIFIED), ("rapid-review-1", A.RAPID_REVIEW),
                        ("chair-decision-1", A.LCSPR)]:
        record(app, key, answer)
        reviews.retag_run(app, REF, run_id)
        assert set(runs.runs[run_id].tags) == expected_from_status(app)
    assert {"stage:informing_bodies", "route:lcspr"} <= set(runs.runs[run_id].tags)


def test_the_rag_turns_red_with_the_days_without_any_decision() -> None:
    app, runs, run_id = started()
    reviews.retag_run(app, REF, run_id)
    assert isinstance(app.clock, FrozenClock)
    app.clock.set(date(2026, 3, 11))  # the notification was due on the 10th

    assert reviews.retag_run(app, REF, run_id) is True
    assert "rag:red" in runs.runs[run_id].tags


def test_the_daily_retag_turns_a_waiting_runs_rag_red_and_writes_nothing_the_next_time() -> None:
    app, runs, run_id = started()
    reviews.retag_run(app, REF, run_id)
    assert isinstance(app.clock, FrozenClock)
    app.clock.set(date(2026, 3, 11))  # nobody answered; the notification was due on the 10th

    assert reviews.retag_open_runs(app) == [REF]
    assert "rag:red" in runs.runs[run_id].tags
    assert reviews.retag_open_runs(app) == []


def test_a_review_closed_with_no_further_review_keeps_its_route_and_loses_its_colour() -> None:
    app, runs, run_id = started()
    record(app, "notification-1", A.NOTIFIED)
    record(app, "rapid-review-1", A.RAPID_REVIEW)
    record(app, "chair-decision-1", {**A.LCSPR, "outcome": "no_further_review"})

    reviews.retag_run(app, REF, run_id)

    assert runs.runs[run_id].tags == ["lcspr", "stage:closed", "route:no_further_review"]
    assert set(runs.runs[run_id].tags) == expected_from_status(app)


def test_a_run_about_to_wait_carries_its_steps_wait_tag_and_a_later_retag_keeps_it() -> None:
    app, runs, run_id = started()

    reviews.retag_run(app, REF, run_id, waits_on="notification-1")
    reviews.retag_run(app, REF, run_id)  # the register's view alone does not know what the run waits on

    assert "wait:notification-1" in runs.runs[run_id].tags
    record(app, "notification-1", A.NOTIFIED)
    reviews.retag_run(app, REF, run_id, waits_on="rapid-review-1")
    assert [t for t in runs.runs[run_id].tags if t.startswith("wait:")] == ["wait:rapid-review-1"]


def test_the_daily_retag_gives_a_suspended_run_the_wait_tag_of_its_pause_key_not_of_the_register() -> None:
    app, runs, run_id = started()
    # Suspended before wait tags existed, on a second wait for a step the register has moved past.
    runs.runs[run_id].view = RunView("PAUSED", "Suspended", datetime(2026, 3, 3, tzinfo=UTC),
                                     pause_key="rapid-review-1-wait-2")

    assert reviews.retag_open_runs(app) == [REF]

    assert "wait:rapid-review-1" in runs.runs[run_id].tags
    assert "wait:notification-1" not in runs.runs[run_id].tags


def test_retagged_replaces_a_wait_tag_only_with_another() -> None:
    assert retagged(["lcspr", "wait:a-1", "x"], ["lcspr"]) is None
    assert retagged(["lcspr", "wait:a-1", "x"], ["lcspr", "wait:b-1"]) == ["x", "lcspr", "wait:b-1"]
