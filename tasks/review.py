"""Prefect tasks the review flow sequences: each one unit of register I/O, with retries.

They are async so the async flow (which skips the sync heartbeat join) awaits them;
the register underneath is synchronous SQLAlchemy, fine for one review per process.

Side-effect tasks persist their result under a cache key built from the flow run id,
the task name and the inputs, never the source code: redeploying edited code while
reviews wait must not make a recorded step run again. The register is idempotent by
key as well, so even an uncached repeat changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar, cast
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import TaskRunContext
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from lcspr import clock
from lcspr.settings import Settings
from models.lifecycle import OpenStep
from models.referral import Referral
from models.runs import wait_key
from tasks.register import Outcome, Referred, Register, open_register


def run_scoped_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """flow run id + task name + inputs (settings excluded): stable across redeploys."""
    inputs = {k: v for k, v in parameters.items() if k != "settings"}
    digest = hashlib.sha256(
        json.dumps(inputs, sort_keys=True, default=_plain).encode()
    ).hexdigest()[:24]
    return f"{context.task_run.flow_run_id}:{context.task.name}:{digest}"


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def register_for(settings: Settings) -> Register:
    return open_register(settings)


F = TypeVar("F", bound=Callable[..., Any])


SIDE_EFFECT_RETRIES = 3
SIDE_EFFECT_RETRY_DELAYS: list[float] = [2, 10, 30]


def side_effect(name: str) -> Callable[[F], F]:
    """The decorator for a side-effect task: persisted result, run-scoped cache key, retries.

    Typed as returning the function itself: a Task is called exactly like it.
    ``tests/unit/test_task_configuration.py`` reads these settings back from every task.
    """
    decorator = task(
        name=name,
        cache_key_fn=run_scoped_key,
        persist_result=True,
        retries=SIDE_EFFECT_RETRIES,
        retry_delay_seconds=SIDE_EFFECT_RETRY_DELAYS,
    )
    # A Task is called like the function it wraps; mypy cannot see that through task()'s overloads.
    return cast(Callable[[F], F], decorator)


@side_effect("register-referral")
async def register_referral(referral: Referral, settings: Settings) -> Referred:
    """Open the review for a referral, or find the one it already opened."""
    return register_for(settings).refer(referral, clock.today(), clock.now())


@side_effect("attach-flow-run")
async def attach_flow_run(reference: str, flow_run_id: str, settings: Settings) -> None:
    register_for(settings).attach_flow_run(reference, flow_run_id, clock.now())


@side_effect("name-flow-run")
async def name_flow_run(flow_run_id: str, name: str) -> None:
    """Name the run by the review reference (a run started from the UI gets a random name)."""
    async with get_client() as client:
        await client.update_flow_run(UUID(flow_run_id), name=name)


@side_effect("forget-refused-answer")
async def forget_refused_answer(flow_run_id: str, key: str) -> None:
    """Delete Prefect's stored copy of a refused answer.

    Prefect keeps every resume input in its own database. A refused answer may be the one
    that held an NHS number or a name, so only accepted answers keep that second record.
    """
    async with get_client() as client:
        # Already gone (a replay), or never stored (the server rejected the answer): fine.
        with contextlib.suppress(ObjectNotFound):
            try:
                await client.delete_flow_run_input(UUID(flow_run_id), f"suspended-{key}-response")
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise


@task(name="choose-wait-key", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[2, 10, 30])
async def choose_wait_key(flow_run_id: str, step_key: str) -> str:
    """The key to wait on for the open step: the step key, unless this run already waited on it and the
    process died before an answer came (the run was restarted). Prefect refuses a used key and hands back
    its stored answer, or an empty one if none was given; so skip a used key without an answer
    (``rapid-review-1-wait-2``), and keep one that has an answer, so that answer is recorded."""
    run_id = UUID(flow_run_id)
    async with get_client() as client:
        used = (await client.read_flow_run(run_id)).empirical_policy.pause_keys or set()
        attempt = 1
        while (key := wait_key(step_key, attempt)) in used:
            try:
                await client.read_flow_run_input(run_id, f"suspended-{key}-response")
                return key
            except ObjectNotFound:
                pass
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise
            attempt += 1
        return key


REDACTED = "[removed: the referral was refused]"


@side_effect("redact-refused-referral")
async def redact_refused_referral(flow_run_id: str, referral: Referral) -> None:
    """Blank the free text of a refused referral in the run's stored parameters.

    A referral started from the UI's Custom run form is stored by Prefect before the
    flow can judge it; if it was refused (perhaps for a real name or a postcode), the
    free-text fields must not stay in Prefect's database.
    """
    parameters = {"referral": {**referral.model_dump(mode="json"),
                               "child_pseudonym": REDACTED, "outline": REDACTED, "referred_by": REDACTED}}
    async with get_client() as client:
        await client.update_flow_run(UUID(flow_run_id), parameters=parameters)


@task(name="read-open-step", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[2, 10, 30])
async def read_open_step(reference: str, settings: Settings) -> OpenStep | None:
    """What the review waits on now. A read: never cached (Prefect caches by inputs
    by default once results persist), the register is the truth."""
    return register_for(settings).open_step(reference)


@side_effect("record-decision")
async def record_decision(reference: str, key: str, payload: dict[str, Any], settings: Settings) -> Outcome:
    return register_for(settings).record_decision(reference, key, payload, clock.today(), clock.now())


@side_effect("record-refusal")
async def record_refusal(reference: str, key: str, reason: str, settings: Settings) -> Outcome:
    return register_for(settings).record_refusal(reference, key, reason, clock.now())
