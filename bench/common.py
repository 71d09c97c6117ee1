"""What the benchmarks of the running system share: the machine they ran on, the system started as the
end-to-end tests start it (``tests/e2e/conftest.py``: ``./run`` in a temporary home on free ports), the
Prefect API read over HTTP, processes' memory and CPU from /proc, and percentiles.

Nothing here is imported by the product; ``bench/`` only reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.processes import descendants  # noqa: E402
from tests import postgres  # noqa: E402
from tests.e2e.conftest import LCSPR, System, start_system  # noqa: E402

PYTHON = str(Path(sys.executable))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# The days of FULL_LCSPR (tests/flows/answers.py): the referral was known on BASE_AWARE, the last answer given
# on LAST_ANSWER. The benchmarks move every date by whole weeks so that the last answer is not after today.
BASE_AWARE = date(2026, 3, 3)
LAST_ANSWER = date(2026, 11, 2)
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OTHER_BENCHES = "pytest|bench/sweep_planning|bench/working_days|bench/decision_latency|bench/waiting_reviews|bench/load"


# ---------------------------------------------------------------- the machine


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    prefect = subprocess.run([PYTHON, "-c", "import prefect; print(prefect.__version__)"], capture_output=True,
                             text=True, check=False).stdout.strip()
    postgres_version = ""
    with contextlib.suppress(Exception):
        from sqlalchemy import create_engine, text

        engine = create_engine(postgres.LOCAL_REGISTER, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            postgres_version = str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
    return {
        "code": code_version(),
        "date": date.today().isoformat(),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "prefect": prefect,
        "postgresql": postgres_version or "not reachable",
    }


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it (and where)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    import hashlib

    head = git("rev-parse", "--short", "HEAD")
    changed = [f for f in git("diff", "--name-only", "HEAD").splitlines() if not f.startswith("bench/")]
    if not changed:
        return f"commit {head}"
    digest = hashlib.sha1(git("diff", "HEAD", "--", *changed).encode()).hexdigest()[:8]
    return f"commit {head} + uncommitted changes to {', '.join(changed)} (diff {digest})"


def machine_line(info: Mapping[str, str]) -> str:
    return (f"{info['code']}; {info['date']}; {info['nproc']} cores ({info['cpu']}), {info['memory']} memory, "
            f"Linux {info['kernel']}, "
            f"Python {info['python']}, Prefect {info['prefect']}, PostgreSQL {info['postgresql']}")


def others_running() -> list[str]:
    """Command lines of other benchmark or test runs sharing the machine now (``pgrep -f``)."""
    found = subprocess.run(["pgrep", "-af", OTHER_BENCHES], capture_output=True, text=True, check=False).stdout
    mine = {str(os.getpid()), str(os.getppid())}
    return [line for line in found.splitlines() if line.split(" ", 1)[0] not in mine and "pgrep" not in line]


def wait_for_quiet_machine(minutes: float, every: float = 60.0) -> str:
    """Wait (up to ``minutes``) until no other benchmark or test runs; a line saying how it went."""
    deadline = time.monotonic() + minutes * 60
    waited = 0.0
    while True:
        busy = others_running()
        if not busy:
            return f"no other test or benchmark was running when the measurement started (waited {waited / 60:.0f} min)"
        if time.monotonic() > deadline:
            return (f"OTHER RUNS SHARED THE MACHINE: still busy after {minutes:.0f} min, measured anyway "
                    f"({'; '.join(b[:80] for b in busy)})")
        print(f"  waiting for a quiet machine: {busy[0][:100]}", flush=True)
        time.sleep(every)
        waited += every


class Neighbours:
    """Watches (every ``every`` s, in a thread) for other test or benchmark runs while a measurement runs."""

    def __init__(self, every: float = 10.0) -> None:
        import threading

        self.every = every
        self.seen: dict[str, float] = {}
        self.samples = 0
        self.busy_samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = others_running()
            self.samples += 1
            self.busy_samples += bool(busy)
            for line in busy:
                self.seen.setdefault(line.split(" ", 1)[1][:90] if " " in line else line, time.time())
            self._stop.wait(self.every)

    def __enter__(self) -> Neighbours:
        self.code_before = code_version()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.code_after = code_version()

    def line(self) -> str:
        changed = "" if self.code_after == self.code_before else (
            f"; THE CODE CHANGED DURING THE RUN (now {self.code_after})")
        if not self.busy_samples:
            return (f"no other test or benchmark ran during the measurement (checked every {self.every:.0f} s)"
                    + changed)
        share = self.busy_samples / max(self.samples, 1)
        return (f"OTHER RUNS SHARED THE MACHINE during {share:.0%} of the measurement: "
                + "; ".join(sorted(self.seen))[:400] + changed)


# ---------------------------------------------------------------- dates


def week_offset(today: date) -> int:
    """Whole weeks (in days) to move FULL_LCSPR's dates by, so its last answer is on or before ``today``."""
    return 7 * ((today - LAST_ANSWER).days // 7)


def shifted(value: Any, days: int) -> Any:
    """``value`` with every ISO date in it moved by ``days``."""
    if isinstance(value, dict):
        return {k: shifted(v, days) for k, v in value.items()}
    if isinstance(value, str) and ISO_DAY.match(value):
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
    return value


def referral_json(agency_reference: str, aware: date) -> dict[str, Any]:
    return {
        "referring_agency": "Thames Valley Police", "agency_reference": agency_reference,
        "referred_by": "J. Patel, DSL", "dsl_consulted": True, "incident_date": aware.isoformat(),
        "la_aware_date": aware.isoformat(), "abuse_or_neglect": "suspected", "harm": "seriously_harmed",
        "child_pseudonym": "Child A",
        "outline": "Serious injury to an infant at home; concerns about information sharing.",
    }


# ---------------------------------------------------------------- the end of a run


def finish(json_path: Path | None, record: Mapping[str, Any], problems: Sequence[str]) -> int:
    """Write the run's record as JSON if asked, print its problems; the exit code (1 if any)."""
    if json_path:
        json_path.write_text(json.dumps({**record, "problems": list(problems)}, indent=1, default=str))
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- the running system


@contextlib.contextmanager
def running_system(home: Path, *, prefect_db: str = "sqlite", register_db: str = "sqlite", args: Sequence[str] = (),
                   extra_env: Mapping[str, str] | None = None) -> Iterator[System]:
    """``./run`` in ``home`` as ``tests/e2e/conftest.py`` starts it, Prefect's server and the register each on
    SQLite (in the home) or on a fresh PostgreSQL database of their own (dropped afterwards), up and deployed."""
    env = dict(extra_env or {})
    with contextlib.ExitStack() as stack:
        if prefect_db == "postgresql":
            env["LCSPR_PREFECT_DATABASE_URL"] = stack.enter_context(
                postgres.fresh_database(postgres.LOCAL_PREFECT, "benchprefect"))
        if register_db == "postgresql":
            env["LCSPR_DATABASE_URL"] = stack.enter_context(
                postgres.fresh_database(postgres.LOCAL_REGISTER, "benchregister"))
        system = stack.enter_context(start_system(home, env, args, postgresql=False))
        system.prefect_database = env.get("LCSPR_PREFECT_DATABASE_URL")
        system.register_database = env.get("LCSPR_DATABASE_URL")
        system.wait_until_up()
        yield system


def postgres_problem() -> str | None:
    return postgres.unreachable(postgres.LOCAL_REGISTER)


def api(system: System, path: str, body: Any = None, method: str | None = None, timeout: float = 60) -> Any:
    """The Prefect API; raises on anything but 2xx (503 retried with backoff, as every client of ours does)."""
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(8):
        request = urllib.request.Request(system.api_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
                return json.loads(text) if text else {}
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == 7:
                raise RuntimeError(f"{method or ('POST' if body is not None else 'GET')} {path}: HTTP {exc.code} "
                                   f"{exc.read()[:300]!r}") from None
            time.sleep(0.25 * 2 ** attempt)
    raise AssertionError("unreachable")


def timed_api(system: System, path: str, body: Any = None) -> tuple[float, Any]:
    started = time.perf_counter()
    result = api(system, path, body)
    return time.perf_counter() - started, result


def state_of(system: System, flow_run_id: str) -> dict[str, Any]:
    run = api(system, f"/flow_runs/{flow_run_id}")
    return run.get("state") or {}


def states(system: System, flow_run_id: str) -> list[dict[str, Any]]:
    """The run's state history, oldest first."""
    found = api(system, f"/flow_run_states/?flow_run_id={flow_run_id}")
    return sorted(found, key=lambda s: s["timestamp"])


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def lcspr_timed(system: System, *args: str, timeout: float = 600) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = system.lcspr(*args, timeout=timeout)
    return time.perf_counter() - started, result


def lcspr_popen(system: System, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([LCSPR, *args], env=system.env, cwd=system.home, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# ---------------------------------------------------------------- processes


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def tree(pid: int) -> list[int]:
    return [pid, *descendants(pid)]


def rss_bytes(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of the processes (and of their children they have waited for)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def server_pid(system: System) -> int:
    pid = system.child(r"lcspr\.prefect_server server start")
    assert pid, "no Prefect server under lcspr up"
    return pid


def worker_pids(system: System) -> list[int]:
    return system.children(r"prefect worker start")


def flow_processes(system: System) -> list[int]:
    """Processes below the workers: flow runs being executed."""
    return [p for w in worker_pids(system) for p in descendants(w)]


def wait_no_flow_process(system: System, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not flow_processes(system):
            return True
        time.sleep(0.1)
    return False


def logs_with_trouble(home: Path) -> list[str]:
    """Lines of the system's logs (``logs/*.log``, ``up.out``) that tell of an unhandled problem."""
    # 503 as an HTTP status (uvicorn's access log: `"POST /api/... HTTP/1.1" 503`, httpx: `'503 Service
    # Unavailable'`), never as digits of a number such as a timestamp's milliseconds (`16:21:46.503`).
    pattern = re.compile(
        r"Traceback|database is locked|HTTP/\d(?:\.\d)?\"\s+503\b|(?<![\d.:,])\b503\s+Service|Service Unavailable",
        re.IGNORECASE,
    )
    found = []
    for path in [*sorted((home / "logs").glob("*.log")), home / "up.out"]:
        if path.is_file():
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.name}:{n}: {line.strip()[:200]}")
    return found
