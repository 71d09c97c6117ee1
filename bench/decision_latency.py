"""Decision latency on the running system, paired with a bare Prefect flow resumed on the same server and worker.

    .venv/bin/python bench/decision_latency.py [--reviews 2] [--steps 22] [--prefect-db sqlite|postgresql]
                                               [--register-db sqlite|postgresql] [--json FILE] [--quick]

The system is started as the end-to-end tests start it (``tests/e2e/conftest.py``: ``./run`` in a temporary
home on free ports, SQLite by default), with one addition: ``PREFECT_SERVER_LOGGING_LEVEL=INFO``, so the
server's log has one access line per API call (counted per decision below; the same for both arms).

* **review trial**: ``lcspr decide REFERENCE STEP --input FILE --wait 600`` (a new process, as a person runs
  it) → the review's run suspended again on the next step (``PAUSED``/``Suspended`` with the next step's
  pause key; ``COMPLETED`` after the last answer), seen by polling ``GET /api/flow_runs/<id>`` every 0.1 s.
  Reviews are walked along the full LCSPR of ``tests/flows/answers.py`` (22 answers, the drafts looping
  twice), every date moved by whole weeks so that the last answer is not after today.
* **bare trial**: ``bench/bare_suspend.py`` deployed to the same pool (``lcspr-local``) on the same server,
  resumed with what ``lcspr decide`` ends with (``adapters.prefect_api.ApiRuns.resume``, in this
  process) → its next ``Suspended`` state, polled the same way.

Trials are interleaved and paired: answer k of review r, then resume k of bare run r (the order swapped on odd
k); each starts once no flow-run process is left under the worker, so trials never overlap. Reported: p50/p95
of each arm, the median of the paired ratios, for two spans:

* **end to end**: from starting ``lcspr decide`` (review) or calling resume (bare) to the next Suspended
  seen by the poll; the review side includes the CLI's own start, imports and checks;
* **resume → Suspended** (like for like): from the ``Resuming`` state the resume sets to the next
  ``Suspended`` state, both timestamps written by the server.

Each resume is then taken apart from what Prefect records: the run's states (``Resuming`` → ``Pending``: the
worker's poll; ``Pending`` → ``Running``: the worker submitting it, a new Python process starting, importing the
flow's module; ``Running`` → ``Suspended``: the flow body), the task runs inside the body, and the server's
access log between two marker requests (API calls by endpoint).

``--quick`` (CI): one review, 3 answers, one bare run; exits 1 if a check fails (every answer recorded once and the
review on the expected step, the bare run on the expected key, each ``lcspr decide`` exit 0, the audit trail
intact). docs/performance.md ("Decision latency") records a full run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BASE_AWARE,
    Neighbours,
    api,
    finish,
    flow_processes,
    machine,
    machine_line,
    median,
    parse_time,
    percentile,
    referral_json,
    running_system,
    shifted,
    states,
    wait_for_quiet_machine,
    wait_no_flow_process,
    week_offset,
)
from tests.e2e.conftest import System
from tests.flows.answers import FULL_LCSPR

POLL = 0.1
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KEYED = re.compile(r"(/input/suspended-)[^/]+?(-response|-schema|-description)$")
ACCESS = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1" (\d+)')
# Calls of the worker's own loop and of this benchmark, not of a decision.
NOT_THE_DECISION = ("bench=", "get_scheduled_flow_runs", "/workers/heartbeat", "/api/health")


@dataclass
class Trial:
    arm: str  # "review" or "bare"
    pair: int
    run: str
    key: str
    next_key: str | None
    started: float  # time.time() when lcspr decide started / resume was called
    seen: float = 0.0  # time.time() when the poll saw the next Suspended (or Completed)
    cli_exit: float | None = None
    cli_code: int | None = None
    cli_output: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def end_to_end(self) -> float:
        return self.seen - self.started

    @property
    def resume_to_suspended(self) -> float:
        return self.phases.get("resume_to_suspended", float("nan"))


# ---------------------------------------------------------------- the two arms


def mark(system: System, label: str) -> None:
    api(system, f"/health?bench={label}")


def wait_next(system: System, run_id: str, next_key: str | None, timeout: float = 300) -> dict[str, Any]:
    """Poll until the run waits on ``next_key`` (or has completed, when None); its state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = (api(system, f"/flow_runs/{run_id}?bench=poll").get("state")) or {}
        if next_key is None and state.get("type") == "COMPLETED":
            return state
        if state.get("type") == "PAUSED" and (state.get("state_details") or {}).get("pause_key", "").split(
                "-wait-")[0] == next_key:
            return state
        if state.get("type") in ("FAILED", "CRASHED", "CANCELLED") or (
                next_key is not None and state.get("type") == "COMPLETED"):
            raise RuntimeError(f"run {run_id} is {state.get('type')} {state.get('name')}: {state.get('message')}")
        time.sleep(POLL)
    raise RuntimeError(f"run {run_id} not waiting on {next_key} after {timeout:.0f} s")


