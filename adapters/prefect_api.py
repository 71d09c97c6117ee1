"""The review runs on the Prefect server, read and resumed over its REST API with plain HTTP.

``lcspr list``, ``status`` and ``decide`` are what a person waits on, and importing Prefect's client
costs more than they may take in all (about 1.5 s of a 2 cores machine: ``prefect/__init__`` loads
its settings, blocks, schemas and analytics). What those commands need of Prefect is four documented
endpoints of the server's API: read a deployment by name, read one flow run, filter flow runs by id,
and resume a paused run with input (``POST /flow_runs/{id}/resume``, whose ``REJECT`` is the
server's schema refusing the answer). This adapter calls them with the standard library's
``http.client`` (``adapters/http_json.py``: httpx, which Prefect's client is built on, takes 0.1 s to
import), sending what that client sends (the same JSON, ``PREFECT_API_AUTH_STRING`` as basic auth or
``PREFECT_API_KEY`` as a bearer token, the same TLS settings). Everything else a run needs (start,
reschedule, rename, retag, stored input, artifacts) goes to Prefect's own client
(``adapters/prefect_runs.py``), imported the first time one of those is asked for.

``tests/integration/test_prefect_api.py`` holds this reading to Prefect's client on a real server.

Every call retries HTTP 503 (SQLite's "database is locked" on the server), 502 and 429; a server that
cannot be reached or refuses us becomes one readable :class:`models.errors.Unavailable` line saying
what to do.

Whether a run's process is alive is checked on this machine: the process worker records the
process id as the run's ``infrastructure_pid``, and the process carries the run id in its
environment (``PREFECT__FLOW_RUN_ID``), so a reused pid is not mistaken for the run. With a
worker on another machine the answer is "unknown", and only the grace period applies.
"""

from __future__ import annotations

import base64
import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.http_json import HttpStatusError, JsonClient, Response
from adapters.prefect_errors import retry_unavailable, unavailable_on_trouble
from adapters.processes import descendants
from models.errors import Refused, Unavailable
from models.runs import REPAIR, Process, RunView, Wait, step_of_wait

if TYPE_CHECKING:
    from adapters.prefect_runs import PrefectRuns

# Prefect's client's default request timeout (PREFECT_API_REQUEST_TIMEOUT): a loaded server is slow, not gone.
TIMEOUT = 60.0
# Run ids in one filter: each is a bound parameter of the server's query (PostgreSQL's asyncpg allows 32,767).
ID_CHUNK = 5000
# Runs in one page of a filter: the server's default and largest limit (PREFECT_API_DEFAULT_LIMIT).
PAGE = 200
# Connections a batch of independent calls is spread over: the server parses one request while the database
# answers another. The 22 counts of `lcspr list` at 10,000 runs took 0.40 s one after another, 0.25 s over
# 3 or 4 connections, 0.26 s over 6 (docs/performance.md).
PARALLEL = 4


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


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


