"""The configuration of every Prefect task, read back from the task objects themselves.

A comment once swallowed every argument of the side-effect decorator (``task(  # type: ignore
... name=..., retries=3,``) and nothing noticed: these tests read what Prefect will actually use.
"""

from __future__ import annotations

import inspect
import re
import string
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prefect import Task
from prefect.cache_policies import NO_CACHE

import tasks.artifacts
import tasks.messages
import tasks.reconcile
import tasks.review
from tasks.review import SIDE_EFFECT_RETRIES, run_scoped_key

ROOT = Path(__file__).resolve().parents[2]

# The keys of these two tables are the tasks' names, which are part of their cache keys: a name changed
# would make every step a waiting review already recorded run again after the upgrade. Change the run
# name (``task_run_name``, what the UI lists), never these.
# Every side effect of a review run: persisted, keyed by flow run + task name + inputs, retried.
SIDE_EFFECTS = {
    "register-referral": tasks.review.register_referral,
    "attach-flow-run": tasks.review.attach_flow_run,
    "name-flow-run": tasks.review.name_flow_run,
    "forget-refused-answer": tasks.review.forget_refused_answer,
    "redact-refused-referral": tasks.review.redact_refused_referral,
    "record-decision": tasks.review.record_decision,
    "record-refusal": tasks.review.record_refusal,
}
# Reads and repeatable work: never cached (the register is the truth), retried.
UNCACHED = {
    "read-open-step": tasks.review.read_open_step,
    "choose-wait-key": tasks.review.choose_wait_key,
    "read-refused-answer": tasks.review.read_refused_answer,
    "retag-flow-run": tasks.review.retag_flow_run,
    "publish-review-views": tasks.artifacts.publish_review_views,
    "publish-portfolio": tasks.artifacts.publish_portfolio,
    "retag-open-runs": tasks.artifacts.retag_open_runs,
    "deliver-messages": tasks.messages.deliver_messages,
    "sweep-clocks": tasks.messages.sweep_clocks,
    "reconcile-reviews": tasks.reconcile.reconcile_reviews,
}


def all_tasks() -> dict[str, Task[..., object]]:
    found: dict[str, Task[..., object]] = {}
    for module in (tasks.review, tasks.messages, tasks.reconcile, tasks.artifacts):
        for value in vars(module).values():
            if isinstance(value, Task):
                found[value.name] = value
    return found


def test_every_task_is_listed_here_with_its_expected_configuration():
    assert set(all_tasks()) == set(SIDE_EFFECTS) | set(UNCACHED)


@pytest.mark.parametrize("name", sorted(SIDE_EFFECTS))
def test_a_side_effect_task_persists_its_result_under_a_run_scoped_key_and_retries(name):
    t = SIDE_EFFECTS[name]
    assert t.name == name
    assert t.retries == SIDE_EFFECT_RETRIES == 3
    assert t.retry_delay_seconds == [2, 10, 30]
    assert t.cache_key_fn is run_scoped_key
    assert t.persist_result is True


@pytest.mark.parametrize("name", sorted(UNCACHED))
def test_a_read_or_repeatable_task_is_never_cached_but_retries(name):
    t = UNCACHED[name]
    assert t.name == name
    assert t.cache_policy is NO_CACHE
    assert t.cache_key_fn is None
    assert t.retries >= 2


# What each task run is called in the UI, for a review LCSPR-2026-0001 waiting on rapid-review-1.
RUN_NAMES = {
    "register-referral": "Register the referral",
    "attach-flow-run": "Link this run to LCSPR-2026-0001",
    "name-flow-run": 'Name this run "LCSPR-2026-0001"',
    "retag-flow-run": "Update tags",
    "publish-review-views": "Publish LCSPR-2026-0001's summary, timeline and progress, and the portfolio",
    "publish-portfolio": "Publish the portfolio of open reviews",
    "retag-open-runs": "Update every open review's tags",
    "read-open-step": "Read the open step",
    "choose-wait-key": "Wait key for rapid-review-1",
    "read-refused-answer": "Pre-fill the form of rapid-review-1",
    "record-decision": "Record the answer to rapid-review-1",
    "record-refusal": "Record an unreadable answer to rapid-review-1",
    "forget-refused-answer": "Forget the refused answer to rapid-review-1",
    "redact-refused-referral": "Blank a refused referral",
    "deliver-messages": "Send pending messages",
    "sweep-clocks": "Queue today's reminders and escalations",
    "reconcile-reviews": "Repair stranded reviews",
}
# The only parameters a run name may show: a review reference, a step (or wait) key, the run's own
# name (a reference or fixed words). Never the referral, an answer or a reason: they may identify a child.
NAMEABLE = {"reference", "key", "step_key", "name"}
EXAMPLE = {"reference": "LCSPR-2026-0001", "key": "rapid-review-1", "step_key": "rapid-review-1",
           "name": "LCSPR-2026-0001", "flow_run_id": "0b5e", "app": None,
           "referral": {"child_pseudonym": "Child A"}, "payload": {"rationale": "x"}, "reason": "why"}


def test_every_task_run_is_named_in_the_users_words():
    assert set(RUN_NAMES) == set(all_tasks())
    for name, t in all_tasks().items():
        assert isinstance(t.task_run_name, str), name
        assert t.task_run_name.format(**EXAMPLE) == RUN_NAMES[name]


@pytest.mark.parametrize("name", sorted(RUN_NAMES))
def test_a_task_run_name_shows_only_references_and_step_keys(name):
    t = all_tasks()[name]
    assert isinstance(t.task_run_name, str)
    fields = {f for _, f, _, _ in string.Formatter().parse(t.task_run_name) if f is not None}
    # A bare field name each: no attribute or index access ("{referral.child_pseudonym}") either.
    assert fields <= NAMEABLE
    assert fields <= set(inspect.signature(t.fn).parameters)


def test_the_run_scoped_key_ignores_the_source_code_and_the_app():
    """Two different functions under one task name and inputs share a key: a redeploy of edited code
    finds the earlier result."""

    context: Any = SimpleNamespace(task_run=SimpleNamespace(flow_run_id="run-1"),
                                   task=SimpleNamespace(name="record-decision"))
    a = run_scoped_key(context, {"reference": "LCSPR-2026-0001", "key": "notification-1", "app": object()})
    b = run_scoped_key(context, {"reference": "LCSPR-2026-0001", "key": "notification-1", "app": None})
    c = run_scoped_key(context, {"reference": "LCSPR-2026-0001", "key": "rapid-review-1", "app": None})
    assert a == b != c
    assert a.startswith("run-1:record-decision:")


# A `# type: ignore` (or any comment) followed on the same line by what looks like keyword
# arguments: the shape that silently removed the decorator's arguments.
SWALLOWED = re.compile(r"#[^\n]*\b[a-z_]+=[^=\s][^\n]*,\s*$")


def test_no_comment_shares_a_line_with_code_it_could_swallow():
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if "#" in line and code.strip() and SWALLOWED.search(line[len(code):]):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
