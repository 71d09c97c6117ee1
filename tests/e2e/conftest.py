"""The running system as a person starts it: ``./run`` in a temporary home on free ports.

``start_system`` starts the README's run command (it execs ``lcspr up``: a real Prefect server
on SQLite, a process worker, the deployments from ``prefect.yaml`` and the local SMTP outbox)
and stops it with SIGINT afterwards. ``System`` drives it the way its users do: the ``lcspr``
command, the Prefect REST API, the outbox folder, the logs.

With ``LCSPR_TEST_PREFECT_DATABASE_URL`` (Prefect's server) and ``LCSPR_TEST_DATABASE_URL`` (the
register) set to PostgreSQL, each system started gets fresh databases there, dropped once it has
stopped (``tests/postgres.py``); a test that reads Prefect's SQLite file asks for SQLite.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from lcspr.up import descendants
from tests import postgres

LCSPR = str(Path(sys.executable).with_name("lcspr"))
RUN = Path(__file__).resolve().parents[2] / "run"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class System:
    home: Path
    api_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    output: Path
    # The PostgreSQL database of Prefect's server and of the register; None: SQLite in the home.
    prefect_database: str | None = None
    register_database: str | None = None

    def lcspr(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LCSPR, *args], env=self.env, cwd=self.home, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def api(self, path: str, body: Any = None, method: str | None = None) -> Any:
        """GET (or POST/PATCH a JSON body) on the Prefect API; None when it does not answer 2xx."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(6):
            request = urllib.request.Request(self.api_url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    text = response.read()
                    return json.loads(text) if text else {}
            except urllib.error.HTTPError as exc:
                # The server's SQLite answers 503 "database is locked" under concurrent writes: retry,
                # as every client of ours does.
                if exc.code != 503 or attempt == 5:
                    return None
                time.sleep(0.5 * 2 ** attempt)
            except (urllib.error.URLError, OSError, json.JSONDecodeError):
                return None
        return None

    def status(self, reference: str) -> dict[str, Any]:
        result = self.lcspr("status", reference, "--json")
        assert result.returncode == 0, result.stderr
        status: dict[str, Any] = json.loads(result.stdout)
        return status

    def run_state(self, flow_run_id: str) -> dict[str, Any]:
        run = self.api(f"/flow_runs/{flow_run_id}") or {}
        state: dict[str, Any] = run.get("state") or {}
        return state

    def deployment_id(self, name: str) -> str:
        deployment = self.api(f"/deployments/name/{name}/{name}")
        assert deployment, f"no deployment {name}"
        return str(deployment["id"])

    def runs_of(self, deployment: str) -> list[dict[str, Any]]:
        found = self.api("/flow_runs/filter", {"deployments": {"id": {"any_": [self.deployment_id(deployment)]}},
                                               "sort": "EXPECTED_START_TIME_DESC", "limit": 200})
        return list(found or [])

    def mails(self) -> list[email.message.EmailMessage]:
        found = []
        for path in sorted((self.home / "outbox").glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            found.append(message)  # type: ignore[arg-type]
        return found

    def child(self, pattern: str) -> int | None:
        """The pid of the process below `lcspr up` whose command line matches ``pattern``."""
        found = self.children(pattern)
        return found[0] if found else None

    def children(self, pattern: str) -> list[int]:
        """The pids of every process below `lcspr up` whose command line matches ``pattern``."""
        found = []
        for pid in descendants(self.process.pid):
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if re.search(pattern, command):
                    found.append(pid)
        return found

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_until_up(self) -> None:
        def up() -> Any:
            assert self.process.poll() is None, f"lcspr up exited:\n{self.log()}"
            return ("LCSPR is running" in self.log() and self.api("/health")) or None

        wait_for("the deployments", up, timeout=300)


@contextlib.contextmanager
def start_system(home: Path, extra_env: Mapping[str, str] | None = None, args: Sequence[str] = (),
                 postgresql: bool | None = None) -> Iterator[System]:
    """``./run`` in ``home`` on free ports. ``postgresql``: None, Prefect's server and the register where
    the environment says (``tests/postgres.py``); False, both on SQLite whatever it says; True, both on
    PostgreSQL, on the configured servers or the local one (the caller checks that it answers)."""
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LCSPR_"))}
    env.update({
        "LCSPR_HOME": str(home),
        "LCSPR_API_URL": f"http://127.0.0.1:{port}/api",
        "LCSPR_UI_URL": f"http://127.0.0.1:{port}",
        "LCSPR_SMTP_PORT": str(smtp_port),
        **(extra_env or {}),
    })
    prefect_server = postgres.configured(postgres.PREFECT)
    register_server = postgres.configured(postgres.REGISTER)
    if postgresql is False:
        prefect_server = register_server = None
    elif postgresql:
        prefect_server = prefect_server or postgres.LOCAL_PREFECT
        register_server = register_server or postgres.LOCAL_REGISTER
    with contextlib.ExitStack() as databases:
        # Dropped when this block ends, after the system has stopped (the finally below).
        prefect_database = register_database = None
        if prefect_server:
            prefect_database = databases.enter_context(postgres.fresh_database(prefect_server, "prefect"))
            env["LCSPR_PREFECT_DATABASE_URL"] = prefect_database
        if register_server:
            register_database = databases.enter_context(postgres.fresh_database(register_server, "register"))
            env["LCSPR_DATABASE_URL"] = register_database
        output = home / "up.out"
        with output.open("wb") as out:
            # The README's run command itself (its setup is a no-op once installed; it then execs `lcspr up`).
            process = subprocess.Popen(
                [str(RUN), *args], env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        system = System(home, f"http://127.0.0.1:{port}/api", env, process, output,
                        prefect_database, register_database)
        try:
            yield system
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def referral_file(folder: Path, today: date, agency_reference: str = "POL-E2E-0001",
                  la_aware_date: date | None = None) -> Path:
    path = folder / f"referral-{agency_reference}.json"
    path.write_text(json.dumps({
        "referring_agency": "Thames Valley Police",
        "agency_reference": agency_reference,
        "referred_by": "J. Patel, DSL",
        "dsl_consulted": True,
        "incident_date": ((la_aware_date or today) - timedelta(days=3)).isoformat(),
        "la_aware_date": (la_aware_date or today - timedelta(days=2)).isoformat(),
        "abuse_or_neglect": "suspected",
        "harm": "seriously_harmed",
        "child_pseudonym": "Child A",
        "outline": "Serious injury to an infant at home; concerns about information sharing.",
    }))
    return path


def answer_file(folder: Path, name: str, values: Mapping[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps({"decided_by": "A. Jones, Partnership Manager", **values}))
    return path


def log_records(log: str) -> list[str]:
    """The log cut into records, each from one timestamped line ("08:58:07.222 | ERROR ...") to the next."""
    return re.split(r"\n(?=\d\d:\d\d:\d\d\.\d+ \| )", log)


def prefect_lock_refusal(record: str) -> bool:
    """Is this Prefect's own write refused by SQLite's lock (and nothing of ours)? Its worker-heartbeat
    upsert, or its orchestration inserting a proposed state, run in DEFERRED transactions (read, then
    write) that SQLite refuses at once with "database is locked" when another write lands in between;
    the client is answered with an error and retries (the run's engine and our clients retry). Seen
    more as each run writes more (tags, artifacts); PostgreSQL (issue 14) has no such refusals."""
    first = record.split("\n", 1)[0]
    # Our packages' frames, not Prefect's own folders of the same names (prefect/server/models/...).
    ours = re.search(r'File "(?![^"]*site-packages)[^"]*/(lcspr|flows|tasks|services|adapters|models|notifications)/',
                     record)
    heartbeat = "Worker channel heartbeat persistence failed" in first and "INSERT INTO worker " in record
    state = "Encountered error during state validation" in first and "INSERT INTO flow_run_state " in record
    return (heartbeat or state) and "database is locked" in record and not ours


def tracebacks_not_prefects_lock(log: str) -> list[str]:
    """The log's records with a traceback, but for Prefect's own writes refused by SQLite's lock."""
    return [r for r in log_records(log) if "Traceback" in r and not prefect_lock_refusal(r)]