def view_of(run: Mapping[str, Any]) -> RunView:
    """A flow run as the API returns it (``FlowRun`` in JSON), as the register's judgement reads it."""
    state = run.get("state")
    if not state:
        return RunView("PENDING", "Pending", _instant(run.get("created")) or datetime.now(UTC))
    kind = str(state["type"])
    details = state.get("state_details") or {}
    return RunView(
        state_type=kind,
        state_name=state.get("name") or kind.title(),
        since=_instant(state.get("timestamp")) or datetime.now(UTC),
        pause_key=details.get("pause_key") if kind == "PAUSED" else None,
        process=process_of(str(run["id"]), run.get("infrastructure_pid")),
        tags=tuple(run.get("tags") or ()),
    )


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def refusal(reason: str) -> str:
    """The server's reason for refusing an answer, without the refused value: its schema check quotes it
    ("Validation failed for field 'outcome'. Failure reason: '<the value>' is not one of [...]"), and a
    refusal never echoes refused text. The field it names is kept."""
    if fields := re.findall(r"Validation failed for field '([A-Za-z0-9_.\[\]]+)'", reason):
        return f"{', '.join(dict.fromkeys(fields))} does not match the step's form (the value is not repeated here)."
    if "validation" in reason.lower() or "hydrat" in reason.lower():
        return "the answer does not match the step's form (the server's reason is not repeated: it quotes the answer)."
    return reason or "no reason given."


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def connection(environ: Mapping[str, str]) -> dict[str, Any]:
    """Where the Prefect API is and how to be let in: Prefect's own settings when Prefect is loaded in this
    process already (a flow run, a test's temporary settings), otherwise the environment, which the
    ``lcspr`` CLI points at this installation (``lcspr/cli.py``) without loading Prefect."""
    if "prefect.settings" in sys.modules or not environ.get("PREFECT_API_URL"):
        from prefect.settings import get_current_settings

        api = get_current_settings().api
        return {"url": api.url or "", "auth": api.auth_string.get_secret_value() if api.auth_string else None,
                "key": api.key.get_secret_value() if api.key else None,
                "insecure": api.tls_insecure_skip_verify, "cert": api.ssl_cert_file}
    return {"url": environ["PREFECT_API_URL"], "auth": environ.get("PREFECT_API_AUTH_STRING"),
            "key": environ.get("PREFECT_API_KEY"),
            "insecure": _true(environ.get("PREFECT_API_TLS_INSECURE_SKIP_VERIFY")),
            "cert": environ.get("PREFECT_API_SSL_CERT_FILE")}


def http_client(environ: Mapping[str, str]) -> JsonClient:
    """A client for the Prefect API, authenticated as Prefect's client would be (basic auth from
    ``PREFECT_API_AUTH_STRING``, else a bearer ``PREFECT_API_KEY``; the same TLS settings)."""
    found = connection(environ)
    if not found["url"]:
        raise Unavailable("No Prefect API is configured: set PREFECT_API_URL, or start the system with "
                          "`lcspr up` (./run).")
    headers = {"Accept": "application/json"}
    if found["auth"]:
        headers["Authorization"] = "Basic " + base64.b64encode(str(found["auth"]).encode()).decode()
    elif found["key"]:
        headers["Authorization"] = f"Bearer {found['key']}"
    # Plain HTTP (the embedded server on 127.0.0.1) has no certificate to check: no CA bundle is loaded.
    plain = str(found["url"]).lower().startswith("http://")
    verify: bool | str = False if found["insecure"] or plain else (found["cert"] or True)
    try:
        return JsonClient(str(found["url"]), headers, verify=verify, timeout=TIMEOUT)
    except ValueError:
        raise Unavailable(f"The Prefect API URL {found['url']!r} is not an http:// or https:// address: set "
                          "PREFECT_API_URL to the server's API, such as http://127.0.0.1:4200/api.") from None


@contextlib.contextmanager
def api_runs(deployment: str, ui_link: Callable[[str], str], environ: Mapping[str, str]) -> Iterator[ApiRuns]:
    """The review runs on the Prefect server ``environ`` (or Prefect's settings) names; the edge passes
    the process environment."""
    with contextlib.ExitStack() as stack:
        http = stack.enter_context(http_client(environ))
        with unavailable_on_trouble(str(http.base_url), deployment):
            yield ApiRuns(http, deployment, ui_link, stack)


