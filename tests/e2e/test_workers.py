"""`lcspr up --workers 2` with Prefect's server and the register on PostgreSQL (issue 14).

One system started with ``./run --workers 2`` on fresh PostgreSQL databases (skipped when no
PostgreSQL answers): two process workers poll the pool under names of their own; reviews referred
at once are each registered once, and one walked through two steps has each decision recorded once
and each message sent once, whichever worker ran each resume (Prefect lets one worker claim a run:
the move to Pending, refused to any other). A killed worker is restarted as the only one is, while
the other keeps serving.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests import postgres
from tests.e2e.conftest import System, start_system, wait_for
from tests.e2e.test_recovery import NEXT, assert_each_message_once, decide, recorded, refer, waiting_on

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

WORKER = r"prefect worker start --pool lcspr-local"


def postgresql_or_skip() -> None:
    for variable, local in ((postgres.PREFECT, postgres.LOCAL_PREFECT), (postgres.REGISTER, postgres.LOCAL_REGISTER)):
        reason = postgres.unreachable(postgres.configured(variable) or local)
        if reason is not None:
            pytest.skip(f"{reason}: this test runs Prefect's server and the register on PostgreSQL "
                        f"(set {variable} to use another)")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    postgresql_or_skip()
    with start_system(tmp_path_factory.mktemp("lcspr-workers"), args=["--workers", "2"], postgresql=True) as running:
        running.wait_until_up()
        yield running


def workers_online(system: System) -> list[str] | None:
    found = system.api("/work_pools/lcspr-local/workers/filter", {}) or []
    names = sorted(w["name"] for w in found if w.get("status") == "ONLINE")
    return names if len(names) == 2 else None


def worker_logs(system: System) -> str:
    return "".join(log.read_text(errors="replace") for log in sorted((system.home / "logs").glob("worker-*.log")))


def submissions(system: System) -> Counter[tuple[str, str]]:
    """(worker, flow run id) for every time a worker set out to submit a run, from the workers' logs."""
    return Counter(re.findall(r"Worker '([^']+)' submitting flow run '([0-9a-f-]{36})'", worker_logs(system)))


def aborted(system: System) -> Counter[str]:
    """Flow run id for every submission the server refused (another worker had claimed the run)."""
    return Counter(re.findall(r"Aborted submission of flow run '([0-9a-f-]{36})'", worker_logs(system)))


def state_history(system: System, flow_run_id: str) -> list[str]:
    """The run's states, oldest first, as ``TYPE:name``."""
    states = system.api(f"/flow_run_states/?flow_run_id={flow_run_id}") or []
    return [f"{s['type']}:{s['name']}" for s in sorted(states, key=lambda s: s["timestamp"])]


def test_the_system_runs_on_postgresql_with_two_workers_under_names_of_their_own(system: System) -> None:
    assert system.prefect_database and system.register_database
    log = system.log()
    assert "Prefect DB:  postgresql+asyncpg://" in log and "Workers:     2 on the pool lcspr-local" in log, log
    assert len(system.children(WORKER)) == 2, log
    for name in ("worker-1", "worker-2"):
        assert (system.home / "logs" / f"{name}.log").is_file()
    names = wait_for("both workers to be online", lambda: workers_online(system), timeout=90)
    assert names[0].endswith("-worker-1") and names[1].endswith("-worker-2")
    # However many workers, the pool runs at most LCSPR_CONCURRENT_RUNS flow runs at once (Prefect's limit).
    assert (system.api("/work_pools/lcspr-local") or {}).get("concurrency_limit") == 8
    assert "2 on the pool lcspr-local, 8 runs at once at most" in log


def test_reviews_referred_at_once_are_each_registered_once_and_their_answers_recorded_once(system: System) -> None:
    reviews = [refer(system, f"POL-E2E-WORKERS-{n}") for n in range(1, 4)]
    references = [reference for reference, _ in reviews]
    assert len(set(references)) == 3

    first = references[0]
    decide(system, first, "notification")
    waiting_on(system, first, NEXT["notification"])
    decide(system, first, "rapid-review")
    waiting_on(system, first, NEXT["rapid-review"])
    for reference in references[1:]:
        decide(system, reference, "notification")
    for reference in references[1:]:
        waiting_on(system, reference, NEXT["notification"])

    assert recorded(system, first) == {"notification-1": 1, "rapid-review-1": 1}
    for reference in references[1:]:
        assert recorded(system, reference) == {"notification-1": 1}
    for reference in references:
        assert_each_message_once(system, reference)
        audit = system.lcspr("audit", reference)
        assert audit.stdout.count("review_referred") == 1, audit.stdout
    listed = system.lcspr("list")
    assert listed.returncode == 0, listed.stderr
    assert all(listed.stdout.count(reference) == 1 for reference in references), listed.stdout

    # Each start and resume of a run was claimed by one worker (its move to "Pending") and ran once: one
    # Running state after each claim, never two claims or two Running states in a row. Both workers may
    # set out to submit the same run; the server refuses every submission but the claim.
    submitted, refused = submissions(system), aborted(system)
    report: dict[str, Any] = {}
    for reference, flow_run_id in reviews:
        history = state_history(system, flow_run_id)
        steps = [state for state in history if state in ("PENDING:Pending", "RUNNING:Running")]
        assert steps and all(a != b for a, b in itertools.pairwise(steps)), (reference, history)
        claims = steps.count("PENDING:Pending")
        assert steps.count("RUNNING:Running") == claims, (reference, history)
        by_worker = {w: n for (w, run), n in submitted.items() if run == flow_run_id}
        assert sum(by_worker.values()) == claims + refused[flow_run_id], (reference, history, by_worker)
        report[reference] = {"states": history, "submitted by": by_worker, "refused": refused[flow_run_id]}
    print(json.dumps(report, indent=1))


def test_a_killed_worker_is_restarted_while_the_other_keeps_serving(system: System) -> None:
    before = sorted(system.children(WORKER))
    assert len(before) == 2
    os.kill(before[1], signal.SIGKILL)
    after = wait_for("the worker to be restarted",
                     lambda: ((found := sorted(system.children(WORKER))) != before and len(found) == 2 and found)
                     or None,
                     timeout=60, every=0.5)
    assert before[0] in after
    assert re.search(r"worker-[12] stopped unexpectedly", system.log()), system.log()
    reference, _ = refer(system, "POL-E2E-WORKERS-AFTER")
    assert recorded(system, reference) == {}


def test_the_server_log_has_no_traceback(system: System) -> None:
    log = (system.home / "logs" / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 2000:][:8000]