def review_trial(system: System, trial: Trial, answer_file: Path, reference: str) -> None:
    from bench.common import lcspr_popen

    mark(system, f"start-{trial.arm}-{trial.pair}")
    trial.started = time.time()
    process = lcspr_popen(system, "decide", reference, trial.key, "--input", str(answer_file), "--wait", "600")

    def collect() -> None:
        out, err = process.communicate()
        trial.cli_exit = time.time()
        trial.cli_code = process.returncode
        trial.cli_output = (out + err).strip()

    waiter = threading.Thread(target=collect)
    waiter.start()
    try:
        wait_next(system, trial.run, trial.next_key)
        trial.seen = time.time()
    finally:
        waiter.join(timeout=600)
        mark(system, f"end-{trial.arm}-{trial.pair}")
    if trial.cli_code != 0:
        trial.problems.append(f"lcspr decide exited {trial.cli_code}: {trial.cli_output[-300:]}")
    expected = f"Next step: {trial.next_key}" if trial.next_key else "is closed"
    if expected not in trial.cli_output:
        trial.problems.append(f"lcspr decide did not say {expected!r}: {trial.cli_output[-300:]}")


def bare_trial(system: System, trial: Trial, runs: Any) -> None:
    mark(system, f"start-{trial.arm}-{trial.pair}")
    trial.started = time.time()
    runs.resume(trial.run, trial.key, {"decided_by": "A. Jones, Partnership Manager",
                                       "decided_on": date.today().isoformat()})
    try:
        wait_next(system, trial.run, trial.next_key)
        trial.seen = time.time()
    finally:
        mark(system, f"end-{trial.arm}-{trial.pair}")


# ---------------------------------------------------------------- taking a resume apart


def analyse(system: System, trial: Trial, log_text: str) -> None:
    history = [s for s in states(system, trial.run) if parse_time(s["timestamp"]).timestamp() >= trial.started - 1]
    resumed = next((s for s in history if s["type"] == "SCHEDULED"), None)
    if resumed is None:
        trial.problems.append("no Resuming state after the trial started")
        return
    t_resume = parse_time(resumed["timestamp"]).timestamp()
    after = [s for s in history if parse_time(s["timestamp"]).timestamp() >= t_resume]
    first = {}
    for s in after:
        first.setdefault(s["name"] if s["type"] != "PAUSED" else "Suspended", parse_time(s["timestamp"]).timestamp())
    end = first.get("Suspended") or first.get("Completed")
    pending, running = first.get("Pending"), first.get("Running")
    if end is None or pending is None or running is None:
        trial.problems.append(f"states incomplete: {[s['name'] for s in after]}")
        return
    trial.phases = {
        "before_resume": t_resume - trial.started,  # CLI start + checks (review) / the resume call (bare)
        "resume_to_pending": pending - t_resume,  # the worker's next poll
        "pending_to_running": running - pending,  # submit, new process, imports, flow loaded
        "running_to_suspended": end - running,  # the flow body
        "resume_to_suspended": end - t_resume,
        "poll_lag": trial.seen - end,
    }
    if trial.arm == "review":
        tasks = api(system, "/task_runs/filter", {
            "flow_runs": {"id": {"any_": [trial.run]}},
            "task_runs": {"start_time": {"after_": resumed["timestamp"]}},
            "sort": "EXPECTED_START_TIME_ASC", "limit": 200})
        trial.tasks = [{"name": t["name"], "task": t["task_key"].rsplit("-", 1)[0], "state": t["state"]["name"],
                        "seconds": t["total_run_time"],
                        "wall": (parse_time(t["end_time"]) - parse_time(t["start_time"])).total_seconds()
                        if t.get("end_time") and t.get("start_time") else 0.0}
                       for t in tasks if t.get("start_time") and parse_time(t["start_time"]).timestamp() <= end]
        # The body taken apart: before the first task (the flow connecting to the register, Prefect's flow
        # engine starting), inside tasks, between them (the suspends handing back stored answers, and
        # Prefect creating each task run), after the last (the suspend itself: its state, its form).
        spans = sorted((parse_time(t["start_time"]).timestamp(), parse_time(t["end_time"]).timestamp())
                       for t in tasks if t.get("start_time") and t.get("end_time")
                       and parse_time(t["start_time"]).timestamp() <= end)
        if spans:
            inside = sum(b - a for a, b in spans)
            trial.phases.update({
                "body_before_first_task": spans[0][0] - running,
                "body_in_tasks": inside,
                "body_between_tasks": (spans[-1][1] - spans[0][0]) - inside,
                "body_after_last_task": end - spans[-1][1],
            })
        first_seen: dict[str, float] = {}
        for t in trial.tasks:
            key = f"{t['task']} #{'2+' if t['task'] in first_seen else '1'}"
            first_seen[t["task"]] = first_seen.get(t["task"], 0) + 1
            trial.phases[f"task {key}"] = trial.phases.get(f"task {key}", 0.0) + t["wall"]
    trial.calls = count_calls(log_text, f"start-{trial.arm}-{trial.pair}", f"end-{trial.arm}-{trial.pair}")


