"""The configuration of every Prefect task, read back from the task objects themselves.

A comment once swallowed every argument of the side-effect decorator (``task(  # type: ignore
... name=..., retries=3,``) and nothing noticed: these tests read what Prefect will actually use.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prefect import Task
from prefect.cache_policies import NO_CACHE

import tasks.messages
import tasks.reconcile
import tasks.review
from tasks.review import SIDE_EFFECT_RETRIES, run_scoped_key

ROOT = Path(__file__).resolve().parents[2]

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
    "deliver-messages": tasks.messages.deliver_messages,
    "sweep-clocks": tasks.messages.sweep_clocks,
    "reconcile-reviews": tasks.reconcile.reconcile_reviews,
}


def all_tasks() -> dict[str, Task[..., object]]:
    found: dict[str, Task[..., object]] = {}
    for module in (tasks.review, tasks.messages, tasks.reconcile):
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
