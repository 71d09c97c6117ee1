"""10,000 reviews waiting at once on one Prefect server on PostgreSQL: what they hold, and how fast the
lists are.

    .venv/bin/python bench/waiting_reviews.py [--runs 10000] [--idle-seconds 60] [--no-baseline] [--json FILE]
                                              [--quick]

The system is started as the end-to-end tests start it (``./run`` in a temporary home on free ports), with
Prefect's server and the register each on a fresh PostgreSQL database of their own (the project machines'
127.0.0.1:5432, trust auth), one worker. Then:

1. **The register** is filled through its use cases and copied, as ``bench/sweep_planning.py`` does
   (``fill_templates``, ``copy_until``): the full LCSPR of ``tests/flows/answers.py`` started on each week
   from 10 weeks before its first date up to today, one in two a step short, every answer on or before
   today; then copied until exactly ``--runs`` reviews are open. The messages the fill queued are marked sent
   (a register that old has sent them).
2. **One Prefect run per open review**, created through Prefect's API directly in its suspended state: a
   run of the ``lcspr-review/lcspr-review`` deployment named by the reference, with the review's referral as
   its parameter and its tags (with the wait tag the run writes before it suspends), in the state
   ``suspend_flow_run`` leaves (``PAUSED``, named ``Suspended``,
   ``pause_key`` the open step's key, ``pause_reschedule`` true, no timeout, the run-input keyset), the key
   in the run's ``pause_keys``, and the Resume form (schema and description) stored as the flow saves it.
   The register then names each run as its review's, with the step it said it waits on (``run_waits_on``,
   which the run notes just before it suspends). No process ever ran these runs: a suspended run *is*
   rows in Prefect's database (no process, no worker slot), and a resume starts a new process that runs
   the flow from the top, which needs only the parameter, the register and the stored form. The run gets
   no task runs, logs, events or artifacts of the earlier steps (a real one has ~288 KB of them, mostly
   events Prefect deletes after 7 days): Prefect's database is smaller than a real one's. One run is then
   answered with ``lcspr decide --wait`` to show such a run resumes and moves on like any other.
   The reconcile deployment is paused while the register has reviews without runs (it would start them).
3. **Measured**, the machine otherwise quiet: processes below the worker (flow runs held), the Prefect
   server's resident memory (its process tree), its CPU while idle over ``--idle-seconds`` (and the
   worker's, and PostgreSQL's), with ``PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED=false`` as ``lcspr
   up`` sets it; the UI run list's first page (the V2 UI's ``POST /api/flow_runs/paginate``: page 1, 100 a
   page, ``START_TIME_DESC``, the default "Past week" filter on ``expected_start_time``) and the other calls
   that page makes; ``lcspr report portfolio``, ``lcspr list``, ``lcspr status REFERENCE`` and ``lcspr
   --help`` wall-clock, with the same queries timed inside one process to split the query from the start.
   The run list is measured twice: with every run created this week (each run's ``expected_start_time``
   as the server set it when it was created: all 10,000 inside the default filter, the worst case), and with
   each run's start moved back to its review's referral (one SQL ``UPDATE`` on Prefect's database; about
   one review in fifty then falls in the past week).
4. **Baseline** (not with ``--no-baseline`` or ``--quick``): the system stopped, the same server command
   and environment started alone on the same database twice, with the pause-expiration service on
   (Prefect's default) and off, idle CPU and memory measured the same way.

``--quick`` (CI): 200 runs, a 10 s idle window, no baseline; exits 1 if a check fails (every open review has
a run waiting on its open step as ``lcspr status`` sees it, the answered run moved on, no process held).
docs/performance.md ("Waiting reviews") records a full run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PYTHON,
    Neighbours,
    api,
    command_line,
    cpu_seconds,
    finish,
    flow_processes,
    lcspr_timed,
    machine,
    machine_line,
    median,
    parse_time,
    postgres_problem,
    rss_bytes,
    running_system,
    server_pid,
    timed_api,
    tree,
    wait_for_quiet_machine,
    wait_no_flow_process,
    worker_pids,
)
from tests.e2e.conftest import System, free_port, wait_for

REVIEW_DEPLOYMENT = "lcspr-review/lcspr-review"
PREFECT_IMPORT = "python -c 'import prefect.client.orchestration'"
V2_PAGE_LIMIT = 100  # the V2 UI's default page size (localStorage "workspace-flow-runs-list-limit")


# ---------------------------------------------------------------- the register


def fill_register(system: System, runs_wanted: int, quick: bool) -> dict[str, Any]:
    """Fill the register through the use cases, then copy it until ``runs_wanted`` reviews are open."""
    from sqlalchemy import select, text, update

    import bench.sweep_planning as sweep
    from adapters.register import database
    from adapters.register.mapping import OutboxMessage, ReviewRow
    from lcspr.bootstrap import bootstrap
    from lcspr.settings import Settings

    today = date.today()
    sweep.SWEEP_DAY = today  # the answers given up to today, none after
    last_week = (today - sweep.BASE_AWARE).days // 7
    weeks = range(-10, last_week + 1, 4 if quick else 1)
    url = system.register_database
    assert url
    clock = sweep.Clock(sweep.BASE_AWARE)
    settings = Settings(home=system.home, database_url=url, _env_file=None)
    app = bootstrap(settings, clock=clock, environ={})
    started = time.perf_counter()
    templates, refused = sweep.fill_templates(app, clock, weeks)
    fill_seconds = time.perf_counter() - started
    engine = database.engine_for(url)
    with engine.begin() as conn:
        rows = conn.execute(select(ReviewRow.id, ReviewRow.stage).order_by(ReviewRow.id)).all()
        conn.execute(update(OutboxMessage).where(OutboxMessage.status != "sent")
                     .values(status="sent", sent_at=datetime.now(UTC)))
    is_open = [r.stage != "closed" for r in rows]
    per_copy = sum(is_open)
    # copy_until copies the templates in id order, the last copy partly: the size with exactly runs_wanted open.
    copies, size = 0, len(rows)
    while per_copy * (copies + 2) <= runs_wanted:
        copies += 1
    need = runs_wanted - per_copy * (copies + 1)
    size = len(rows) * (copies + 1)
    if need > 0:
        taken = 0
        for r, opened in enumerate(is_open, 1):
            taken += opened
            if taken == need:
                size += r
                break
    started = time.perf_counter()
    total = sweep.copy_until(app, url, size) if size > len(rows) else len(rows)
    copy_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        open_reviews = conn.execute(text("SELECT count(*) FROM reviews WHERE stage != 'closed'")).scalar()
    return {"templates": templates, "refused": refused, "fill_seconds": fill_seconds, "reviews": total,
            "open": open_reviews, "copy_seconds": copy_seconds, "weeks": len(weeks)}


# ---------------------------------------------------------------- the runs


def create_runs(system: System, threads: int = 6) -> dict[str, Any]:
    """One suspended run per open review, as ``suspend_flow_run`` leaves it; the register names it."""
    from prefect._internal.pydantic.v2_schema import create_v2_schema
    from prefect.input.run_input import keyset_from_base_key
    from sqlalchemy import select, text

    from adapters.register import database
    from adapters.register.mapping import ReviewRow
    from flows.review import describe_step, form_for
    from lcspr.bootstrap import bootstrap
    from lcspr.settings import Settings
    from models.run_tags import review_tags, wait_tag
    from services import reviews

    url = system.register_database
    assert url
    app = bootstrap(Settings(home=system.home, database_url=url, _env_file=None), environ={})
    views = reviews.views(app)
    engine = database.engine_for(url)
    with engine.connect() as conn:
        rows = {r.reference: r for r in conn.execute(select(
            ReviewRow.reference, ReviewRow.referring_agency, ReviewRow.agency_reference, ReviewRow.referral,
            ReviewRow.created_at).where(ReviewRow.stage != "closed"))}
    deployment_id = api(system, f"/deployments/name/{REVIEW_DEPLOYMENT}")["id"]
    schemas: dict[type, Any] = {}
    today, calendar = app.clock.today(), app.config.policy.calendar

    def body(view: Any) -> tuple[dict[str, Any], dict[str, str]]:
        step = view.open_step
        row = rows[view.reference]
        referral = {**row.referral, "referring_agency": row.referring_agency, "agency_reference": row.agency_reference}
        keyset = keyset_from_base_key(f"suspended-{step.key}")
        form = form_for(view.reference, step)
        if step.input_model not in schemas:
            schemas[step.input_model] = create_v2_schema(form.__name__, model_base=form)
        inputs = {keyset["schema"]: json.dumps(schemas[step.input_model]),
                  keyset["description"]: json.dumps(describe_step(view.reference, step))}
        return {
            "name": view.reference,
            "parameters": {"referral": referral},
            "idempotency_key": view.reference,
            # The run writes its wait tag just before it suspends (flows/review.py).
            "tags": [*review_tags(view, today, calendar, app.config.amber_within_working_days), wait_tag(step.key)],
            "empirical_policy": {"pause_keys": [step.key]},
            "state": {"type": "PAUSED", "name": "Suspended", "message": "Created suspended by bench/waiting_reviews.py",
                      "state_details": {"pause_key": step.key, "pause_reschedule": True, "pause_timeout": None,
                                        "run_input_keyset": keyset}},
        }, inputs

    def create(view: Any) -> tuple[str, str]:
        payload, inputs = body(view)
        run = api(system, f"/deployments/{deployment_id}/create_flow_run", payload)
        for key, value in inputs.items():
            api(system, f"/flow_runs/{run['id']}/input", {"key": key, "value": value})
        return view.reference, run["id"]

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        created = dict(pool.map(create, views))
    seconds = time.perf_counter() - started
    steps = {view.reference: view.open_step.key for view in views}
    with engine.begin() as conn:
        # The register names each run, and what the run said it waits on before it suspended (retag_run).
        conn.execute(text("UPDATE reviews SET flow_run_id = :run, run_waits_on = :step WHERE reference = :reference"),
                     [{"run": run, "reference": reference, "step": steps[reference]}
                      for reference, run in created.items()])
    referred = {reference: rows[reference].created_at for reference in created}
    return {"runs": created, "seconds": seconds, "referred": referred}


def move_runs_to_referral(system: System, referred: dict[str, datetime], runs: dict[str, str]) -> int:
    """Each run's expected start and start moved to its review's referral (as if started then)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert system.prefect_database
    engine = create_engine(make_url(system.prefect_database).set(drivername="postgresql+psycopg"))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE flow_run SET expected_start_time = :at, start_time = :at + interval '8 seconds' "
                              "WHERE id = CAST(:id AS uuid)"),
                         [{"at": referred[reference], "id": run} for reference, run in runs.items()])
            conn.execute(text("ANALYZE flow_run"))
    finally:
        engine.dispose()
    week_ago = datetime.now(UTC) - timedelta(days=7)
    return sum(1 for at in referred.values() if at.astimezone(UTC) >= week_ago)


