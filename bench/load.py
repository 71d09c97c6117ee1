"""Load: many decisions at once across many reviews, several workers, Prefect and the register on PostgreSQL.

    .venv/bin/python bench/load.py [--reviews 50] [--workers 3] [--prefect-db postgresql] [--register-db postgresql]
                                   [--json FILE] [--quick]

The system is started as the end-to-end tests start it (``./run --workers N`` in a temporary home on free ports),
Prefect's server and the register each on a fresh PostgreSQL database of their own. Then, as people would:

1. ``lcspr refer`` one referral per review (the first alone, then 4 at a time), and wait until every review's
   run waits on its first step (``notification-1``: suspended, and the register's open step);
2. once no flow-run process is left, start ``lcspr decide REFERENCE notification --input FILE --wait 900``
   for every review at the same moment (one process each) and poll Prefect (one ``/flow_runs/filter`` over
   all the runs, every 0.5 s) until every run waits on ``rapid-review-1``.

Reported: the time from the start of the decisions until every run waits on its next step, per decision
(its ``lcspr decide`` started → its run suspended on the next step, and → its ``lcspr decide`` exited) p50 and
p95, how the resumes spread over the workers (their logs), and the checks:

* **none lost**: every ``lcspr decide`` exited 0 saying "Next step: rapid-review-1"; every review's open step
  is ``rapid-review-1`` and its run waits on it (``lcspr status --json``); no run Failed or Crashed;
* **none recorded twice**: the audit trail (``lcspr audit REFERENCE --verify``, intact) holds exactly one
  ``decision_recorded`` for ``notification-1``; each message of the review is in the outbox once;
* **no unhandled 503**: no ``Traceback``, ``database is locked`` or ``503`` in the system's logs
  (``logs/*.log``, ``up.out``); each run's states show one claim by one worker per start or resume.

``--quick`` (CI): 8 reviews, 2 workers, PostgreSQL when it answers (SQLite otherwise); exits 1 if a check
fails. docs/performance.md ("Load") records a full run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Neighbours,
    api,
    finish,
    lcspr_popen,
    logs_with_trouble,
    machine,
    machine_line,
    median,
    parse_time,
    percentile,
    postgres_problem,
    referral_json,
    running_system,
    states,
    wait_for_quiet_machine,
    wait_no_flow_process,
)
from tests.e2e.conftest import System

FIRST, NEXT = "notification-1", "rapid-review-1"


def refer_all(system: System, count: int, at_once: int = 4) -> dict[str, str]:
    """``lcspr refer`` for ``count`` referrals (``at_once`` in parallel); reference → flow run id."""
    today = date.today()

    def refer(n: int) -> tuple[str, str]:
        path = system.home / f"referral-{n}.json"
        path.write_text(json.dumps(referral_json(f"POL-LOAD-{n:04d}", today)))
        result = system.lcspr("refer", str(path))
        reference = re.search(r"^(LCSPR-\d{4}-\d{4})$", result.stdout, re.MULTILINE)
        run = re.search(r"/v2/runs/flow-run/([0-9a-f-]{36})", result.stdout)
        if result.returncode != 0 or not reference or not run:
            raise RuntimeError(f"lcspr refer {n}: exit {result.returncode}: {result.stdout} {result.stderr}")
        return reference[1], run[1]

    # The first alone: on an empty register, referrals made at the same moment as the year's first one race to
    # create the year's reference counter, and all but one fail (see docs/performance.md, "Load").
    first = dict([refer(1)])
    with concurrent.futures.ThreadPoolExecutor(at_once) as pool:
        return {**first, **dict(pool.map(refer, range(2, count + 1)))}


def waiting_on(system: System, runs: dict[str, str], key: str) -> dict[str, float]:
    """Run id → the time (time.time()) of its latest state, for the runs now suspended on ``key``."""
    found = api(system, "/flow_runs/filter", {"flow_runs": {"id": {"any_": list(runs.values())}}, "limit": 200})
    out = {}
    for run in found:
        state = run.get("state") or {}
        if state.get("type") == "PAUSED" and (state.get("state_details") or {}).get("pause_key") == key:
            out[run["id"]] = parse_time(state["timestamp"]).timestamp()  # the server's time of the suspend
        elif state.get("type") in ("FAILED", "CRASHED"):
            raise RuntimeError(f"run {run['name']} is {state.get('name')}: {state.get('message')}")
    return out


def wait_all(system: System, runs: dict[str, str], key: str, timeout: float, every: float = 0.5) -> dict[str, float]:
    """Poll until every run waits on ``key``; run id → when it was first seen so."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(runs):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(runs) - len(seen)} runs not waiting on {key} after {timeout:.0f} s")
        for run, at in waiting_on(system, runs, key).items():
            seen.setdefault(run, at)
        time.sleep(every)
    return seen


