"""How a review's flow run is judged against the register's open step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.runs import Health, Process, RunView, judge

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def run(state_type: str, name: str, seconds_ago: float = 5, pause_key: str | None = None,
        process: Process = Process.UNKNOWN) -> RunView:
    return RunView(state_type, name, NOW - timedelta(seconds=seconds_ago), pause_key, process)


@pytest.mark.parametrize(
    ("view", "health"),
    [
        (run("PAUSED", "Suspended", 86400 * 30, pause_key="rapid-review-1"), Health.WAITING),
        (run("PAUSED", "Suspended", pause_key="notification-1"), Health.DISAGREES),
        (run("CRASHED", "Crashed"), Health.STRANDED),
        (run("FAILED", "Failed"), Health.STRANDED),
        (run("CANCELLED", "Cancelled"), Health.STRANDED),
        (run("COMPLETED", "Completed"), Health.STRANDED),
        (run("RUNNING", "Running", 3600, process=Process.ALIVE), Health.MOVING),
        (run("RUNNING", "Running", 30, process=Process.GONE), Health.MOVING),
        (run("RUNNING", "Running", 300, process=Process.GONE), Health.STRANDED),
        (run("PENDING", "Pending", 300), Health.STRANDED),
        (run("PENDING", "Pending", 10), Health.MOVING),
        (run("SCHEDULED", "Resuming"), Health.MOVING),
        (run("SCHEDULED", "AwaitingRetry"), Health.MOVING),
        (run("SCHEDULED", "Late", 600), Health.NO_WORKER),
    ],
)
def test_an_open_reviews_run_is_judged_by_its_state_its_wait_and_its_process(view, health):
    judgement = judge("rapid-review-1", True, view, NOW, grace_seconds=120)
    assert judgement.health is health
    assert judgement.needs_repair is (health in (Health.STRANDED, Health.DISAGREES))


def test_a_review_without_a_run_or_whose_run_is_gone_needs_one():
    assert judge("notification-1", False, None, NOW, 120).health is Health.NO_RUN
    assert judge("notification-1", True, None, NOW, 120).health is Health.MISSING
    assert judge("notification-1", True, None, NOW, 120).needs_repair


def test_a_closed_review_is_left_alone_whatever_its_run_says():
    judgement = judge(None, True, run("CRASHED", "Crashed"), NOW, 120)
    assert judgement.health is Health.CLOSED and not judgement.needs_repair


def test_the_explanation_names_the_state_and_the_step():
    judgement = judge("rapid-review-1", True, run("CRASHED", "Crashed"), NOW, 120)
    assert "Crashed" in judgement.explanation and "rapid-review-1" in judgement.explanation
    stuck = judge("rapid-review-1", True, run("RUNNING", "Running", 3 * 3600, process=Process.GONE), NOW, 120)
    assert "3.0 h" in stuck.explanation and "gone" in stuck.explanation
