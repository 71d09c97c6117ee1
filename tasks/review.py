"""The review flow's Prefect tasks: thin wrappers, one use case or one call on the run's own record each.

They are async so the async flow (which skips the sync heartbeat join) awaits them; the
use cases underneath are synchronous, fine for one review per process. The ones the flow runs side
by side after an answer (tags, artifacts, delivery, the next wait) call theirs in a thread, so that
they really overlap. Each takes the App
(wired at the edge) as its first argument; it is left out of cache keys.

Side-effect tasks persist their result under a cache key built from the flow run id,
the task name and the inputs, never the source code: redeploying edited code while
reviews wait must not make a recorded step run again. The register is idempotent by
key as well, so even an uncached repeat changes nothing.

Each task has two names. ``name`` is part of that cache key, so it must never change: renamed,
every step a waiting review already recorded would run again after the upgrade. ``run_name`` is
what the Prefect UI lists for each task run, in the users' words ("Record the answer to
rapid-review-1"); a template over the task's parameters, naming only review references and step
keys, never anything of the child (``tests/unit/test_task_configuration.py`` checks both).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from models.errors import Refused
from models.lifecycle import OpenStep
from models.referral import Referral, redacted
from models.runs import Wait
from services import answers, referrals, reviews
from services.answers import Outcome
from services.app import App
from services.referrals import Referred

F = TypeVar("F", bound=Callable[..., Any])

SIDE_EFFECT_RETRIES = 3
SIDE_EFFECT_RETRY_DELAYS: list[float] = [2, 10, 30]
READ_RETRIES = 3
READ_RETRY_DELAYS: list[float] = [2, 10, 30]


def run_scoped_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """flow run id + task name + inputs (the App excluded): stable across redeploys."""
    inputs = {k: v for k, v in parameters.items() if k != "app"}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=_plain).encode()).hexdigest()[:24]
    return f"{context.task_run.flow_run_id}:{context.task.name}:{digest}"


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def side_effect(name: str, run_name: str) -> Callable[[F], F]:
    """The decorator for a side-effect task: persisted result, run-scoped cache key, retries.

    ``name`` is in the cache key: never change it (see the module docstring). ``run_name`` is
    the task run's name in the UI, formatted by Prefect with the task's parameters.
    Typed as returning the function itself: a Task is called exactly like it.
    ``tests/unit/test_task_configuration.py`` reads these settings back from every task.
    """
    decorator = task(
        name=name,
        task_run_name=run_name,
        cache_key_fn=run_scoped_key,
        persist_result=True,
        retries=SIDE_EFFECT_RETRIES,
        retry_delay_seconds=SIDE_EFFECT_RETRY_DELAYS,
    )
    # A Task is called like the function it wraps; mypy cannot see that through task()'s overloads.
    return cast(Callable[[F], F], decorator)


def read(name: str, run_name: str) -> Callable[[F], F]:
    """The decorator for a read: never cached (the register is the truth), retried.

    Also for a write meant to be repeated each time (the run's tags follow today's RAG), as long
    as a repeat is harmless.
    """
    decorator = task(name=name, task_run_name=run_name, cache_policy=NO_CACHE, retries=READ_RETRIES,
                     retry_delay_seconds=READ_RETRY_DELAYS)
    return cast(Callable[[F], F], decorator)


@dataclass(frozen=True)
class Refusal:
    """A referral the rules refused, returned rather than raised: a task that raises is logged by
    Prefect with a traceback and its message stored in the task run's state."""

    reason: str


@side_effect("register-referral", "Register the referral")
async def register_referral(app: App, referral: Referral) -> Referred | Refusal:
    """Open the review for a referral, or find the one it already opened; or say why it is refused."""
    try:
        return referrals.register_referral(app, referral)
    except Refused as refusal:
        return Refusal(refusal.reason)


@side_effect("attach-flow-run", "Link this run to {reference}")
async def attach_flow_run(app: App, reference: str, flow_run_id: str) -> str:
    """Record that this run drives the review and announce its open step; the run that drives it."""
    return referrals.attach_run(app, reference, flow_run_id)


@side_effect("name-flow-run", 'Name this run "{name}"')
async def name_flow_run(app: App, flow_run_id: str, name: str) -> None:
    """Name the run by the review reference (a run started from the UI gets a random name), or say it
    is a repeat or a refused referral. Only references and fixed words: the name is on every list."""
    with app.runs() as runs:
        runs.rename(flow_run_id, name)


@read("retag-flow-run", "Update tags")
async def retag_flow_run(app: App, reference: str, flow_run_id: str, waits_on: str | None = None) -> bool:
    """Tag the run with where the review stands in the register (stage, route, RAG) and, when it is about
    to wait, with the step it will wait on (``waits_on``); True if they changed.

    Never cached: the RAG moves with the days, and a retag that changes nothing writes nothing.
    """
    return await asyncio.to_thread(reviews.retag_run, app, reference, flow_run_id, waits_on)


@side_effect("forget-refused-answer", "Forget the refused answer to {key}")
async def forget_refused_answer(app: App, flow_run_id: str, key: str) -> None:
    """Delete Prefect's stored copy of a refused answer.

    Prefect keeps every resume input in its own database. A refused answer may be the one
    that held an NHS number or a name, so only accepted answers keep that second record.
    """
    with app.runs() as runs:
        runs.forget_answer(flow_run_id, key)


@read("choose-wait-key", "Wait key for {step_key}")
async def choose_wait_key(app: App, flow_run_id: str, step_key: str) -> Wait:
    """The wait for the open step (``rapid-review-1-wait-2`` after a lost wait), and whether its answer
    is in already."""
    def wait_for() -> Wait:
        with app.runs() as runs:
            return runs.wait_for(flow_run_id, step_key)

    return await asyncio.to_thread(wait_for)


@side_effect("redact-refused-referral", "Blank a refused referral")
async def redact_refused_referral(app: App, flow_run_id: str, referral: Any) -> None:
    """Blank a refused referral in the run's stored parameters (``models.referral.redacted``).

    A referral started from the UI's Custom run form is stored by Prefect before the
    flow can judge it; if it was refused (perhaps for a real name or a postcode), its
    text must not stay in Prefect's database.
    """
    with app.runs() as runs:
        runs.replace_parameters(flow_run_id, {"referral": redacted(referral)})


@read("read-open-step", "Read the open step")
async def read_open_step(app: App, reference: str) -> OpenStep | None:
    """What the review waits on now, from the register's projection."""
    return reviews.waiting_on(app, reference)


@read("read-refused-answer", "Pre-fill the form of {step_key}")
async def read_refused_answer(app: App, reference: str, step_key: str) -> dict[str, Any]:
    """The values kept of the refused answer before ``step_key``, to pre-fill its form (``{}`` if none)."""
    return answers.refused_answer(app, reference, step_key)


@side_effect("record-decision", "Record the answer to {key}")
async def record_decision(app: App, reference: str, key: str, payload: dict[str, Any]) -> Outcome:
    """Judge and record the answer; the step the review waits on next."""
    return answers.record_answer(app, reference, key, payload)


@side_effect("record-refusal", "Record an unreadable answer to {key}")
async def record_refusal(app: App, reference: str, key: str, reason: str) -> Outcome:
    """Record that the answer could not be read, so the step is asked again with the reason."""
    return answers.record_unreadable(app, reference, key, reason)