def set_paused(system: System, deployment: str, paused: bool) -> None:
    deployment_id = api(system, f"/deployments/name/{deployment}/{deployment}")["id"]
    api(system, f"/deployments/{deployment_id}", {"paused": paused}, "PATCH")
    if paused:
        scheduled = api(system, "/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}},
                                                      "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}})
        for run in scheduled:
            api(system, f"/flow_runs/{run['id']}", method="DELETE")


# ---------------------------------------------------------------- measurements


def database_names(system: System) -> list[str]:
    from sqlalchemy.engine import make_url

    return [str(make_url(url).database) for url in (system.prefect_database, system.register_database) if url]


def postgres_pids(databases: list[str]) -> list[int]:
    """The PostgreSQL backends serving these databases (their command line names the database)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            line = command_line(int(entry))
            if line.startswith("postgres") and any(f" {name} " in line for name in databases):
                found.append(int(entry))
    return found


def flow_run_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"PREFECT__FLOW_RUN_ID="):
            return item.split(b"=", 1)[1].decode()
    return None


def idle(system_pids: dict[str, list[int]], seconds: float, watch: System | None = None,
         databases: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """CPU (share of one core) of each group of processes over ``seconds``; the flow runs that had a process."""
    groups = {**system_pids, "PostgreSQL": postgres_pids(list(databases))}
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    held, runs = 0, set()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if watch is not None:
            processes = flow_processes(watch)
            held = max(held, len(processes))
            runs |= {r for r in map(flow_run_of, processes) if r}
        time.sleep(1)
    elapsed = time.monotonic() - started
    # Backends that started during the window are not counted (a lower bound for PostgreSQL).
    after = {name: cpu_seconds(pids) for name, pids in groups.items()}
    out: dict[str, Any] = {"cpu": {name: (after[name] - before[name]) / elapsed for name in groups},
                           "seconds": elapsed, "held": held, "runs": []}
    if watch is not None and runs:
        found = api(watch, "/flow_runs/filter", {"flow_runs": {"id": {"any_": sorted(runs)}}})
        names = {d["id"]: d["name"] for d in api(watch, "/deployments/filter", {})}
        out["runs"] = [f"{names.get(r['deployment_id'], '?')} ({r['name']}, {r['state']['name']})" for r in found]
    return out


def quiet_window(system: System, seconds: float, timeout: float = 900) -> str:
    """Wait until no flow run has a process and none is scheduled to start within ``seconds`` + 15 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if flow_processes(system):
            time.sleep(2)
            continue
        soon = api(system, "/flow_runs/filter", {
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING"]}},
                          "expected_start_time": {"before_": (datetime.now(UTC)
                                                              + timedelta(seconds=seconds + 15)).isoformat()}},
            "sort": "EXPECTED_START_TIME_ASC", "limit": 5})
        if not soon:
            return "no flow run executing or due during the window"
        time.sleep(5)
    return "NO QUIET WINDOW FOUND: flow runs executing or due during the window"


