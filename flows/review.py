"""The review flow: one long-running Prefect flow run per review.

The flow only sequences: register the referral, then loop "read the open step from
the register → suspend for the answer → record it". It re-runs from the top on every
resume; every side effect is a cached, idempotent task and every wait has a stable
key (``rapid-review-1``, ``draft-review-2``, ``chair-decision-1-retry-2`` after a refused
answer, ``rapid-review-1-wait-2`` when a restart lost an unanswered wait), so a re-run
repeats nothing. Waits are suspends (no process is held) with no timeout: lateness is
the deadline sweep's job.

:func:`review_flow` builds the flow around a ``connect`` function that gives it its App;
``lcspr/entrypoints.py`` binds the real one (from the settings) for the deployment, and the
tests bind theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prefect import Flow, flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.flow_runs import asuspend_flow_run
from prefect.input import RunInput
from prefect.states import Completed, Failed
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from adapters.failpoints import AFTER_RECORD, BEFORE_RECORD, failpoint
from models.clocks import LOCAL_TARGETS
from models.errors import Refused
from models.lifecycle import OpenStep, describe_validation_error
from models.referral import Referral, read_referral
from models.roles import describe_role
from models.runs import Wait
from models.steps import StepInput
from services.app import App
from tasks.artifacts import publish_review_views
from tasks.messages import deliver_messages
from tasks.review import (
    Refusal,
    attach_flow_run,
    choose_wait_key,
    forget_refused_answer,
    name_flow_run,
    read_open_step,
    read_refused_answer,
    record_decision,
    record_refusal,
    redact_refused_referral,
    register_referral,
    retag_flow_run,
)

_forms: dict[type[StepInput], type[RunInput]] = {}
LOCAL_TARGET_KEYS = {kind.value for kind in LOCAL_TARGETS}

# The name of a run whose referral was refused: no reference was issued, and its own words may
# identify the child, so the name says only what happened.
REFUSED_RUN_NAME = "Refused referral"


def repeat_run_name(reference: str) -> str:
    """The name of a run started for a referral already under review, so the list says which."""
    return f"{reference} (repeat referral)"


def describe_step(reference: str, step: OpenStep) -> str:
    """The Markdown shown above the Resume form: why the last answer was refused (first, if it was), then
    what is asked, of whom, by when."""
    if step.asked_of.startswith("agency-"):
        asked = "the agencies still to report: " + ", ".join(
            r.removeprefix("agency-") for r in step.asked_of.split(","))
    else:
        asked = describe_role(step.asked_of)
    due = f"**{step.due.isoformat()}**" if step.due else "no deadline; please answer as soon as you can"
    if step.due and step.clock_key and step.clock_key.split(":")[0] in LOCAL_TARGET_KEYS:
        due += " (the partnership's own target, not a statutory deadline)"
    lines: list[str] = []
    if step.last_refusal:
        # First: the person answering again must see why before anything else.
        lines += [f"> **The previous answer was refused:** {step.last_refusal}",
                  "> Please answer again: the form holds what could be kept of that answer.", ""]
    lines += [
        f"### {step.title} — {reference}",
        "",
        f"**Asked of:** {asked}  ",
        f"**Due:** {due}  ",
        f"**Step:** `{step.key}` (open since {step.opened_on.isoformat()})",
        "",
        step.question,
        "",
    ]
    lines.append("Dates as yyyy-MM-dd. Refer to the child only by the review pseudonym; "
                 "no names, dates of birth, addresses or NHS numbers.")
    return "\n".join(lines)


LOST_ANSWER = ("The review's run was restarted while this step waited, and no answer was kept for it. "
               "Please answer again.")


def refusal_reason(exc: ValidationError) -> str:
    """Why an answer could not be read. An empty one is not the person's fault: a wait whose key was
    used before a crash (and never answered) comes back with no stored input on a re-run."""
    if exc.errors() and all(e["type"] == "missing" for e in exc.errors()) and not exc.errors()[0].get("input"):
        return LOST_ANSWER
    return describe_validation_error(exc)


def form_for(reference: str, step: OpenStep, refused: Mapping[str, Any] | None = None) -> type[RunInput]:
    """The Resume form of the open step, described, and pre-filled with what was kept of a refused answer.

    The UI fills each field from its schema ``default``. ``with_initial_data`` makes each value a new
    field of the bare type (a date loses its title, its description and our checks), so it is given
    the field's own definition with the value as default, validated when used.
    """
    base = _forms.setdefault(step.input_model, RunInput.subclass_from_base_model_type(step.input_model))
    defaults = {name: FieldInfo.merge_field_infos(base.model_fields[name], default=value, validate_default=True)
                for name, value in (refused or {}).items() if name in base.model_fields}
    return base.with_initial_data(description=describe_step(reference, step), **defaults)


async def show_review(app: App, reference: str, flow_run_id: str, waits_on: str | None) -> None:
    """Bring the run's tags up to where the review stands (and the step it is about to wait on,
    ``waits_on``), and publish the review's summary, timeline and progress and the portfolio (each a new
    version only if it changed; in the command server, in the background, when ``lcspr up`` runs one), side
    by side. The artifacts only show the register: a failure to publish them (after the tasks' retries) is
    logged, and the review goes on."""

    async def publish(artifacts: Awaitable[Any]) -> None:
        try:
            await artifacts
        except Exception as exc:  # a view of the register must never stop the review
            get_run_logger().warning("%s: artifacts not published: %s", reference, type(exc).__name__)

    await asyncio.gather(retag_flow_run(app, reference, flow_run_id, waits_on),
                         publish(publish_review_views(app, reference)))


async def after_answer(app: App, reference: str, flow_run_id: str, step: OpenStep | None) -> Wait | None:
    """What follows an answer recorded (or refused), side by side rather than one after another, since
    none needs another's result: the review shown as it now stands, the messages the answer queued
    sent, and the wait for the step it opened chosen (returned). The next wait comes sooner so."""
    if step is None:
        await show_review(app, reference, flow_run_id, None)
        return None
    done = await asyncio.gather(choose_wait_key(app, flow_run_id, step.key),
                                show_review(app, reference, flow_run_id, step.key), deliver_messages(app, reference))
    wait: Wait = done[0]
    return wait


def review_flow(connect: Callable[[], App]) -> Flow[[Referral], Any]:
    """The ``lcspr-review`` flow, getting its App from ``connect`` when a run starts."""

    # Prefect does not validate the parameter: a refusal from its validation would quote the
    # refused text into the run's state and log. ``read_referral`` reads it, naming fields only.
    # The schema (and so the Custom run form, and the server's check of it) still comes from Referral.
    @flow(name="lcspr-review", persist_result=True, log_prints=False, validate_parameters=False)
    async def lcspr_review(referral: Referral) -> State[Any]:
        """Take one referral through its review, waiting in Prefect for each human step."""
        logger = get_run_logger()
        app = connect()
        context = FlowRunContext.get()
        if context is None or context.flow_run is None:
            raise RuntimeError("lcspr-review runs only as a Prefect flow run")
        this_run = context.flow_run
        flow_run_id = str(this_run.id)
        try:
            registered = await register_referral(app, read_referral(referral))
        except Refused as refusal:
            registered = Refusal(refusal.reason)
        if isinstance(registered, Refusal):
            # The reason names the field and the kind of problem, never the text.
            logger.error("Referral refused: %s", registered.reason)
            await redact_refused_referral(app, flow_run_id, referral)
            await name_flow_run(app, flow_run_id, REFUSED_RUN_NAME)
            return Failed(message=f"Referral refused: {registered.reason}")
        referred = registered
        reference = referred.reference
        driver = await attach_flow_run(app, reference, flow_run_id)
        if driver != flow_run_id:
            await name_flow_run(app, flow_run_id, repeat_run_name(reference))
            return Completed(message=f"Already under review as {reference} (flow run {driver}).")
        if this_run.name != reference:
            # A run `lcspr refer` or reconcile started has its name already, and so has a run resumed
            # after the first start: only one started from the UI needs one (a task run fewer a resume).
            await name_flow_run(app, flow_run_id, reference)

        step = await read_open_step(app, reference)
        shown = False
        # The wait for the open step, when it was chosen after the last answer (with the review shown and
        # its messages sent); None at a start, when it is chosen first.
        chosen: Wait | None = None
        while step is not None:
            wait = chosen or await choose_wait_key(app, flow_run_id, step.key)
            key = wait.key
            if not wait.answered:
                # The run will wait. Its tags (stage, route, RAG in the UI's run list) and artifacts say
                # where the review stands: after every answer recorded (below), and once at a start that
                # follows none (the first, or a restart after a crash: the RAG moves with the days). A run
                # resumed with its answer skips this and the delivery: the answer is recorded at once.
                # Every wait is preceded by the run saying what it waits on, in the register (``run_waits_on``,
                # which ``lcspr list`` counts by) and in its wait tag (``models.run_tags``); show_review (after
                # an answer, or here) and retag_flow_run do.
                if not shown:
                    await asyncio.gather(show_review(app, reference, flow_run_id, step.key),
                                         deliver_messages(app, reference))
                    shown = True
                elif chosen is None:
                    await asyncio.gather(retag_flow_run(app, reference, flow_run_id, step.key),
                                         deliver_messages(app, reference))
                logger.info("%s waits on %s (%s), due %s", reference, step.title, step.key, step.due or "-")
            chosen = None
            refused = await read_refused_answer(app, reference, step.key) if step.attempt > 1 else {}
            try:
                answer = await asuspend_flow_run(wait_for_input=form_for(reference, step, refused), key=key)
            except ValidationError as exc:
                if not exc.title.startswith(step.input_model.__name__):
                    raise  # not the person's answer that failed: a fault of ours, let it show
                # The server does not check every format (e.g. dates); ask again under a new key.
                outcome = await record_refusal(app, reference, step.key, refusal_reason(exc))
                await forget_refused_answer(app, flow_run_id, key)
                step = outcome.next_step
                chosen = await after_answer(app, reference, flow_run_id, step)
                shown = True
                continue
            payload = {k: v for k, v in answer.model_dump(mode="json").items() if k in step.input_model.model_fields}
            failpoint(app.config.failpoints_home, BEFORE_RECORD)
            outcome = await record_decision(app, reference, step.key, payload)
            failpoint(app.config.failpoints_home, AFTER_RECORD)
            if not outcome.accepted:
                logger.warning("%s: answer to %s refused: %s", reference, step.key, outcome.reason)
                await forget_refused_answer(app, flow_run_id, key)
            step = outcome.next_step
            chosen = await after_answer(app, reference, flow_run_id, step)
            shown = True
        if not shown:
            # Closed before this start (a crash after the last answer was recorded): say so once.
            await show_review(app, reference, flow_run_id, None)
        logger.info("%s is closed.", reference)
        return Completed(message=f"{reference} closed.")

    return lcspr_review