def decide_all(system: System, runs: dict[str, str]) -> tuple[float, dict[str, dict[str, Any]]]:
    """``lcspr decide`` for every review at once; the start time and, per reference, its outcome."""
    today = date.today().isoformat()
    files = {}
    for reference in runs:
        path = system.home / f"{reference}-notification.json"
        path.write_text(json.dumps({"decided_by": "A. Jones, Partnership Manager", "decided_on": today,
                                    "outcome": "notified", "panel_reference": "NP-2026-118"}))
        files[reference] = path
    started = time.time()
    processes = {reference: (lcspr_popen(system, "decide", reference, "notification", "--input", str(path),
                                         "--wait", "900"), time.time()) for reference, path in files.items()}
    outcome: dict[str, dict[str, Any]] = {}

    def collect(reference: str) -> None:
        process, began = processes[reference]
        out, err = process.communicate(timeout=1200)
        outcome[reference] = {"began": began, "exited": time.time(), "code": process.returncode,
                              "output": (out + err).strip()}

    pool = concurrent.futures.ThreadPoolExecutor(len(processes))
    futures = [pool.submit(collect, reference) for reference in processes]
    suspended = wait_all(system, runs, NEXT, timeout=1500)
    concurrent.futures.wait(futures)
    pool.shutdown()
    for reference, run in runs.items():
        outcome[reference]["suspended"] = suspended[run]
    return started, outcome


def worker_logs(home: Path) -> dict[str, str]:
    return {p.stem: p.read_text(errors="replace") for p in sorted((home / "logs").glob("worker*.log"))}


def submissions(home: Path) -> Counter[tuple[str, str]]:
    text = "".join(worker_logs(home).values())
    return Counter(re.findall(r"Worker '([^']+)' submitting flow run '([0-9a-f-]{36})'", text))


def aborted(home: Path) -> Counter[str]:
    """Per worker log, the submissions the server refused (another worker had claimed the run)."""
    return Counter({name: len(re.findall(r"Aborted submission of flow run", text))
                    for name, text in worker_logs(home).items()})