def scheduled_runs(system: System) -> dict[str, list[dict[str, Any]]]:
    """The runs of the scheduled deployments so far: state and run time each."""
    out = {}
    for name in ("lcspr-reconcile", "lcspr-deliver-outbox", "lcspr-portfolio"):
        deployment = api(system, f"/deployments/name/{name}/{name}")
        found = api(system, "/flow_runs/filter", {"deployments": {"id": {"any_": [deployment["id"]]}},
                                                  "sort": "EXPECTED_START_TIME_ASC", "limit": 50})
        out[name] = [{"state": r["state"]["name"], "seconds": r["total_run_time"],
                      "start": r["start_time"]} for r in found if r["state"]["type"] != "SCHEDULED"]
    return out


def v2_filter(after: datetime, before: datetime) -> dict[str, Any]:
    return {"operator": "and_", "expected_start_time": {"after_": after.isoformat(), "before_": before.isoformat()}}


def run_list(system: System, repeats: int, window: timedelta = timedelta(days=7)) -> dict[str, Any]:
    """The V2 UI's run list, first page, as its default "Past week" view asks for it; and the page's other calls."""
    now = datetime.now(UTC)
    flow_runs = v2_filter(now - window, now)
    page = {"page": 1, "limit": V2_PAGE_LIMIT, "sort": "START_TIME_DESC", "flow_runs": flow_runs}
    times, found = [], {}
    for _ in range(repeats):
        seconds, found = timed_api(system, "/flow_runs/paginate", page)
        times.append(seconds)
    ids = [r["id"] for r in found.get("results", [])]
    others = {
        "POST /flow_runs/paginate": ("/flow_runs/paginate", page),
        "POST /task_runs/paginate": ("/task_runs/paginate", {"page": 1, "limit": 100,
                                                             "sort": "EXPECTED_START_TIME_DESC",
                                                             "flow_runs": flow_runs}),
        "POST /ui/flow_runs/history": ("/ui/flow_runs/history", {"sort": "EXPECTED_START_TIME_DESC", "limit": 1000,
                                                                 "offset": 0, "flow_runs": flow_runs}),
        "POST /ui/flow_runs/count-task-runs": ("/ui/flow_runs/count-task-runs", {"flow_run_ids": ids}),
    }
    each = {name: median([timed_api(system, path, body)[0] for _ in range(repeats)])
            for name, (path, body) in others.items()}
    together = []
    for _ in range(repeats):
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(len(others)) as pool:
            list(pool.map(lambda pb: api(system, pb[0], pb[1]), others.values()))
        together.append(time.perf_counter() - started)
    return {"first_page": median(times), "first_page_max": max(times), "count": found.get("count"),
            "shown": len(ids), "each": each, "together": median(together)}