def count_calls(log_text: str, start: str, end: str) -> dict[str, int]:
    """API calls by endpoint between the two marker requests in the server's access log."""
    begin = log_text.find(f"bench={start} ")
    stop = log_text.find(f"bench={end} ", begin)
    if begin < 0 or stop < 0:
        return {}
    counts: Counter[str] = Counter()
    for match in ACCESS.finditer(log_text, begin, stop):
        method, path, _ = match.groups()
        if any(n in path for n in NOT_THE_DECISION):
            continue
        endpoint = KEYED.sub(r"\1{key}\2", UUID.sub("{id}", path.split("?")[0]))
        counts[f"{method} {endpoint}"] += 1
    return dict(counts)


def costs(system: System, run_id: str, repeats: int = 5) -> dict[str, float]:
    """What the decision path pays again and again, each measured on its own (medians)."""
    import subprocess

    from prefect.client.orchestration import get_client

    from bench.common import PYTHON, lcspr_timed

    out: dict[str, float] = {}
    out["lcspr --help (process start + imports)"] = median([lcspr_timed(system, "--help")[0] for _ in range(repeats)])

    def fresh_import(module: str) -> float:
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", f"import {module}"], cwd=system.home, check=True,
                       env={**system.env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        return time.perf_counter() - started

    for module in ("prefect", "bench.bare_suspend", "lcspr.entrypoints"):
        out[f"python -c 'import {module}'"] = median([fresh_import(module) for _ in range(repeats)])
    opened = []
    for _ in range(4 * repeats):
        started = time.perf_counter()
        with get_client(sync_client=True) as client:
            client.read_flow_run(run_id)
        opened.append(time.perf_counter() - started)
    out["a new Prefect client + one read_flow_run"] = median(opened)
    with get_client(sync_client=True) as client:
        client.read_flow_run(run_id)
        reused = []
        for _ in range(4 * repeats):
            started = time.perf_counter()
            client.read_flow_run(run_id)
            reused.append(time.perf_counter() - started)
    out["read_flow_run on an open client"] = median(reused)
    return out


# ---------------------------------------------------------------- the run


def refer(system: System, agency_reference: str, offset: int) -> tuple[str, str]:
    path = system.home / f"referral-{agency_reference}.json"
    path.write_text(json.dumps(referral_json(agency_reference, BASE_AWARE + timedelta(days=offset))))
    result = system.lcspr("refer", str(path))
    if result.returncode != 0:
        raise RuntimeError(f"lcspr refer: {result.stdout} {result.stderr}")
    reference = re.search(r"^(LCSPR-\d{4}-\d{4})$", result.stdout, re.MULTILINE)
    run = re.search(r"/v2/runs/flow-run/([0-9a-f-]{36})", result.stdout)
    assert reference and run, result.stdout
    return reference[1], run[1]


def summarise(trials: list[Trial]) -> dict[str, Any]:
    review = [t for t in trials if t.arm == "review"]
    bare = {t.pair: t for t in trials if t.arm == "bare"}
    pairs = [(r, bare[r.pair]) for r in review if r.pair in bare]

    def spread(values: list[float]) -> dict[str, float]:
        return {"p50": median(values), "p95": percentile(values, 95), "min": min(values), "max": max(values)}

    out: dict[str, Any] = {"pairs": len(pairs)}
    for span in ("end_to_end", "resume_to_suspended"):
        r = [getattr(a, span) for a, _ in pairs]
        b = [getattr(c, span) for _, c in pairs]
        ratios = [x / y for x, y in zip(r, b, strict=True)]
        out[span] = {"review": spread(r), "bare": spread(b), "ratio_median": median(ratios),
                     "ratio_of_medians": median(r) / median(b)}
    cli = [t.cli_exit - t.started for t in review if t.cli_exit]
    out["cli_exit"] = spread(cli) if cli else {}
    phases = {}
    for name in ("before_resume", "resume_to_pending", "pending_to_running", "running_to_suspended", "poll_lag"):
        phases[name] = {"review": median([a.phases[name] for a, _ in pairs if name in a.phases]),
                        "bare": median([c.phases[name] for _, c in pairs if name in c.phases])}
    for name in ("body_before_first_task", "body_in_tasks", "body_between_tasks", "body_after_last_task"):
        values = [a.phases[name] for a, _ in pairs if name in a.phases]
        phases[name] = {"review": median(values) if values else float("nan"), "bare": float("nan")}
    out["phases"] = phases
    # Each task's first call in a resume against its later ones (a new process warms up on its first call).
    repeat: dict[str, list[float]] = {}
    for a, _ in pairs:
        for name, value in a.phases.items():
            if name.startswith("task "):
                repeat.setdefault(name.removeprefix("task "), []).append(value)
    out["task_first_and_later"] = {k: median(v) for k, v in sorted(repeat.items())}
    # Task runs per resume (review): by task, median count and median seconds per resume.
    per_task: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    states_count: Counter[str] = Counter()
    for t in review:
        seen: dict[str, float] = {}
        n: Counter[str] = Counter()
        for task in t.tasks:
            seen[task["task"]] = seen.get(task["task"], 0.0) + task["wall"]
            n[task["task"]] += 1
            states_count[task["state"]] += 1
        for name in set(seen) | set(per_task):
            per_task.setdefault(name, []).append(seen.get(name, 0.0))
            counts.setdefault(name, []).append(n.get(name, 0))
    out["tasks"] = {name: {"runs_median": median(counts[name]), "seconds_median": median(v),
                           "seconds_mean": sum(v) / len(v)}
                    for name, v in sorted(per_task.items(), key=lambda kv: -sum(kv[1]))}
    out["task_runs_per_resume"] = median([len(t.tasks) for t in review]) if review else 0
    out["task_seconds_per_resume"] = median([sum(x["wall"] for x in t.tasks) for t in review]) if review else 0
    out["task_states"] = dict(states_count)
    calls: dict[str, dict[str, float]] = {}
    for arm, group in (("review", [a for a, _ in pairs]), ("bare", [c for _, c in pairs])):
        totals = [sum(t.calls.values()) for t in group if t.calls]
        out[f"calls_{arm}"] = median(totals) if totals else float("nan")
        endpoints: Counter[str] = Counter()
        for t in group:
            endpoints.update(t.calls)
        calls[arm] = {k: v / max(len(group), 1) for k, v in endpoints.most_common()}
    out["calls_by_endpoint"] = calls
    return out


def report(info: dict[str, str], summary: dict[str, Any], args: argparse.Namespace, quiet: str, seconds: float) -> str:
    e, r = summary["end_to_end"], summary["resume_to_suspended"]
    lines = [
        f"Decision latency: {summary['pairs']} paired trials, Prefect's server on {args.prefect_db}, register on "
        f"{args.register_db}; {machine_line(info)}; {quiet}; {seconds / 60:.1f} min.",
        "",
        "| span | review p50 | review p95 | bare p50 | bare p95 | median of paired ratios | ratio of medians |",
        "|---|---|---|---|---|---|---|",
        f"| end to end (review: `lcspr decide` started → next step Suspended; bare: resume called → Suspended) | "
        f"{e['review']['p50']:.2f} s | {e['review']['p95']:.2f} s | {e['bare']['p50']:.2f} s | "
        f"{e['bare']['p95']:.2f} s | "
        f"{e['ratio_median']:.2f}× | {e['ratio_of_medians']:.2f}× |",
        f"| resume → Suspended (server's timestamps, both arms) | {r['review']['p50']:.2f} s | "
        f"{r['review']['p95']:.2f} s | {r['bare']['p50']:.2f} s | {r['bare']['p95']:.2f} s | "
        f"{r['ratio_median']:.2f}× | {r['ratio_of_medians']:.2f}× |",
        "",
    ]
    if summary["cli_exit"]:
        c = summary["cli_exit"]
        lines += [f"`lcspr decide --wait` itself exited after p50 {c['p50']:.2f} s, p95 {c['p95']:.2f} s "
                  "(it returns once the register holds the answer, polling every second).", ""]
    lines += ["| phase (median per resume) | review | bare | review − bare |", "|---|---|---|---|"]
    names = {"before_resume": "before the resume (review: CLI start, imports, checks; bare: the resume call)",
             "resume_to_pending": "Resuming → Pending (the worker's next poll, every 2 s)",
             "pending_to_running": "Pending → Running (submit, new process, imports, flow loaded)",
             "running_to_suspended": "Running → Suspended (the flow body)",
             "poll_lag": "Suspended → seen by the 0.1 s poll"}
    for key, label in names.items():
        p = summary["phases"][key]
        lines.append(f"| {label} | {p['review']:.2f} s | {p['bare']:.2f} s | {p['review'] - p['bare']:+.2f} s |")
    body = {"body_before_first_task": "Running → first task (connect to the register, flow engine set up)",
            "body_in_tasks": "inside task runs",
            "body_between_tasks": "between task runs (task run creation, earlier suspends returning their answer)",
            "body_after_last_task": "last task → Suspended (the suspend: state, form saved)"}
    lines += ["", "| the review's flow body (median per resume) | seconds |", "|---|---|"]
    lines += [f"| {label} | {summary['phases'][key]['review']:.2f} |" for key, label in body.items()]
    lines += ["", "| task: its first run in a resume (#1), its later runs (#2+), median seconds per resume | s |",
              "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in summary["task_first_and_later"].items()]
    lines += ["", f"Review body: median {summary['task_runs_per_resume']:.0f} task runs per resume, "
                  f"{summary['task_seconds_per_resume']:.2f} s inside them; task run states {summary['task_states']}.",
              "", "| task | runs per resume (median) | seconds per resume (median) | (mean) |", "|---|---|---|---|"]
    for name, t in summary["tasks"].items():
        lines.append(f"| {name} | {t['runs_median']:.0f} | {t['seconds_median']:.3f} | {t['seconds_mean']:.3f} |")
    lines += ["", f"API calls per decision (median; server access log between markers, worker polls excluded): "
                  f"review {summary['calls_review']:.0f}, bare {summary['calls_bare']:.0f}.", "",
              "| endpoint | review, calls per decision | bare |", "|---|---|---|"]
    review_calls, bare_calls = summary["calls_by_endpoint"]["review"], summary["calls_by_endpoint"]["bare"]
    for endpoint, n in list(review_calls.items())[:25]:
        lines.append(f"| `{endpoint}` | {n:.1f} | {bare_calls.get(endpoint, 0):.1f} |")
    lines += ["", "| measured on its own (median) | seconds |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in summary.get("costs", {}).items()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=2, help="reviews walked (and bare runs), paired")
    parser.add_argument("--steps", type=int, default=len(FULL_LCSPR), help="answers per review (22: the full route)")
    parser.add_argument("--prefect-db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--register-db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--wait-quiet", type=float, default=30, help="minutes to wait for other runs to finish")
    parser.add_argument("--json", type=Path, help="write every trial here")
    parser.add_argument("--quick", action="store_true", help="CI: 1 review, 3 answers")
    args = parser.parse_args()
    if args.quick:
        args.reviews, args.steps, args.wait_quiet = 1, 3, 0
    args.steps = min(args.steps, len(FULL_LCSPR))
    quiet = wait_for_quiet_machine(args.wait_quiet) if args.wait_quiet else "quick run, machine not checked"
    info = machine()
    neighbours = Neighbours().__enter__()
    started = time.monotonic()
    today = date.today()
    offset = week_offset(today)
    trials: list[Trial] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lcspr-bench-latency-") as tmp:
        home = Path(tmp)
        with running_system(home, prefect_db=args.prefect_db, register_db=args.register_db,
                            extra_env={"PREFECT_SERVER_LOGGING_LEVEL": "INFO"}) as system:
            print(f"System up ({time.monotonic() - started:.0f} s): {system.api_url}", flush=True)
            # This process talks to Prefect as `lcspr decide` does, through the same adapter.
            os.environ["PREFECT_API_URL"] = system.api_url
            os.environ["PREFECT_HOME"] = str(home / "bench-prefect")
            from adapters.prefect_api import api_runs
            from bench import bare_suspend

            deployment_id = bare_suspend.deploy()
            reviews = [refer(system, f"POL-BENCH-LAT-{r + 1}", offset) for r in range(args.reviews)]
            closes = args.steps == len(FULL_LCSPR)
            bare_runs = [api(system, f"/deployments/{deployment_id}/create_flow_run",
                             {"parameters": {"steps": args.steps if closes else args.steps + 1},
                              "name": f"bare-{r + 1}"})["id"] for r in range(args.reviews)]
            for (_, run) in reviews:
                wait_next(system, run, "notification-1", timeout=300)
            for run in bare_runs:
                wait_next(system, run, bare_suspend.step_key(1), timeout=300)
            print(f"{args.reviews} review(s) and bare run(s) waiting on their first step "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
            with api_runs(f"{bare_suspend.NAME}/{bare_suspend.NAME}", str, os.environ) as runs:
                pair = 0
                for k in range(args.steps):
                    key, answer = FULL_LCSPR[k]
                    next_key = FULL_LCSPR[k + 1][0] if k + 1 < len(FULL_LCSPR) else None
                    bare_next = bare_suspend.step_key(k + 2) if (k + 1 < args.steps or not closes) else None
                    for (reference, run), bare_run in zip(reviews, bare_runs, strict=True):
                        pair += 1
                        answer_file = home / f"{reference}-{key}.json"
                        answer_file.write_text(json.dumps(shifted(answer, offset)))
                        review = Trial("review", pair, run, key, next_key, 0.0)
                        bare = Trial("bare", pair, bare_run, bare_suspend.step_key(k + 1), bare_next, 0.0)
                        order = [review, bare] if k % 2 == 0 else [bare, review]
                        for trial in order:
                            if not wait_no_flow_process(system, 60):
                                trial.problems.append(f"flow processes still running before: {flow_processes(system)}")
                            time.sleep(0.5)
                            if trial.arm == "review":
                                review_trial(system, trial, answer_file, reference)
                            else:
                                bare_trial(system, trial, runs)
                            trials.append(trial)
                        print(f"  {key:<22} review {review.end_to_end:5.2f} s   bare {bare.end_to_end:5.2f} s",
                              flush=True)
            wait_no_flow_process(system, 60)
            time.sleep(1)
            measured_costs = costs(system, reviews[0][1], repeats=3 if args.quick else 5)
            log_text = (home / "logs" / "server.log").read_text(errors="replace")
            for trial in trials:
                analyse(system, trial, log_text)
            # Checks: each answer recorded once, the review where the answers lead, its audit trail intact.
            for reference, _ in reviews:
                audit = system.lcspr("audit", reference, "--verify")
                if audit.returncode != 0:
                    problems.append(f"{reference}: audit --verify exited {audit.returncode}: {audit.stderr[-300:]}")
                recorded = Counter(re.findall(r'decision_recorded\s+\{.*"key": "([^"]+)"', audit.stdout))
                wanted = Counter(key for key, _ in FULL_LCSPR[:args.steps])
                if recorded != wanted:
                    problems.append(f"{reference}: decisions recorded {dict(recorded)}, wanted each of "
                                    f"{sorted(wanted)} once")
                status = json.loads(system.lcspr("status", reference, "--json").stdout)
                expected = FULL_LCSPR[args.steps][0] if args.steps < len(FULL_LCSPR) else None
                if (status.get("open_step") or {}).get("key") != expected:
                    problems.append(f"{reference}: open step {status.get('open_step')}, wanted {expected}")
    problems += [f"{t.arm} {t.pair} {t.key}: {p}" for t in trials for p in t.problems]
    neighbours.__exit__()
    quiet = f"{quiet}; {neighbours.line()}"
    summary = summarise(trials)
    summary["costs"] = measured_costs
    text = report(info, summary, args, quiet, time.monotonic() - started)
    print("\n" + text)
    return finish(args.json, {"machine": info, "summary": summary, "trials": [asdict(t) for t in trials]}, problems)


if __name__ == "__main__":
    sys.exit(main())
