"""The review runs as Prefect holds them: start, read, resume, rename and repair them; and the
artifacts the UI shows of the register.

A plain adapter over Prefect's synchronous client (no ``@task`` here), used through the
``Runs`` port by the use cases and by the review flow's tasks for its own run. Every call
retries HTTP 503, which the server's SQLite answers as "database is locked" under
concurrent writes; a server that cannot be reached or refuses us becomes one readable
:class:`models.errors.Unavailable` line saying what to do.

Whether a run's process is alive is checked on this machine: the process worker records the
process id as the run's ``infrastructure_pid``, and the process carries the run id in its
environment (``PREFECT__FLOW_RUN_ID``), so a reused pid is not mistaken for the run. With a
worker on another machine the answer is "unknown", and only the grace period applies.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import FlowRun, State
from prefect.client.schemas.responses import SetStateStatus
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Scheduled

from adapters.processes import descendants
from models.errors import Refused, Unavailable
from models.run_tags import retagged
from models.runs import REPAIR, Process, RunView, Wait, step_of_wait, wait_key

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
        tags=tuple(run.tags),
    )


def prefect_trouble(exc: Exception, api_url: str, deployment: str) -> str | None:
    """One line saying why Prefect could not be asked, and what to do; None if it is not that."""
    if isinstance(exc, httpx.TransportError):
        return f"cannot reach the Prefect API at {api_url}; start the system with `lcspr up` (./run)"
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        if code in (401, 403):
            return (f"the Prefect API at {api_url} refused the credentials (HTTP {code}): set "
                    "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING ('user:password')")
        if code == 404 and "/deployments/name/" in str(exc.request.url):
            return f"the deployment {deployment} does not exist on {api_url}; `lcspr up` deploys it"
        if code >= 500:
            return f"the Prefect API at {api_url} failed (HTTP {code}); see its log (.lcspr/logs/server.log)"
    return None


@contextlib.contextmanager
def prefect_runs(deployment: str, ui_link: Callable[[str], str]) -> Iterator[PrefectRuns]:
    """The review runs on the Prefect server the environment names (``PREFECT_API_URL``); a failure to
    reach it, or a refusal, becomes :class:`Unavailable` with one clear line."""
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
        try:
            yield PrefectRuns(client, deployment, ui_link)
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            trouble = prefect_trouble(exc, api_url.rstrip("/"), deployment)
            if trouble is None:
                raise
            raise Unavailable(trouble[0].upper() + trouble[1:] + ".") from None


def _missing(exc: Exception) -> bool:
    return isinstance(exc, ObjectNotFound) or (
        isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code == 404)


class PrefectRuns:
    """Review runs on one Prefect server, started from one deployment."""

    def __init__(self, client: SyncPrefectClient, deployment: str,
                 ui_link: Callable[[str], str] = str) -> None:
        self.client = client
        self.deployment = deployment
        self.ui_link = ui_link

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

    def observe_all(self, flow_run_ids: Sequence[str], *, page: int = 200) -> dict[str, RunView | None]:
        """``observe`` for many runs, a page of runs per call to the API rather than one call each."""
        found: dict[str, RunView | None] = dict.fromkeys(flow_run_ids)
        wanted = list(found)

        def read(ids: list[UUID]) -> list[FlowRun]:
            return self.client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                                              limit=len(ids))

        for start in range(0, len(wanted), page):
            ids = [UUID(i) for i in wanted[start:start + page]]
            found.update({str(run.id): view_of(run) for run in retry_unavailable(partial(read, ids))})
        return found

    def reschedule(self, flow_run_id: str, *, settle: float = 3.0, attempts: int = 3) -> None:
        """Put a stranded run back to wait for a worker; it then runs again from the top.

        Forced, because Prefect refuses to leave a final state (Crashed, Failed, Cancelled)
        on its own. The re-run repeats nothing: recorded steps come back from the register,
        side effects from their cached results, and an answer already given from Prefect's
        stored input of that wait.

        The worker reports a dead process as Crashed a moment after the runner did; a restart
        forced in between is overwritten by that report (seen in the end-to-end tests: ours at
        08:40:00.964, the worker's Crashed at 08:40:00.981). So look again after ``settle``
        seconds and force it once more while the run is back in a final state.
        """
        run_id = UUID(flow_run_id)

        def restart() -> Any:
            state: State[Any] = Scheduled(
                name=RESCHEDULED, message="Restarted by lcspr reconcile: the register's open step needs a live run.")
            return self.client.set_flow_run_state(run_id, state, force=True)

        for _ in range(attempts):
            retry_unavailable(restart)
            time.sleep(settle)
            now = retry_unavailable(lambda: self.client.read_flow_run(run_id)).state
            if now is None or not now.is_final():
                return

    def start(self, reference: str, parameters: Mapping[str, Any], idempotency_key: str) -> str:
        """Create (or find, by the idempotency key) a run of the review deployment named by the reference."""
        deployment = retry_unavailable(lambda: self.client.read_deployment_by_name(self.deployment))
        run = retry_unavailable(lambda: self.client.create_flow_run_from_deployment(
            deployment.id, parameters=dict(parameters), name=reference, idempotency_key=idempotency_key))
        return str(run.id)

    def resume(self, flow_run_id: str, key: str, payload: Mapping[str, Any], settle: float = 30.0) -> None:
        """Resume the suspended run with the answer, once it waits on ``key`` (up to ``settle`` s).

        Raises Unavailable when the run cannot take it (final, or waiting on something else) and
        Refused when the server's schema refuses the answer (HTTP 200 REJECT)."""
        run_id = UUID(flow_run_id)
        deadline = time.monotonic() + settle
        while True:
            run = retry_unavailable(lambda: self.client.read_flow_run(run_id))
            state = run.state
            waiting_on = step_of_wait(state.state_details.pause_key) if state and state.is_paused() else None
            if waiting_on == key:
                break
            if state is not None and state.is_final():
                raise Unavailable(
                    f"The flow run is {state.name}; it cannot take an answer. Run `{REPAIR}` to repair it, "
                    f"then answer again. See {self.ui_link(flow_run_id)}")
            if time.monotonic() > deadline:
                now = f"waits on {waiting_on}" if waiting_on else f"is {state.name if state else 'unknown'}"
                raise Unavailable(
                    f"The flow run {now}, not on {key}, after {settle:.0f} s. `lcspr status` shows why; "
                    f"if it stays so, `{REPAIR}` repairs it. See {self.ui_link(flow_run_id)}")
            time.sleep(1)
        result = retry_unavailable(lambda: self.client.resume_flow_run(run_id, run_input=dict(payload)))
        if result.status == SetStateStatus.REJECT:
            reason = result.details.reason if hasattr(result.details, "reason") else str(result.details)
            raise Refused(f"The Prefect server refused the answer: {reason}")
        if result.status == SetStateStatus.ABORT:
            reason = getattr(result.details, "reason", "") or ""
            raise Refused(f"The flow run is not waiting for input, so the answer was not taken. {reason}".strip())

    # ---------------------------------------------------------------- a run's own housekeeping

    def rename(self, flow_run_id: str, name: str) -> None:
        retry_unavailable(lambda: self.client.update_flow_run(UUID(flow_run_id), name=name))

    def retag(self, flow_run_id: str, tags: Sequence[str]) -> bool:
        """Read the run's tags, then write them with ours replaced, only if that changes them
        (``update_flow_run(tags=...)`` replaces the whole list, so the others are written back)."""
        run_id = UUID(flow_run_id)
        current = retry_unavailable(lambda: self.client.read_flow_run(run_id)).tags
        wanted = retagged(current, tags)
        if wanted is None:
            return False
        retry_unavailable(lambda: self.client.update_flow_run(run_id, tags=wanted))
        return True

    def replace_parameters(self, flow_run_id: str, parameters: Mapping[str, Any]) -> None:
        retry_unavailable(lambda: self.client.update_flow_run(UUID(flow_run_id), parameters=dict(parameters)))

    def forget_answer(self, flow_run_id: str, wait: str) -> None:
        """Delete Prefect's stored copy of the answer given to a wait (already gone: fine)."""
        try:
            key = f"suspended-{wait}-response"
            retry_unavailable(lambda: self.client.delete_flow_run_input(UUID(flow_run_id), key))
        except Exception as exc:
            if not _missing(exc):
                raise

    def wait_for(self, flow_run_id: str, step_key: str) -> Wait:
        """The wait for the open step: the step key, unless this run already waited on it and its
        process died before an answer came. Prefect refuses a used key and hands back its stored
        answer, or an empty one if none was given; so skip a used key without an answer
        (``rapid-review-1-wait-2``), and keep one that has an answer (``answered``), so that answer is
        recorded."""
        run_id = UUID(flow_run_id)
        used = retry_unavailable(lambda: self.client.read_flow_run(run_id)).empirical_policy.pause_keys or set()
        attempt = 1
        while (key := wait_key(step_key, attempt)) in used:
            try:
                retry_unavailable(lambda: self.client.read_flow_run_input(run_id, f"suspended-{key}-response"))
                return Wait(key, answered=True)
            except Exception as exc:
                if not _missing(exc):
                    raise
            attempt += 1
        return Wait(key, answered=False)

    # ---------------------------------------------------------------- artifacts

    def publish_artifact(self, key: str, kind: str, data: str | float, description: str,
                         flow_run_id: str | None = None) -> bool:
        """A new version under ``key`` only if the latest one holds other data: a run re-running from the
        top (every resume) publishes what it published before, and that must not add a version.
        Two publishers at the same moment may both add the same content once; nothing is lost."""
        wanted = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        latest = retry_unavailable(lambda: self.client.read_latest_artifacts(artifact_filter=wanted, limit=1))
        if latest and latest[0].type == kind and latest[0].data == data:
            return False
        artifact = ArtifactCreate(key=key, type=kind, data=data, description=description,
                                  flow_run_id=UUID(flow_run_id) if flow_run_id else None)
        retry_unavailable(lambda: self.client.create_artifact(artifact))
        return True