class ApiRuns:
    """Review runs on one Prefect server: read and resumed over HTTP, the rest through Prefect's client."""

    def __init__(self, http: JsonClient, deployment: str, ui_link: Callable[[str], str],
                 stack: contextlib.ExitStack) -> None:
        self.http = http
        self.deployment = deployment
        self.ui_link = ui_link
        self._stack = stack
        self._client: PrefectRuns | None = None

    @property
    def client(self) -> PrefectRuns:
        """Prefect's own client, opened on first use (its import costs about 1.5 s)."""
        if self._client is None:
            from adapters.prefect_runs import prefect_runs

            self._client = self._stack.enter_context(prefect_runs(self.deployment, self.ui_link))
        return self._client

    def _call(self, method: str, path: str, json: Any = None) -> Response:
        def send() -> Response:
            return self.http.request(method, path, json)

        return retry_unavailable(send)

    def _call_all(self, calls: Sequence[tuple[str, str, Any]]) -> list[Response]:
        """Independent calls, each retried as ``_call`` is, spread over up to ``PARALLEL`` connections of
        their own (closed after); the answers in the order of the calls."""
        if len(calls) <= 1:
            return [self._call(*call) for call in calls]
        from concurrent.futures import ThreadPoolExecutor

        clients: list[JsonClient] = []
        local = threading.local()

        def one(call: tuple[str, str, Any]) -> Response:
            client: JsonClient | None = getattr(local, "client", None)
            if client is None:
                client = local.client = self.http.copy()
                clients.append(client)
            return retry_unavailable(lambda: client.request(*call))

        try:
            with ThreadPoolExecutor(min(PARALLEL, len(calls))) as pool:
                return list(pool.map(one, calls))
        finally:
            for client in clients:
                client.close()

    def _read(self, flow_run_id: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = self._call("GET", f"flow_runs/{flow_run_id}").json()
        except HttpStatusError as exc:
            if exc.status == 404:
                return None
            raise
        return body

    # ---------------------------------------------------------------- over HTTP

    def check(self) -> None:
        """Raise now if runs cannot be started: the server is unreachable, refuses us, or lacks the deployment."""
        self._call("GET", f"deployments/name/{self.deployment}")

    def observe(self, flow_run_id: str) -> RunView | None:
        """What Prefect says of the run now; ``None`` if it does not exist (deleted)."""
        run = self._read(flow_run_id)
        return None if run is None else view_of(run)

    def observe_all(self, flow_run_ids: Sequence[str], *, page: int = 200) -> dict[str, RunView | None]:
        """``observe`` for many runs, a page of runs per call to the API rather than one call each."""
        found: dict[str, RunView | None] = dict.fromkeys(flow_run_ids)
        wanted = list(found)
        for start in range(0, len(wanted), page):
            ids = wanted[start:start + page]
            body = {"flow_runs": {"id": {"any_": ids}}, "limit": len(ids), "offset": 0}
            found.update({str(run["id"]): view_of(run) for run in self._call("POST", "flow_runs/filter", body).json()})
        return found

    def unpaused(self, flow_run_ids: Sequence[str], *, chunk: int = ID_CHUNK) -> dict[str, RunView]:
        """``observe`` of the runs among these that are not paused, a page at a time: the server filters."""
        found: dict[str, RunView] = {}

        def page_of(ids: list[str], offset: int) -> tuple[str, str, Any]:
            where = {"id": {"any_": ids}, "state": {"type": {"not_any_": ["PAUSED"]}}}
            return "POST", "flow_runs/filter", {"flow_runs": where, "limit": PAGE, "offset": offset, "sort": "ID_DESC"}

        chunks = list(_chunks(flow_run_ids, chunk))
        # The first page of every chunk side by side; the rest (a chunk with over PAGE runs not paused) in turn.
        for ids, answer in zip(chunks, self._call_all([page_of(ids, 0) for ids in chunks]), strict=True):
            page, offset = answer.json(), 0
            found.update({str(run["id"]): view_of(run) for run in page})
            while len(page) == PAGE:
                offset += PAGE
                page = self._call(*page_of(ids, offset)).json()
                found.update({str(run["id"]): view_of(run) for run in page})
        return found

    def count_paused(self, flow_run_ids: Sequence[str], *, chunk: int = ID_CHUNK) -> int:
        """How many of these runs are paused: a count on the server (9 ms a call and 7 µs a run id on this
        machine), the chunks side by side (``_call_all``)."""
        paused = {"type": {"any_": ["PAUSED"]}}
        calls = [("POST", "flow_runs/count", {"flow_runs": {"id": {"any_": ids}, "state": paused}})
                 for ids in _chunks(flow_run_ids, chunk)]
        return sum(int(answer.json()) for answer in self._call_all(calls))

    def resume(self, flow_run_id: str, key: str, payload: Mapping[str, Any], seen: RunView | None = None,
               settle: float = 30.0) -> None:
        """Resume the suspended run with the answer, once it waits on ``key`` (up to ``settle`` s); ``seen``: the
        run as the caller just observed it (not read again unless it must be waited for).

        Raises Unavailable when the run cannot take it (final, or waiting on something else) and
        Refused when the server's schema refuses the answer (HTTP 200 REJECT)."""
        deadline = time.monotonic() + settle
        while True:
            if seen is None:
                run = self._read(flow_run_id)
                if run is None:
                    raise Unavailable(f"The flow run {flow_run_id} no longer exists in Prefect. Run `{REPAIR}` to "
                                      "start a new one, then answer again.")
                seen = view_of(run)
            view, seen = seen, None
            waiting_on = step_of_wait(view.pause_key)
            if waiting_on == key:
                break
            if view.state_type in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                raise Unavailable(
                    f"The flow run is {view.state_name}; it cannot take an answer. Run `{REPAIR}` to repair it, "
                    f"then answer again. See {self.ui_link(flow_run_id)}")
            if time.monotonic() > deadline:
                now = f"waits on {waiting_on}" if waiting_on else f"is {view.state_name}"
                raise Unavailable(
                    f"The flow run {now}, not on {key}, after {settle:.0f} s. `lcspr status` shows why; "
                    f"if it stays so, `{REPAIR}` repairs it. See {self.ui_link(flow_run_id)}")
            time.sleep(1)
        result = self._call("POST", f"flow_runs/{flow_run_id}/resume", {"run_input": dict(payload)}).json()
        status = str(result.get("status", "")).upper()
        reason = str((result.get("details") or {}).get("reason") or "")
        if status == "REJECT":
            raise Refused(f"The Prefect server refused the answer: {refusal(reason)}")
        if status == "ABORT":
            raise Refused(f"The flow run is not waiting for input, so the answer was not taken. {refusal(reason)}")

    # ---------------------------------------------------------------- through Prefect's client

    def start(self, reference: str, parameters: Mapping[str, Any], idempotency_key: str) -> str:
        return self.client.start(reference, parameters, idempotency_key)

    def reschedule(self, flow_run_id: str) -> None:
        self.client.reschedule(flow_run_id)

    def rename(self, flow_run_id: str, name: str) -> None:
        self.client.rename(flow_run_id, name)

    def retag(self, flow_run_id: str, tags: Sequence[str]) -> bool:
        return self.client.retag(flow_run_id, tags)

    def replace_parameters(self, flow_run_id: str, parameters: Mapping[str, Any]) -> None:
        self.client.replace_parameters(flow_run_id, parameters)

    def forget_answer(self, flow_run_id: str, wait: str) -> None:
        self.client.forget_answer(flow_run_id, wait)

    def wait_for(self, flow_run_id: str, step_key: str) -> Wait:
        return self.client.wait_for(flow_run_id, step_key)

    def publish_artifact(self, key: str, kind: str, data: str | float, description: str,
                         flow_run_id: str | None = None) -> bool:
        """A new version under ``key`` only if the latest one holds other data: a run re-running from the
        top (every resume) publishes what it published before, and that must not add a version. Two
        publishers at the same moment may both add the same content once; nothing is lost. Over HTTP, as
        Prefect's client does it (``read_latest_artifacts``, ``create_artifact``), without loading it."""
        latest = self._call("POST", "artifacts/latest/filter",
                            {"artifacts": {"key": {"any_": [key]}}, "limit": 1}).json()
        if latest and latest[0].get("type") == kind and latest[0].get("data") == data:
            return False
        self._call("POST", "artifacts/", {"key": key, "type": kind, "data": data, "description": description,
                                          "flow_run_id": flow_run_id})
        return True
