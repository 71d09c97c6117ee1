"""Does a review's flow run agree with the register? The pure judgement behind reconcile and status.

The register is the truth; the flow run is only its driver. A review that is open in the
register needs a run that is either waiting (suspended) on the register's open step, or on
its way there (scheduled, starting, running with a live process). Anything else strands the
review: nobody can answer it and nothing will move it. This module says which case a run is
in and what repairs it; it reads no clock (``now`` is an argument) and calls nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Process(StrEnum):
    """What is known of the process that executes the run."""

    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RunView:
    """What Prefect says of a flow run, plus what this machine knows of its process."""

    state_type: str  # Prefect's StateType value: SCHEDULED, PENDING, RUNNING, PAUSED, COMPLETED, ...
    state_name: str  # e.g. Suspended, AwaitingRetry, Late, Crashed
    since: datetime  # when the run entered that state
    pause_key: str | None = None
    process: Process = Process.UNKNOWN
    tags: tuple[str, ...] = ()


class Health(StrEnum):
    WAITING = "waiting"  # suspended on the register's open step: a person can answer it
    MOVING = "moving"  # scheduled, starting or running: it will reach the open step by itself
    NO_WORKER = "no_worker"  # scheduled and late: only a worker can move it (is `lcspr up` running?)
    STRANDED = "stranded"  # crashed, failed, cancelled, or stuck with no process: repair it
    DISAGREES = "disagrees"  # waiting on another step than the register's open one: repair it
    MISSING = "missing"  # the register names a run Prefect does not have: start a new one
    NO_RUN = "no_run"  # the review was registered but no run was ever attached: start one
    CLOSED = "closed"  # the review is closed in the register: its run is left alone


# What a person runs to repair a stranded review.
REPAIR = "lcspr reconcile"

# A wait lost to a crash (its key used, no answer stored) is asked again as "<step key>-wait-2",
# "-wait-3", ... (Prefect allows only lowercase letters, digits and dashes in a key).
WAIT_SEPARATOR = "-wait-"


def wait_key(step_key: str, attempt: int) -> str:
    """The key of the ``attempt``-th wait for a step in one run (the first is the step key itself)."""
    return step_key if attempt == 1 else f"{step_key}{WAIT_SEPARATOR}{attempt}"


@dataclass(frozen=True)
class Wait:
    """The wait a run takes for its open step: its key, and whether Prefect already holds an answer to
    it (the run was resumed with one, or died after one came): then the suspend returns at once."""

    key: str
    answered: bool


def step_of_wait(pause_key: str | None) -> str | None:
    """The register's step key a run's wait is for."""
    return pause_key.split(WAIT_SEPARATOR, 1)[0] if pause_key else None


REPAIRABLE = frozenset({Health.STRANDED, Health.DISAGREES, Health.MISSING, Health.NO_RUN})

# States a run passes through on its way to the next wait; stuck in one with no process = stranded.
_IN_FLIGHT = frozenset({"PENDING", "RUNNING", "CANCELLING"})
_FINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})


@dataclass(frozen=True)
class Judgement:
    health: Health
    explanation: str

    @property
    def needs_repair(self) -> bool:
        return self.health in REPAIRABLE


def waiting(open_step_key: str) -> Judgement:
    """The judgement of a run suspended on the register's open step: a person can answer it."""
    return Judgement(Health.WAITING, f"suspended on {open_step_key}")


def judge(open_step_key: str | None, has_run: bool, run: RunView | None, now: datetime,
          grace_seconds: float) -> Judgement:
    """How the review's run stands against the register's open step (``None``: the review is closed).

    ``has_run``: the register names a run; ``run``: what Prefect has of it (``None``: not found).
    A run in flight whose process is not known to be alive is given ``grace_seconds`` (a worker
    takes a few seconds to start a process and report it) before it counts as stranded.
    """
    if open_step_key is None:
        return Judgement(Health.CLOSED, "closed in the register; its run is left alone")
    if not has_run:
        return Judgement(Health.NO_RUN, "no flow run has attached itself to it (a run started a moment ago "
                                        "does so when a worker starts it)")
    if run is None:
        return Judgement(Health.MISSING, "its flow run no longer exists in Prefect")
    age = (now - run.since).total_seconds()
    if run.state_type == "PAUSED":
        if step_of_wait(run.pause_key) == open_step_key:
            return waiting(open_step_key)
        return Judgement(Health.DISAGREES,
                         f"the run waits on {run.pause_key or 'nothing'} but the register's open step is "
                         f"{open_step_key}")
    if run.state_type in _FINAL:
        return Judgement(Health.STRANDED, f"the run is {run.state_name} while {open_step_key} is open")
    if run.state_type in _IN_FLIGHT:
        if run.process is Process.ALIVE:
            return Judgement(Health.MOVING, f"{run.state_name.lower()}, its process is alive")
        if age <= grace_seconds:
            return Judgement(Health.MOVING, f"{run.state_name.lower()} for {age:.0f} s")
        gone = "its process is gone" if run.process is Process.GONE else "no live process is known"
        return Judgement(Health.STRANDED, f"{run.state_name} for {_duration(age)} and {gone}")
    if run.state_type == "SCHEDULED":
        if run.state_name == "Late":
            return Judgement(Health.NO_WORKER, "scheduled but late: no worker has picked it up (none is running, "
                                               "or every run slot of the pool is busy)")
        return Judgement(Health.MOVING, f"{run.state_name.lower()}: a worker will pick it up")
    return Judgement(Health.STRANDED, f"the run is in an unexpected state ({run.state_name})")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