def phases(system: System, runs: dict[str, str], outcome: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
    """Per decision, its run's way from the resume to the next wait, from the server's state timestamps."""
    out: dict[str, list[float]] = {"lcspr decide started → Resuming": [],
                                   "Resuming → Pending (a worker claims it)": [],
                                   "Pending → Running (new process, imports)": [],
                                   "Running → Suspended (flow body)": []}
    for reference, run in runs.items():
        began = outcome[reference]["began"]
        history = [(s["name"], parse_time(s["timestamp"]).timestamp()) for s in states(system, run)]
        after = [(name, at) for name, at in history if at >= began - 1]
        first: dict[str, float] = {}
        for name, at in after:
            first.setdefault(name, at)
        if not all(k in first for k in ("Resuming", "Pending", "Running", "Suspended")):
            continue
        out["lcspr decide started → Resuming"].append(first["Resuming"] - began)
        out["Resuming → Pending (a worker claims it)"].append(first["Pending"] - first["Resuming"])
        out["Pending → Running (new process, imports)"].append(first["Running"] - first["Pending"])
        out["Running → Suspended (flow body)"].append(first["Suspended"] - first["Running"])
    return out


def check(system: System, runs: dict[str, str], outcome: dict[str, dict[str, Any]],
          problems: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {"claims": Counter(), "running_twice": 0}
    for reference, result in outcome.items():
        if result["code"] != 0 or f"Next step: {NEXT}" not in result["output"]:
            problems.append(f"{reference}: lcspr decide exit {result['code']}: {result['output'][-300:]}")
    mails = Counter((m["To"], m["Subject"]) for m in system.mails())

    def ask(reference: str) -> tuple[str, Any, Any]:
        return reference, system.lcspr("status", reference, "--json"), system.lcspr("audit", reference, "--verify")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = {reference: (status, audit) for reference, status, audit in pool.map(ask, runs)}
    for reference, run in runs.items():
        shown, audit = answers[reference]
        status = json.loads(shown.stdout or "{}")
        if (status.get("open_step") or {}).get("key") != NEXT or (status.get("run") or {}).get("health") != "waiting":
            problems.append(f"{reference}: open step {(status.get('open_step') or {}).get('key')}, run "
                            f"{status.get('run')}")
        if audit.returncode != 0:
            problems.append(f"{reference}: audit --verify exit {audit.returncode}: {audit.stderr[-200:]}")
        recorded = Counter(re.findall(r'decision_recorded\s+\{.*"key": "([^"]+)"', audit.stdout))
        if recorded != Counter({FIRST: 1}):
            problems.append(f"{reference}: decisions recorded {dict(recorded)}")
        doubled = {k: n for k, n in mails.items() if f"[{reference}]" in k[1] and n > 1}
        if doubled:
            problems.append(f"{reference}: messages sent more than once: {doubled}")
        history = [f"{s['type']}:{s['name']}" for s in states(system, run)]
        steps = [s for s in history if s in ("PENDING:Pending", "RUNNING:Running")]
        if any(a == b for a, b in itertools.pairwise(steps)) or steps.count("PENDING:Pending") != 2 or \
                steps.count("RUNNING:Running") != 2:
            problems.append(f"{reference}: states {history}")
        found["claims"][steps.count("PENDING:Pending")] += 1
    trouble = logs_with_trouble(system.home)
    if trouble:
        problems.append(f"{len(trouble)} log lines of trouble, first: {trouble[:5]}")
    found["trouble"] = trouble
    found["mails"] = sum(mails.values())
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=50)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--prefect-db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--register-db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--wait-quiet", type=float, default=30, help="minutes to wait for other runs to finish")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="CI: 8 reviews, 2 workers")
    args = parser.parse_args()
    problem = postgres_problem()
    if args.quick:
        args.reviews, args.workers, args.wait_quiet = 8, 2, 0
        if problem:
            print(f"load: {problem}: quick run on SQLite", flush=True)
            args.prefect_db = args.register_db = "sqlite"
    elif problem and "postgresql" in (args.prefect_db, args.register_db):
        print(f"load: {problem}", file=sys.stderr)
        return 1
    quiet = wait_for_quiet_machine(args.wait_quiet) if args.wait_quiet else "quick run, machine not checked"
    info = machine()
    neighbours = Neighbours().__enter__()
    problems: list[str] = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lcspr-bench-load-") as tmp:
        home = Path(tmp)
        with running_system(home, prefect_db=args.prefect_db, register_db=args.register_db,
                            args=["--workers", str(args.workers)]) as system:
            print(f"System up with {args.workers} workers ({time.monotonic() - began:.0f} s): {system.api_url}",
                  flush=True)
            t = time.time()
            runs = refer_all(system, args.reviews)
            referred = time.time() - t
            wait_all(system, runs, FIRST, timeout=1500)
            first_waiting = time.time() - t
            print(f"{len(runs)} referred in {referred:.0f} s, all waiting on {FIRST} after {first_waiting:.0f} s",
                  flush=True)
            wait_no_flow_process(system, 300)
            time.sleep(5)
            before = submissions(home)
            started, outcome = decide_all(system, runs)
            done = max(o["suspended"] for o in outcome.values()) - started
            exited = max(o["exited"] for o in outcome.values()) - started
            print(f"All {len(runs)} decisions done (every run waiting on {NEXT}) {done:.1f} s after they started",
                  flush=True)
            wait_no_flow_process(system, 300)
            time.sleep(3)
            resumes = submissions(home) - before
            per_worker: Counter[str] = Counter()
            for (worker, _), n in resumes.items():
                per_worker[worker] += n
            refused = aborted(home)
            found = check(system, runs, outcome, problems)
            found["phases"] = phases(system, runs, outcome)
    neighbours.__exit__()
    quiet = f"{quiet}; {neighbours.line()}"
    to_next = [o["suspended"] - o["began"] for o in outcome.values()]
    to_exit = [o["exited"] - o["began"] for o in outcome.values()]
    lines = [
        f"Load: {args.reviews} decisions at once across {args.reviews} reviews, {args.workers} workers, Prefect's "
        f"server on {args.prefect_db}, register on {args.register_db}; {machine_line(info)}; {quiet}.",
        "",
        f"Referring {args.reviews} reviews (`lcspr refer`, 4 at a time) took {referred:.0f} s; all waited on "
        f"{FIRST} {first_waiting:.0f} s after the first referral.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| all {args.reviews} `lcspr decide` started → every run suspended on {NEXT} | {done:.1f} s |",
        f"| → every `lcspr decide --wait` exited | {exited:.1f} s |",
        f"| per decision, its `lcspr decide` started → its run suspended on {NEXT}: p50 / p95 / max | "
        f"{median(to_next):.1f} / {percentile(to_next, 95):.1f} / {max(to_next):.1f} s |",
        f"| per decision, → its `lcspr decide --wait` exited: p50 / p95 / max | "
        f"{median(to_exit):.1f} / {percentile(to_exit, 95):.1f} / {max(to_exit):.1f} s |",
        f"| resumes each worker set out to submit (worker logs; every run claimed by one, the server refusing the "
        f"others: {sum(refused.values())} refused over the whole run) | {dict(sorted(per_worker.items()))} |",
        f"| lost (not on {NEXT}, or decide failed) / recorded twice / log lines of trouble | "
        f"{sum(1 for p in problems if 'open step' in p or 'decide exit' in p)} / "
        f"{sum(1 for p in problems if 'decisions recorded' in p)} / {len(found['trouble'])} |",
        f"| messages in the outbox (each once) | {found['mails']} |",
    ]
    lines += ["", "| per decision (server's timestamps) | p50 | p95 | max |", "|---|---|---|---|"]
    for name, values in found["phases"].items():
        if values:
            lines.append(f"| {name} | {median(values):.1f} s | {percentile(values, 95):.1f} s | {max(values):.1f} s |")
    print("\n" + "\n".join(lines))
    return finish(args.json, {"machine": info, "outcome": outcome, "found": found, "per_worker": per_worker}, problems)


if __name__ == "__main__":
    sys.exit(main())