def cli_times(system: System, reference: str, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, args in (("lcspr --help", ("--help",)), ("lcspr list", ("list",)),
                       ("lcspr list --limit 0", ("list", "--limit", "0")),
                       ("lcspr status REFERENCE", ("status", reference)),
                       ("lcspr report portfolio", ("report", "portfolio"))):
        times = []
        for _ in range(repeats):
            seconds, result = lcspr_timed(system, *args)
            if result.returncode != 0:
                raise RuntimeError(f"{name}: exit {result.returncode}: {result.stderr[-300:]}")
            times.append(seconds)
        out[name] = {"median": median(times), "max": max(times)}
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import prefect.client.orchestration"], env=system.env, cwd=system.home,
                       check=True)
        times.append(time.perf_counter() - started)
    out[PREFECT_IMPORT] = {"median": median(times), "max": max(times)}
    return out


def in_process(system: System, reference: str, repeats: int) -> dict[str, float]:
    """The same queries inside one process, the App already built (what is left is process start and imports)."""
    from lcspr.bootstrap import bootstrap
    from lcspr.settings import Settings
    from services import artifacts, queries, reconcile

    app = bootstrap(Settings(home=system.home, database_url=system.register_database, _env_file=None,
                             api_url=system.api_url), environ={})

    def timed(call: Any) -> float:
        call()  # warm: the first call connects
        values = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            values.append(time.perf_counter() - started)
        return median(values)

    def pointers() -> Any:
        with app.uow() as uow:
            return uow.reviews.run_pointers()

    def ids() -> list[str]:
        return [p.flow_run_id for p in pointers() if p.flow_run_id]

    def unpaused() -> Any:
        with app.runs() as runs:
            return runs.unpaused(ids())

    def counts() -> Any:
        with app.runs() as runs:
            return runs.count_paused(ids())

    def observe_all() -> Any:
        with app.runs() as runs:
            return runs.observe_all(ids())

    return {
        "list: register (queries.open_reviews, the default 50)": timed(lambda: queries.open_reviews(app, limit=50)),
        "list: register (queries.open_reviews, every row)": timed(lambda: queries.open_reviews(app)),
        "run_health, step 1: every open review's run and step from the register (run_pointers)": timed(pointers),
        "run_health, step 2: how many of the runs are paused (count_paused, the ids sent 5,000 a call)": timed(counts),
        "for comparison: the runs not paused (unpaused, the ids sent 5,000 a call)": timed(unpaused),
        "list: run states (reconcile.run_health, every open review)": timed(lambda: reconcile.run_health(app)),
        "for comparison: every run read whole from Prefect (observe_all, 200 a call)": timed(observe_all),
        "status: register (queries.status)": timed(lambda: queries.status(app, reference)),
        "status: run state (reconcile.run_health, one review)": timed(lambda: reconcile.run_health(app, [reference])),
        "portfolio (artifacts.portfolio)": timed(lambda: artifacts.portfolio(app)),
    }


