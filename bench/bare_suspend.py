"""A bare Prefect flow that only waits: the baseline of ``bench/decision_latency.py``.

``bare_suspend(steps)`` suspends ``steps`` times in a row, each time for a small RunInput under the key
``step-<i>`` (as the review flow waits under its step keys), and does nothing else: no task, no
register, no artifact, no tag. Like the review flow it is async, persists its result and is resumed by
a worker of the process pool ``lcspr-local``: each resume starts a new process that runs the body from
the top, the earlier suspends handing back their stored input at once.

Deployed by ``bench/decision_latency.py`` as ``bench-bare-suspend/bench-bare-suspend`` on the server
of the system it measures (``deploy``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow
from prefect.flow_runs import asuspend_flow_run
from prefect.input import RunInput

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench-bare-suspend"


class Answer(RunInput):
    """As small as an answer gets: who decided, and when."""

    decided_by: str
    decided_on: date


def step_key(i: int) -> str:
    return f"step-{i}"


@flow(name=NAME, persist_result=True, log_prints=False)
async def bare_suspend(steps: int) -> int:
    answered = 0
    for i in range(1, steps + 1):
        await asuspend_flow_run(wait_for_input=Answer, key=step_key(i))
        answered += 1
    return answered


def deploy(pool: str = "lcspr-local") -> str:
    """Deploy the flow to ``pool`` on the server ``PREFECT_API_URL`` names, loaded from this checkout
    (a ``set_working_directory`` pull step, as ``prefect.yaml`` does for the review flow); its id."""
    source = bare_suspend.from_source(source=str(ROOT), entrypoint="bench/bare_suspend.py:bare_suspend")
    deployment_id = source.deploy(name=NAME, work_pool_name=pool, build=False, push=False, print_next_steps=False,
                                  ignore_warnings=True)
    return str(deployment_id)
