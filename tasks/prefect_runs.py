"""The review runs as Prefect holds them: read one, start one, set a stranded one going again.

A plain adapter over Prefect's synchronous client (no ``@task`` here): the CLI and the
reconcile task share it. Every call that writes retries HTTP 503, which the server's SQLite
answers as "database is locked" under concurrent writes.

Whether a run's process is alive is checked on this machine: the process worker records the
process id as the run's ``infrastructure_pid``, and the process carries the run id in its
environment (``PREFECT__FLOW_RUN_ID``), so a reused pid is not mistaken for the run. With a
worker on another machine the answer is "unknown", and only the grace period applies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, State
from prefect.exceptions import ObjectNotFound
from prefect.states import Scheduled

from models.runs import Process, RunView
from tasks.processes import descendants

T = TypeVar("T")
# The name the UI shows on a run put back to wait for a worker after a crash (Prefect's own term).
RESCHEDULED = "AwaitingRetry"


def retry_unavailable(call: Callable[[], T], *, attempts: int = 6, first_delay: float = 0.5) -> T:
    """Call, retrying HTTP 503 with backoff (SQLite's "database is locked" on the server)."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 503 or attempt == attempts:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 8.0)
    raise AssertionError("unreachable")


def process_of(flow_run_id: str, infrastructure_pid: str | None, proc: Path = Path("/proc")) -> Process:
    """Is the process executing this run alive on this machine?

    The recorded pid may be Prefect's workspace supervisor, which starts the engine as its child:
    the run counts as alive when that process, or one below it, carries the run id.
    """
    if not infrastructure_pid or not infrastructure_pid.isdigit() or not proc.is_dir():
        return Process.UNKNOWN
    pid = int(infrastructure_pid)
    try:
        state = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return Process.GONE
    except OSError:
        return Process.UNKNOWN
    if state in ("Z", "X"):
        return Process.GONE
    mine = flow_run_id.encode()
    for candidate in [pid, *descendants(pid, proc)]:
        try:
            if mine in (proc / str(candidate) / "environ").read_bytes() or \
                    mine in (proc / str(candidate) / "cmdline").read_bytes():
                return Process.ALIVE
        except FileNotFoundError:
            continue
        except OSError:
            return Process.UNKNOWN
    # A live process that is not this run's: the pid was reused after the run's process died.
    return Process.GONE


def view_of(run: FlowRun) -> RunView:
    state = run.state
    if state is None:
        return RunView("PENDING", "Pending", run.created or datetime.now(UTC))
    return RunView(
        state_type=state.type.value,
        state_name=state.name or state.type.value.title(),
        since=state.timestamp,
        pause_key=state.state_details.pause_key if state.is_paused() else None,
        process=process_of(str(run.id), run.infrastructure_pid),
    )


class PrefectRuns:
    """Review runs on one Prefect server, started from one deployment."""

    def __init__(self, client: SyncPrefectClient, deployment: str) -> None:
        self.client = client
        self.deployment = deployment

    def check(self) -> None:
        """Raise now if runs cannot be started: the server is unreachable, refuses us, or lacks the deployment."""
        retry_unavailable(lambda: self.client.read_deployment_by_name(self.deployment))

    def observe(self, flow_run_id: str) -> RunView | None:
        """What Prefect says of the run now; ``None`` if it does not exist (deleted)."""
        try:
            run = retry_unavailable(lambda: self.client.read_flow_run(UUID(flow_run_id)))
        except ObjectNotFound:
            return None
        return view_of(run)

    def reschedule(self, flow_run_id: str) -> None:
        """Put a stranded run back to wait for a worker; it then runs again from the top.

        Forced, because Prefect refuses to leave a final state (Crashed, Failed, Cancelled)
        on its own. The re-run repeats nothing: recorded steps come back from the register,
        side effects from their cached results, and an answer already given from Prefect's
        stored input of that wait.
        """
        state: State[Any] = Scheduled(
            name=RESCHEDULED, message="Restarted by lcspr reconcile: the register's open step needs a live run.")
        retry_unavailable(lambda: self.client.set_flow_run_state(UUID(flow_run_id), state, force=True))

    def start(self, reference: str, parameters: Mapping[str, Any], idempotency_key: str) -> str:
        """Create (or find, by the idempotency key) a run of the review deployment named by the reference."""
        deployment = retry_unavailable(lambda: self.client.read_deployment_by_name(self.deployment))
        run = retry_unavailable(lambda: self.client.create_flow_run_from_deployment(
            deployment.id, parameters=dict(parameters), name=reference, idempotency_key=idempotency_key))
        return str(run.id)
