"""The review runs as Prefect holds them: start, rename, retag and repair them, read their stored
answers; and the artifacts the UI shows of the register.

A plain adapter over Prefect's synchronous client (no ``@task`` here). The ``Runs`` the App hands
out is ``adapters/prefect_api.py``'s, which reads and resumes runs over plain HTTP (the commands a
person waits on never import Prefect) and comes here for the rest. Every call retries HTTP 503,
which the server's SQLite answers as "database is locked" under concurrent writes; a server that
cannot be reached or refuses us becomes one readable :class:`models.errors.Unavailable` line.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Scheduled

from adapters.prefect_errors import retry_unavailable, unavailable_on_trouble
from models.run_tags import retagged
from models.runs import Wait, wait_key

# The name the UI shows on a run put back to wait for a worker after a crash (Prefect's own term).
RESCHEDULED = "AwaitingRetry"


@contextlib.contextmanager
def prefect_runs(deployment: str, ui_link: Callable[[str], str]) -> Iterator[PrefectRuns]:
    """The review runs on the Prefect server the environment names (``PREFECT_API_URL``); a failure to
    reach it, or a refusal, becomes :class:`Unavailable` with one clear line."""
    with get_client(sync_client=True) as client, unavailable_on_trouble(str(client.api_url), deployment):
        yield PrefectRuns(client, deployment, ui_link)


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

    def reschedule(self, flow_run_id: str, *, settle: float = 3.0, attempts: int = 3, quiet: float = 5.0) -> None:
        """Put a stranded run back to wait for a worker; it then runs again from the top.

        Forced, because Prefect refuses to leave a final state (Crashed, Failed, Cancelled)
        on its own. The re-run repeats nothing: recorded steps come back from the register,
        side effects from their cached results, and an answer already given from Prefect's
        stored input of that wait.

        The worker reports a dead process as Crashed a moment after the runner did; a restart
        forced in between is overwritten by that report (seen in the end-to-end tests: ours at
        08:40:00.964, the worker's Crashed at 08:40:00.981). So look again after ``settle``
        seconds and force it once more while the run is back in a final state.

        Nor is a run forced back before its final state is ``quiet`` seconds old (the worker's report came
        2.6 s after the runner's). A restart forced
        between the runner's Crashed and the worker's was seen taken up by the worker and then crashed
        over by its report; the worker then ran the run from Crashed, which makes Prefect forget the
        run's used wait keys, and its suspend failed on a key whose input exists (409). ``lcspr
        reconcile`` run in the second after a crash (the e2e tier does, since the CLI starts warm) hit it.
        """
        run_id = UUID(flow_run_id)
        ended = retry_unavailable(lambda: self.client.read_flow_run(run_id)).state
        if ended is not None and ended.is_final() and ended.timestamp is not None:
            age = (datetime.now(UTC) - ended.timestamp).total_seconds()
            if 0 <= age < quiet:
                time.sleep(quiet - age)

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