def server_alone(system: System, pid: int, pause_expirations: bool, idle_seconds: float,
                 settle: float) -> dict[str, Any]:
    """The server's own command and environment, started alone (no worker, no flows) on the same database."""
    env = dict(item.split("=", 1) for item in
               Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0") if "=" in item)
    argv = [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0") if a]
    return {"env": env, "argv": argv, "pause_expirations": pause_expirations, "idle_seconds": idle_seconds,
            "settle": settle}


def measure_alone(spec: dict[str, Any], home: Path) -> dict[str, Any]:
    port = free_port()
    argv = list(spec["argv"])
    argv[argv.index("--port") + 1] = str(port)
    env = {**spec["env"], "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": str(spec["pause_expirations"]).lower()}
    log = home / f"server-alone-{spec['pause_expirations']}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/health"

        def healthy() -> bool | None:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                import urllib.request

                with urllib.request.urlopen(url, timeout=5):
                    return True
            except OSError:
                return None

        wait_for("the server alone", healthy, timeout=180)
        time.sleep(spec["settle"])
        result = idle({"Prefect server": tree(process.pid)}, spec["idle_seconds"], databases=spec["databases"])
        result["rss"] = rss_bytes(tree(process.pid))
        return result
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------- the run


def answer_one(system: System, problems: list[str]) -> dict[str, Any]:
    """Answer one of the runs created suspended, as a person would, and see its run move on."""
    from datetime import date as day

    listed = system.lcspr("list", "--limit", "0")  # every open review, not the default 50
    waiting = [line.split()[0] for line in listed.stdout.splitlines()
               if " notification-1 " in line and "-C" not in line.split()[0]]
    if not waiting:
        problems.append("no review waiting on notification-1 to answer")
        return {}
    reference = waiting[0]
    run = json.loads(system.lcspr("status", reference, "--json").stdout)["flow_run_id"]
    path = system.home / "answer-notification.json"
    path.write_text(json.dumps({"decided_by": "A. Jones, Partnership Manager", "decided_on": day.today().isoformat(),
                                "outcome": "notified", "panel_reference": "NP-2026-118"}))
    started = time.perf_counter()
    result = system.lcspr("decide", reference, "notification-1", "--input", str(path), "--wait", "300", timeout=400)
    seconds = time.perf_counter() - started
    if result.returncode != 0 or "Next step: rapid-review-1" not in result.stdout:
        problems.append(f"{reference}: lcspr decide on a run created suspended: exit {result.returncode} "
                        f"{result.stdout[-300:]} {result.stderr[-300:]}")
        return {"reference": reference}

    def suspended_again() -> bool | None:
        state = api(system, f"/flow_runs/{run}").get("state") or {}
        return (state.get("type") == "PAUSED" and state["state_details"]["pause_key"] == "rapid-review-1") or None

    wait_for("the answered run to wait on rapid-review-1", suspended_again, timeout=300, every=0.5)
    wait_no_flow_process(system, 120)
    history = api(system, f"/flow_run_states/?flow_run_id={run}")
    at = {s["name"]: s["timestamp"] for s in sorted(history, key=lambda s: s["timestamp"])}
    resumed = next(s["timestamp"] for s in sorted(history, key=lambda s: s["timestamp"]) if s["name"] == "Resuming")
    tasks = api(system, "/task_runs/filter", {"flow_runs": {"id": {"any_": [run]}},
                                              "task_runs": {"start_time": {"after_": resumed}}, "limit": 100})
    by_task: dict[str, float] = {}
    for task in tasks:
        name = task["task_key"].rsplit("-", 1)[0]
        by_task[name] = by_task.get(name, 0.0) + (task["total_run_time"] or 0.0)
    return {"reference": reference, "decide_seconds": seconds,
            "resume_to_suspended": (parse_time(at["Suspended"]) - parse_time(resumed)).total_seconds(),
            "body": (parse_time(at["Suspended"]) - parse_time(at["Running"])).total_seconds(),
            "tasks": dict(sorted(by_task.items(), key=lambda kv: -kv[1]))}


def check_runs(system: System, created: dict[str, str], problems: list[str]) -> dict[str, int]:
    """Every open review's run as ``lcspr status`` judges it (``reconcile.run_health``): all "waiting"."""
    from collections import Counter

    from lcspr.bootstrap import bootstrap
    from lcspr.settings import Settings
    from services import reconcile

    app = bootstrap(Settings(home=system.home, database_url=system.register_database, _env_file=None), environ={})
    judged = reconcile.run_health(app)
    health = Counter(j.health.value for j in judged.values())
    if set(judged) != set(created) or health != {"waiting": len(created)}:
        problems.append(f"run health of the {len(judged)} open reviews: {dict(health)} ({len(created)} runs created)")
    # And one through the CLI (copies' references, e.g. LCSPR-2026-0003-C0001, are not ones it takes).
    reference = next(r for r in created if "-C" not in r)
    status = json.loads(system.lcspr("status", reference, "--json").stdout or "{}")
    if (status.get("run") or {}).get("health") != "waiting" or status.get("flow_run_id") != created[reference]:
        problems.append(f"{reference}: lcspr status says {status.get('run')} (flow run {status.get('flow_run_id')})")
    return dict(health)


def report(info: dict[str, str], r: dict[str, Any], quiet: str) -> str:
    mb = 1024 * 1024
    idle_cpu = r["idle"]["cpu"]
    lines = [
        f"Waiting reviews: {r['runs']:,} suspended review runs, Prefect's server and the register on PostgreSQL, "
        f"one worker; {machine_line(info)}; {quiet}.",
        "",
        f"Register: {r['fill']['templates']} template reviews filled through the use cases in "
        f"{r['fill']['fill_seconds']:.0f} s ({r['fill']['refused']} answers refused), copied to "
        f"{r['fill']['reviews']:,} reviews ({r['fill']['open']:,} open) in {r['fill']['copy_seconds']:.0f} s. Runs "
        f"created suspended through the API in {r['create_seconds']:.0f} s "
        f"({r['create_seconds'] / max(r['runs'], 1) * 1000:.1f} ms a run, 3 calls each, 6 at a time).",
        "",
        "| measure | goal | measured |",
        "|---|---|---|",
        f"| flow-run processes held by the worker, idle window ({r['idle']['seconds']:.0f} s, {r['window']}) | 0 | "
        f"{r['idle']['held']} |",
        f"| Prefect server memory (RSS of its process tree) | < 1 GB | {r['rss'] / mb:,.0f} MB |",
        f"| Prefect server CPU while idle | < 5 % of a core | {idle_cpu['Prefect server'] * 100:.1f} % |",
        f"| — the worker(s), polling every 2 s | | {idle_cpu['worker'] * 100:.1f} % |",
        f"| — PostgreSQL, the backends of both databases | | {idle_cpu['PostgreSQL'] * 100:.1f} % |",
    ]
    if r.get("cycle"):
        c = r["cycle"]
        lines += [
            f"| over {c['seconds']:.0f} s, the scheduled runs included: Prefect server CPU | | "
            f"{c['cpu']['Prefect server'] * 100:.1f} % |",
            f"| — the worker and the flow runs it started | | {c['cpu']['worker'] * 100:.1f} % |",
            f"| — PostgreSQL | | {c['cpu']['PostgreSQL'] * 100:.1f} % |",
            f"| — flow-run processes at once (max); the runs | | {c['held']}: {', '.join(c['runs']) or 'none'} |",
            f"| — Prefect server memory after it | | {r['rss_after_cycle'] / mb:,.0f} MB |",
        ]
    for label, ui in (("every run created this week", r["ui_worst"]), ("runs started at their referral", r["ui_real"])):
        lines.append(f"| UI run list, first page (`POST /api/flow_runs/paginate`, {ui['count']:,} runs in the past "
                     f"week: {label}) | < 2 s | {ui['first_page']:.3f} s (max {ui['first_page_max']:.3f}) |")
        lines.append(f"| — the page's 4 calls together ({', '.join(f'{k} {v:.3f} s' for k, v in ui['each'].items())}) "
                     f"| | {ui['together']:.3f} s |")
    cli = r["cli"]
    lines += [
        f"| `lcspr report portfolio` | < 2 s | {cli['lcspr report portfolio']['median']:.2f} s |",
        f"| `lcspr list` ({r['runs']:,} open reviews, the default 50 shown) | < 0.5 s | "
        f"{cli['lcspr list']['median']:.2f} s |",
        f"| `lcspr list --limit 0` (every one shown) | | {cli['lcspr list --limit 0']['median']:.2f} s |",
        f"| `lcspr status REFERENCE` | < 0.5 s | {cli['lcspr status REFERENCE']['median']:.2f} s |",
        f"| `lcspr --help` (process start + the CLI's imports) | | {cli['lcspr --help']['median']:.2f} s |",
        f"| `python -c 'import prefect.client.orchestration'` (what `list` and `status` import to ask Prefect) | | "
        f"{cli[PREFECT_IMPORT]['median']:.2f} s |",
        "",
        "| the same queries in one process (median) | seconds |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.3f} |" for name, value in r["in_process"].items()]
    a = r.get("answered") or {}
    if a.get("tasks"):
        lines += ["", f"A run created suspended ({a['reference']}) answered with `lcspr decide --wait`: recorded and "
                      f"suspended again on the next step. `lcspr decide` took {a['decide_seconds']:.1f} s; resume → "
                      f"Suspended {a['resume_to_suspended']:.1f} s, of which the flow body {a['body']:.1f} s; its "
                      "tasks: " + ", ".join(f"{k} {v:.2f} s" for k, v in a["tasks"].items()) + "."]
    if r.get("scheduled"):
        lines += ["", "Scheduled runs so far: " + "; ".join(
            f"{name}: " + ", ".join(f"{x['state']} {x['seconds']:.0f} s" for x in runs)
            for name, runs in r["scheduled"].items())]
    if r.get("baseline"):
        lines += ["", "| the server alone on the same database, idle | CPU | RSS |", "|---|---|---|"]
        for setting, b in r["baseline"].items():
            lines.append(f"| PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED={setting} | "
                         f"{b['cpu']['Prefect server'] * 100:.1f} % of a core (PostgreSQL "
                         f"{b['cpu']['PostgreSQL'] * 100:.1f} %) | {b['rss'] / mb:,.0f} MB |")
    return "\n".join(lines)


def hold(system: System, reference: str) -> None:
    """Keep the system up until Ctrl-C, with a shell line that reaches it (``--hold``)."""
    env = {k: v for k, v in system.env.items() if k.startswith(("LCSPR_", "PREFECT_"))}
    line = " ".join(f"{k}={v}" for k, v in sorted(env.items()))
    print(f"Held. In another shell (cd {system.home}):\n  {line} lcspr status {reference}\nCtrl-C ends it.",
          flush=True)
    (system.home / "hold.env").write_text("".join(f"export {k}={v}\n" for k, v in sorted(env.items())))
    try:
        while system.process.poll() is None:
            time.sleep(5)
    except KeyboardInterrupt:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--cycle-seconds", type=float, default=300,
                        help="also measure over this long, scheduled runs included (0: not)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--wait-quiet", type=float, default=30, help="minutes to wait for other runs to finish")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="CI: 200 runs, 10 s idle, no baseline")
    parser.add_argument("--hold", action="store_true",
                        help="once the runs are checked, keep the system up (printing how to reach it) until "
                             "Ctrl-C, and measure nothing: for profiling the CLI by hand against a full register")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.idle_seconds, args.no_baseline, args.repeats, args.wait_quiet = 200, 10, True, 3, 0
        args.cycle_seconds = 0
    problem = postgres_problem()
    if problem:
        print(f"waiting_reviews: {problem}: this benchmark runs Prefect's server on PostgreSQL", file=sys.stderr)
        return 1
    quiet = wait_for_quiet_machine(args.wait_quiet) if args.wait_quiet else "quick run, machine not checked"
    info = machine()
    neighbours = Neighbours().__enter__()
    problems: list[str] = []
    result: dict[str, Any] = {}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lcspr-bench-waiting-") as tmp:
        home = Path(tmp)
        with running_system(home, prefect_db="postgresql", register_db="postgresql") as system:
            print(f"System up ({time.monotonic() - began:.0f} s): {system.api_url}", flush=True)
            os.environ["PREFECT_API_URL"] = system.api_url
            os.environ["PREFECT_HOME"] = str(home / "bench-prefect")
            set_paused(system, "lcspr-reconcile", True)
            result["fill"] = fill_register(system, args.runs, args.quick)
            print(f"Register filled: {result['fill']}", flush=True)
            made = create_runs(system)
            result["runs"], result["create_seconds"] = len(made["runs"]), made["seconds"]
            print(f"{len(made['runs'])} runs created suspended in {made['seconds']:.0f} s", flush=True)
            set_paused(system, "lcspr-reconcile", False)
            if result["runs"] != args.runs:
                problems.append(f"{result['runs']} runs created, {args.runs} wanted")
            result["health"] = check_runs(system, made["runs"], problems)
            if args.hold:
                hold(system, next(r for r in made["runs"] if "-C" not in r))
                return 0
            result["answered"] = answer_one(system, problems)
            wait_no_flow_process(system, 300)
            server = server_pid(system)
            pids = {"Prefect server": tree(server), "worker": [p for w in worker_pids(system) for p in tree(w)]}
            databases = database_names(system)
            result["window"] = quiet_window(system, args.idle_seconds)
            result["idle"] = idle(pids, args.idle_seconds, system, databases)
            result["rss"] = rss_bytes(tree(server))
            if args.cycle_seconds:
                # A whole cycle of the scheduled deployments (reconcile and delivery every 5 minutes).
                result["cycle"] = idle(pids, args.cycle_seconds, system, databases)
                result["rss_after_cycle"] = rss_bytes(tree(server))
            held_by_reviews = [r for r in result["idle"]["runs"] + result.get("cycle", {}).get("runs", [])
                               if r.startswith("lcspr-review ")]
            if held_by_reviews:
                problems.append(f"review runs held a process while nobody answered: {held_by_reviews}")
            result["scheduled"] = scheduled_runs(system)
            result["ui_worst"] = run_list(system, args.repeats)
            reference = next(r for r in made["runs"] if "-C" not in r)
            result["cli"] = cli_times(system, reference, args.repeats)
            result["in_process"] = in_process(system, reference, args.repeats)
            result["in_window_after_move"] = move_runs_to_referral(system, made["referred"], made["runs"])
            result["ui_real"] = run_list(system, args.repeats)
            print("Measured on the running system.", flush=True)
            if not args.no_baseline:
                spec = server_alone(system, server, True, args.idle_seconds, 30)
                spec["databases"] = databases
                system.process.send_signal(signal.SIGINT)
                system.process.wait(timeout=120)
                result["baseline"] = {}
                for setting in (True, False):
                    spec["pause_expirations"] = setting
                    result["baseline"][str(setting).lower()] = measure_alone(spec, home)
                    print(f"Server alone, pause expirations {setting}: {result['baseline'][str(setting).lower()]}",
                          flush=True)
    neighbours.__exit__()
    quiet = f"{quiet}; {neighbours.line()}"
    result["minutes"] = (time.monotonic() - began) / 60
    text = report(info, result, quiet)
    print("\n" + text)
    return finish(args.json, {"machine": info, "result": result}, problems)


if __name__ == "__main__":
    sys.exit(main())
